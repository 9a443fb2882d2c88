package fetch

import (
	"bufio"
	"bytes"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashr-dev/hashr/pkg/records"
)

// fetchWithin runs hashr-fetch and fails the test when it has not ended
// within limit; unblock, if any, is called then to let it end.
func fetchWithin(t *testing.T, limit time.Duration, unblock func(), input string, args ...string) result {
	t.Helper()
	done := make(chan result, 1)
	go func() { done <- fetchMain(t, input, args...) }()
	select {
	case r := <-done:
		return r
	case <-time.After(limit):
		if unblock != nil {
			unblock()
		}
		r := <-done
		t.Fatalf("hashr-fetch still ran after %s (status %d once unblocked, stderr %q)", limit, r.status, r.stderr)
		return r
	}
}

// A server sending a byte now and then never trips --idle-timeout; the
// download still ends at --max-time, an error record, its .part removed.
func TestMaxTimeEndsASlowDownload(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		for range 1000 {
			w.Write([]byte{'x'})
			w.(http.Flusher).Flush()
			select {
			case <-release:
				return
			case <-r.Context().Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
	work := t.TempDir()
	start := time.Now()
	r := fetchWithin(t, 10*time.Second, nil, sourceLine(t, records.Source{ID: "slow", URI: s.URL + "/slow.bin"}),
		"--work", work, "--idle-timeout", "1s", "--max-time", "700ms")
	e := one[*records.Error](t, r)
	if r.status != 3 || !strings.Contains(e.Message, "--max-time 700ms") || !strings.Contains(e.Message, "removed the partial download") {
		t.Errorf("status %d, record %+v", r.status, e)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("took %v, want about --max-time", d)
	}
	if n := len(s.requests()); n != 1 {
		t.Errorf("%d requests: a download past --max-time is not tried again", n)
	}
	if names := dirNames(t, work); len(names) != 0 {
		t.Errorf("work holds %v", names)
	}
}

// endless sends a chunked body that never ends.
func endless(w http.ResponseWriter, r *http.Request) {
	chunk := bytes.Repeat([]byte("z"), 32<<10)
	for r.Context().Err() == nil {
		if _, err := w.Write(chunk); err != nil {
			return
		}
	}
}

// A body of unknown size (chunked, no size in the record) stops at
// --max-bytes, an error record, its .part removed, and is not retried.
func TestMaxBytesStopsAnEndlessBody(t *testing.T) {
	s := newServer(t, endless)
	work := t.TempDir()
	r := fetchWithin(t, 20*time.Second, nil, sourceLine(t, records.Source{ID: "endless", URI: s.URL + "/endless"}),
		"--work", work, "--max-bytes", "1M")
	e := one[*records.Error](t, r)
	if r.status != 3 || !strings.Contains(e.Message, "--max-bytes 1M") || !strings.Contains(e.Message, "removed the partial download") {
		t.Errorf("status %d, record %+v", r.status, e)
	}
	if n := len(s.requests()); n != 1 {
		t.Errorf("%d requests: a body over --max-bytes is not tried again", n)
	}
	if names := dirNames(t, work); len(names) != 0 {
		t.Errorf("work holds %v", names)
	}
	// A source whose size is known (from the record or the server) is
	// not held to --max-bytes: the size bounds it already.
	data := randomBytes(t, 2<<20)
	known := newServer(t, serveBytes(data))
	checkDownload(t, fetchMain(t, sourceLine(t, records.Source{URI: known.URL + "/big"}), "--work", work, "--max-bytes", "1M"), data)
}

// By default a body of unknown size may take the work file system's free
// space less --min-free, no more.
func TestMaxBytesDefaultKeepsMinFree(t *testing.T) {
	s := newServer(t, endless)
	work := t.TempDir()
	r := fetchWithin(t, 20*time.Second, nil, sourceLine(t, records.Source{ID: "endless", URI: s.URL + "/endless"}),
		"--work", work, "--min-free", "1000000T")
	e := one[*records.Error](t, r)
	if r.status != 3 || !strings.Contains(e.Message, "--min-free 1000000T") {
		t.Errorf("status %d, record %+v", r.status, e)
	}
	if names := dirNames(t, work); len(names) != 0 {
		t.Errorf("work holds %v", names)
	}
}

// Answers that no retry can change are not tried again: a redirect loop,
// a redirect to a file:// URL, a 4xx other than 408 and 429.
func TestPermanentFailuresAreNotRetried(t *testing.T) {
	for _, c := range []struct {
		name     string
		handler  http.HandlerFunc
		requests int
		message  string
	}{
		{"redirect loop", func(w http.ResponseWriter, r *http.Request) {
			next := map[string]string{"/a": "/b", "/b": "/a"}[r.URL.Path]
			http.Redirect(w, r, next, http.StatusFound)
		}, 2, "redirect loop"},
		{"redirect to file://", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
		}, 1, "file:///etc/passwd"},
		{"403", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusForbidden) }, 1, "403"},
		{"410", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "gone", http.StatusGone) }, 1, "410"},
		{"408", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "slow", http.StatusRequestTimeout) }, 3, "408"},
		{"429", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "later", http.StatusTooManyRequests) }, 3, "429"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newServer(t, c.handler)
			r := fetchMain(t, sourceLine(t, records.Source{ID: "x", URI: s.URL + "/a"}), "--work", t.TempDir(), "--retries", "2")
			e := one[*records.Error](t, r)
			if r.status != 3 || !strings.Contains(e.Message, c.message) {
				t.Errorf("status %d, record %+v", r.status, e)
			}
			if n := len(s.requests()); n != c.requests {
				t.Errorf("%d requests, want %d", n, c.requests)
			}
		})
	}
}

// A server that writes bytes on an idle keep-alive connection makes Go's
// HTTP client log "Unsolicited response received on idle HTTP channel"
// through the standard log package: that line (with the server's bytes
// in it) must not reach stderr raw.
func TestUnsolicitedResponseIsNotLoggedRaw(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	hold := make(chan struct{})
	defer close(hold)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				if _, err := http.ReadRequest(bufio.NewReader(conn)); err != nil {
					return
				}
				body := "hello"
				conn.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body +
					"\x1b]0;owned\x07\x1b[2Jhashr-fetch: error: forged\r\n"))
				<-hold
			}()
		}
	}()
	var logged bytes.Buffer
	log.SetOutput(&logged) // stands for the process's stderr
	defer log.SetOutput(os.Stderr)
	for _, args := range [][]string{nil, {"--verbose"}} {
		r := fetchMain(t, sourceLine(t, records.Source{URI: "http://" + ln.Addr().String() + "/x"}), append([]string{"--work", t.TempDir()}, args...)...)
		checkDownload(t, r, []byte("hello"))
		time.Sleep(200 * time.Millisecond) // the client logs from its own goroutine
		forged := strings.HasPrefix(r.stderr, "hashr-fetch: error: forged") || strings.Contains(r.stderr, "\nhashr-fetch: error: forged")
		if strings.Contains(logged.String(), "Unsolicited") || strings.ContainsAny(r.stderr, "\x1b\x07\r") || forged {
			t.Errorf("%v: the client's log line reached stderr raw:\nlog: %q\nstderr: %q", args, logged.String(), r.stderr)
		}
	}
}
