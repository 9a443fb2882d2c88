// Package httpclienttest holds the loopback servers that misbehave, for
// the tests of the stages that talk to servers through internal/httpclient
// (hashr-fetch, hashr-scan): one that counts requests and can be stopped
// so that a run found hung ends, a body dripped a byte at a time, a
// registry's ping, and a raw server that writes past its answer.
package httpclienttest

import (
	"bufio"
	"bytes"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Hostile answers every request with a test's handler, counting them by
// path. Once stopped, a request is a 404 at once and a handler waiting on
// Released returns, so that a run the test found hung can end.
type Hostile struct {
	*httptest.Server
	mu       sync.Mutex
	requests map[string]int // by path
	stopped  atomic.Bool
	released chan struct{}
	once     sync.Once
}

// NewHostile starts a Hostile server over handler, closed (and stopped
// first) when the test ends.
func NewHostile(t testing.TB, handler http.HandlerFunc) *Hostile {
	t.Helper()
	h := &Hostile{requests: map[string]int{}, released: make(chan struct{})}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.stopped.Load() {
			http.NotFound(w, r)
			return
		}
		h.mu.Lock()
		h.requests[r.URL.Path]++
		h.mu.Unlock()
		handler(w, r)
	}))
	h.Config.ErrorLog = log.New(io.Discard, "", 0)
	t.Cleanup(h.Close)
	t.Cleanup(h.Stop) // runs before Close, which waits for the handlers
	return h
}

// Stop makes every later request a 404 and releases the handlers waiting.
func (h *Hostile) Stop() {
	h.stopped.Store(true)
	h.once.Do(func() { close(h.released) })
}

// Released is closed once the server is stopped.
func (h *Hostile) Released() <-chan struct{} { return h.released }

// Count is how many requests asked for path.
func (h *Hostile) Count(path string) int {
	return h.CountMatching(func(p string) bool { return p == path })
}

// CountMatching is how many requests asked for a path that match takes.
func (h *Hostile) CountMatching(match func(path string) bool) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for p, c := range h.requests {
		if match(p) {
			n += c
		}
	}
	return n
}

// ResetCounts forgets the requests so far, those of a test's setup.
func (h *Hostile) ResetCounts() {
	h.mu.Lock()
	defer h.mu.Unlock()
	clear(h.requests)
}

// Drip sends a byte of a long body every 50ms, which never trips a
// timeout between bytes, until the client or the test gives up.
func (h *Hostile) Drip(w http.ResponseWriter, r *http.Request, contentType string) {
	Drip(w, r, contentType, h.released)
}

// Drip sends a byte of a long body every 50ms until the client goes or
// released is closed.
func Drip(w http.ResponseWriter, r *http.Request, contentType string, released <-chan struct{}) {
	if contentType != "" {
		w.Header().Set("Content-Type", contentType)
	}
	w.Header().Set("Content-Length", "100000")
	for {
		w.Write([]byte{' '})
		w.(http.Flusher).Flush()
		select {
		case <-released:
			return
		case <-r.Context().Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Registry answers a registry's ping (GET /v2/), and hands every other
// request to serve.
func Registry(serve http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			w.WriteHeader(http.StatusOK)
			return
		}
		serve(w, r)
	}
}

// Junk is what JunkServer writes past its answer: terminal escapes, and a
// line forged to look like program's own error message.
func Junk(program string) string {
	return "\x1b]0;owned\x07\x1b[2J" + program + ": error: forged\r\n"
}

// JunkServer is a raw loopback server that answers each connection's one
// request with body, and after it, in the same write, Junk(program): the
// client, done with the answer, finds the rest on a connection it holds
// idle, and Go's client logs "Unsolicited response received on idle HTTP
// channel" with those bytes in it. It returns the server's http:// URL;
// it holds each connection open until the test ends.
func JunkServer(t testing.TB, body, program string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	hold := make(chan struct{})
	t.Cleanup(func() { close(hold) }) // runs first, as cleanups go last-in first-out
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go answerWithJunk(conn, hold, body, Junk(program))
		}
	}()
	return "http://" + ln.Addr().String()
}

func answerWithJunk(conn net.Conn, hold <-chan struct{}, body, junk string) {
	defer conn.Close()
	req, err := http.ReadRequest(bufio.NewReader(conn))
	if err != nil {
		return
	}
	head := "HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"
	if req.Method != http.MethodHead {
		head += body
	}
	conn.Write([]byte(head + junk))
	<-hold
}

// CaptureLog sends the standard log package's lines, which stand for the
// process's stderr, to the buffer it returns until the test ends.
func CaptureLog(t testing.TB) *bytes.Buffer {
	var logged bytes.Buffer
	log.SetOutput(&logged)
	t.Cleanup(func() { log.SetOutput(os.Stderr) })
	return &logged
}

// LoggedRaw says whether the client's log line about JunkServer's bytes
// reached the log or stderr raw: unescaped control bytes, or program's
// forged error message at the start of a line.
func LoggedRaw(logged, stderr, program string) bool {
	forged := program + ": error: forged"
	return strings.Contains(logged, "Unsolicited") || strings.ContainsAny(stderr, "\x1b\x07\r") ||
		strings.HasPrefix(stderr, forged) || strings.Contains(stderr, "\n"+forged)
}
