package serve

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hashr-dev/hashr/internal/cli"
)

// accessLog writes a line on stderr for each request: text through the
// program's messages (escaped: paths and user agents are the client's
// bytes), or one JSON object a line with --log-format json.
type accessLog struct {
	p    *cli.Program
	json bool
	mu   *sync.Mutex
}

// accessEntry is a JSON access log line.
type accessEntry struct {
	Time      string  `json:"time"`
	Remote    string  `json:"remote"`
	Method    string  `json:"method"`
	Path      string  `json:"path"`
	Status    int     `json:"status"`
	Bytes     int64   `json:"bytes"`
	MS        float64 `json:"ms"`
	UserAgent string  `json:"user_agent,omitempty"`
	Error     string  `json:"error,omitempty"`
}

func (l accessLog) write(e accessEntry) {
	if l.json {
		line, _ := json.Marshal(e)
		l.mu.Lock()
		defer l.mu.Unlock()
		fmt.Fprintf(l.p.Stderr, "%s\n", line)
		return
	}
	if e.Error != "" {
		l.p.Errorf("%s %s %q: %s", e.Remote, e.Method, e.Path, e.Error)
		return
	}
	l.p.Infof("%s %s %q %d %dB %.1fms %q", e.Remote, e.Method, e.Path, e.Status, e.Bytes, e.MS, e.UserAgent)
}

// failure logs a request the server could not answer.
func (l accessLog) failure(r *http.Request, err error) {
	l.write(accessEntry{Time: time.Now().UTC().Format(time.RFC3339Nano), Remote: r.RemoteAddr, Method: r.Method,
		Path: r.URL.RequestURI(), Error: err.Error()})
}

// serverLog takes what net/http logs itself (a client's broken TLS or
// headers) to --verbose, escaped.
func (l accessLog) serverLog() *log.Logger {
	return log.New(serverLogWriter{l.p}, "", 0)
}

type serverLogWriter struct{ p *cli.Program }

func (w serverLogWriter) Write(b []byte) (int, error) {
	w.p.Verbosef("http server: %q", strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// recorder keeps a response's status and size for the log.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// logRequests logs each request once it is answered.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if s.opts.quietLog {
			return
		}
		s.log.write(accessEntry{Time: start.UTC().Format(time.RFC3339Nano), Remote: r.RemoteAddr, Method: r.Method,
			Path: r.URL.RequestURI(), Status: rec.status, Bytes: rec.bytes,
			MS: float64(time.Since(start).Microseconds()) / 1000, UserAgent: r.UserAgent()})
	})
}

func newAccessLog(p *cli.Program, asJSON bool) accessLog {
	return accessLog{p: p, json: asJSON, mu: &sync.Mutex{}}
}
