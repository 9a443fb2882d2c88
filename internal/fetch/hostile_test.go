package fetch

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashr-dev/hashr/internal/httpclient/httpclienttest"
	"github.com/hashr-dev/hashr/internal/regular/regulartest"
	"github.com/hashr-dev/hashr/pkg/records"
)

// fetchWithin runs hashr-fetch and fails the test when it has not ended
// within limit; unblock, if any, is called then to let it end.
func fetchWithin(t *testing.T, limit time.Duration, unblock func(), input string, args ...string) result {
	t.Helper()
	r, ended := regulartest.Within(limit, unblock, func() result { return fetchMain(t, input, args...) })
	if !ended {
		t.Fatalf("hashr-fetch still ran after %s (status %d once unblocked, stderr %q)", limit, r.status, r.stderr)
	}
	return r
}

// A server sending a byte now and then never trips --idle-timeout; the
// download still ends at --max-time, an error record, its .part removed.
func TestMaxTimeEndsASlowDownload(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		httpclienttest.Drip(w, r, "", release)
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

// fetchEndless runs hashr-fetch with args on a source whose server sends
// an endless body: the run must end with one error record saying each of
// wants, and leave nothing in a new --work. It returns the server.
func fetchEndless(t *testing.T, wants []string, args ...string) *server {
	t.Helper()
	s := newServer(t, endless)
	work := t.TempDir()
	r := fetchWithin(t, 20*time.Second, nil, sourceLine(t, records.Source{ID: "endless", URI: s.URL + "/endless"}),
		append([]string{"--work", work}, args...)...)
	e := one[*records.Error](t, r)
	for _, want := range wants {
		if r.status != 3 || !strings.Contains(e.Message, want) {
			t.Errorf("status %d, record %+v: want an error saying %q", r.status, e, want)
		}
	}
	if names := dirNames(t, work); len(names) != 0 {
		t.Errorf("work holds %v", names)
	}
	return s
}

// A body of unknown size (chunked, no size in the record) stops at
// --max-bytes, an error record, its .part removed, and is not retried.
func TestMaxBytesStopsAnEndlessBody(t *testing.T) {
	s := fetchEndless(t, []string{"--max-bytes 1M", "removed the partial download"}, "--max-bytes", "1M")
	if n := len(s.requests()); n != 1 {
		t.Errorf("%d requests: a body over --max-bytes is not tried again", n)
	}
	// A source whose size is known (from the record or the server) is
	// not held to --max-bytes: the size bounds it already.
	data := randomBytes(t, 2<<20)
	known := newServer(t, serveBytes(data))
	checkDownload(t, fetchMain(t, sourceLine(t, records.Source{URI: known.URL + "/big"}), "--work", t.TempDir(), "--max-bytes", "1M"), data)
}

// By default a body of unknown size may take the work file system's free
// space less --min-free, no more.
func TestMaxBytesDefaultKeepsMinFree(t *testing.T) {
	fetchEndless(t, []string{"--min-free 1000000T"}, "--min-free", "1000000T")
}

// permanentCase is a server's answer that no retry can change, how many
// requests a run takes to give up on it, and what its error says.
type permanentCase struct {
	name     string
	handler  http.HandlerFunc
	requests int
	message  string
}

// redirectToFile redirects to a file:// URL, which is never followed.
var redirectToFile = permanentCase{"redirect to file://", func(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
}, 1, "file:///etc/passwd"}

// Answers that no retry can change are not tried again: a redirect loop,
// a redirect to a file:// URL, a 4xx other than 408 and 429.
func TestPermanentFailuresAreNotRetried(t *testing.T) {
	for _, c := range []permanentCase{
		{"redirect loop", func(w http.ResponseWriter, r *http.Request) {
			next := map[string]string{"/a": "/b", "/b": "/a"}[r.URL.Path]
			http.Redirect(w, r, next, http.StatusFound)
		}, 2, "redirect loop"},
		redirectToFile,
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
	url := httpclienttest.JunkServer(t, "hello", "hashr-fetch")
	logged := httpclienttest.CaptureLog(t)
	for _, args := range [][]string{nil, {"--verbose"}} {
		r := fetchMain(t, sourceLine(t, records.Source{URI: url + "/x"}), append([]string{"--work", t.TempDir()}, args...)...)
		checkDownload(t, r, []byte("hello"))
		time.Sleep(200 * time.Millisecond) // the client logs from its own goroutine
		if httpclienttest.LoggedRaw(logged.String(), r.stderr, "hashr-fetch") {
			t.Errorf("%v: the client's log line reached stderr raw:\nlog: %q\nstderr: %q", args, logged.String(), r.stderr)
		}
	}
}
