// Package objstoretest runs the remote sources hashr reads as local fakes
// on loopback, for tests: an S3 API (gofakes3), a Cloud Storage JSON API
// (a small fake of its own), and an OCI registry (go-containerregistry's
// pkg/registry), each behind Faults, which makes them fail on demand:
// answer with an error status, stall, cut a body short or corrupt it.
package objstoretest

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Fault is one way to fail the requests whose path contains Match.
type Fault struct {
	Match string
	// Status answers with this status instead (403, 404, 503…).
	Status int
	// Delay holds the answer back this long (a slow server).
	Delay time.Duration
	// Truncate cuts the body after half its bytes and drops the connection.
	Truncate bool
	// Corrupt flips a bit of the body's first byte.
	Corrupt bool
	// Stall sends half the body, then nothing until the client goes away
	// (a download under way when a run is interrupted).
	Stall bool
	// Times is how many requests fail; 0 means every one.
	Times int
	// OnlyGET leaves HEAD requests alone.
	OnlyGET bool
}

// Faults is a set of faults a fake applies, safe for concurrent use.
type Faults struct {
	mu       sync.Mutex
	faults   []*Fault
	hits     map[*Fault]int
	requests []Request
}

// Request is one request a fake was sent, as Requests lists them.
type Request struct {
	Method, Path string
	Range        string // the Range header, "" for none
}

// Requests lists the requests sent so far, oldest first (Clear does not
// forget them).
func (fs *Faults) Requests() []Request {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return slices.Clone(fs.requests)
}

// Add makes requests fail as f says, until Clear.
func (fs *Faults) Add(f Fault) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.faults = append(fs.faults, &f)
}

// Clear removes every fault.
func (fs *Faults) Clear() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.faults, fs.hits = nil, nil
}

func (fs *Faults) pick(r *http.Request) *Fault {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.requests = append(fs.requests, Request{Method: r.Method, Path: r.URL.Path, Range: r.Header.Get("Range")})
	for _, f := range fs.faults {
		if !strings.Contains(r.URL.Path, f.Match) || (f.OnlyGET && r.Method != http.MethodGet) {
			continue
		}
		if fs.hits == nil {
			fs.hits = map[*Fault]int{}
		}
		if f.Times > 0 && fs.hits[f] >= f.Times {
			continue
		}
		fs.hits[f]++
		return f
	}
	return nil
}

// Wrap applies the faults in front of h.
func (fs *Faults) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := fs.pick(r)
		if f == nil {
			h.ServeHTTP(w, r)
			return
		}
		if f.Delay > 0 {
			select {
			case <-time.After(f.Delay):
			case <-r.Context().Done():
				return
			}
		}
		if f.Status != 0 {
			http.Error(w, http.StatusText(f.Status), f.Status)
			return
		}
		if f.Truncate || f.Corrupt || f.Stall {
			w = &faultyWriter{ResponseWriter: w, truncate: f.Truncate || f.Stall, stall: f.Stall,
				corrupt: f.Corrupt, gone: r.Context().Done()}
		}
		h.ServeHTTP(w, r)
	})
}

// faultyWriter damages a response body.
type faultyWriter struct {
	http.ResponseWriter
	truncate, corrupt bool
	stall             bool            // at the cut, wait for the client to go instead of hanging up
	gone              <-chan struct{} // closed when the client has gone
	limit, written    int64
	started           bool
}

func (fw *faultyWriter) WriteHeader(code int) {
	if !fw.started {
		fw.started = true
		fw.limit = -1
		if n := fw.Header().Get("Content-Length"); n != "" && fw.truncate {
			var size int64
			for _, c := range n {
				size = size*10 + int64(c-'0')
			}
			fw.limit = size / 2
		}
	}
	fw.ResponseWriter.WriteHeader(code)
}

func (fw *faultyWriter) Write(p []byte) (int, error) {
	if !fw.started {
		fw.WriteHeader(http.StatusOK)
	}
	if fw.corrupt && fw.written == 0 && len(p) > 0 {
		p = bytes.Clone(p)
		p[0] ^= 1
	}
	if fw.truncate && fw.limit >= 0 && fw.written+int64(len(p)) > fw.limit {
		n, _ := fw.ResponseWriter.Write(p[:fw.limit-fw.written])
		fw.written += int64(n)
		if fl, ok := fw.ResponseWriter.(http.Flusher); ok {
			fl.Flush()
		}
		if fw.stall {
			<-fw.gone
		}
		panic(http.ErrAbortHandler) // drops the connection mid-body
	}
	n, err := fw.ResponseWriter.Write(p)
	fw.written += int64(n)
	return n, err
}

// Server is a fake on loopback.
type Server struct {
	*httptest.Server
	Faults *Faults
}

func serve(t testing.TB, h http.Handler, tls bool) *Server {
	f := &Faults{}
	var s *httptest.Server
	if tls {
		s = httptest.NewTLSServer(f.Wrap(h))
	} else {
		s = httptest.NewServer(f.Wrap(h))
	}
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	t.Cleanup(s.Close)
	return &Server{Server: s, Faults: f}
}

// S3 serves the objects (key -> bytes) in bucket over the S3 API.
func S3(t testing.TB, bucket string, objects map[string][]byte) *Server {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	for key, body := range objects {
		if _, err := backend.PutObject(bucket, key, map[string]string{}, bytes.NewReader(body), int64(len(body)), nil); err != nil {
			t.Fatal(err)
		}
	}
	return serve(t, gofakes3.New(backend, gofakes3.WithLogger(gofakes3.DiscardLog())).Server(), false)
}

// GCS serves the objects in bucket over the parts of the Cloud Storage
// JSON API hashr uses: listing (with pages of two) and media downloads
// (with Range and x-goog-hash).
func GCS(t testing.TB, bucket string, objects map[string][]byte) *Server {
	t.Helper()
	modified := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	listPrefix := "/storage/v1/b/" + bucket + "/o"
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case p == listPrefix:
			prefix := r.URL.Query().Get("prefix")
			var names []string
			for name := range objects {
				if strings.HasPrefix(name, prefix) {
					names = append(names, name)
				}
			}
			slices.Sort(names)
			start := 0
			if tok := r.URL.Query().Get("pageToken"); tok != "" {
				start = slices.Index(names, tok)
			}
			end := min(start+2, len(names))
			page := map[string]any{}
			var items []map[string]any
			for _, name := range names[max(start, 0):end] {
				sum := md5.Sum(objects[name])
				items = append(items, map[string]any{"name": name, "size": itoa(len(objects[name])),
					"md5Hash": base64.StdEncoding.EncodeToString(sum[:]), "updated": modified, "etag": "CAE="})
			}
			page["items"] = items
			if end < len(names) {
				page["nextPageToken"] = names[end]
			}
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(page)
		case strings.HasPrefix(p, listPrefix+"/") && r.URL.Query().Get("alt") == "media":
			name, _ := url.PathUnescape(strings.TrimPrefix(r.URL.EscapedPath(), listPrefix+"/"))
			body, ok := objects[name]
			if !ok {
				w.WriteHeader(http.StatusNotFound)
				io.WriteString(w, `{"error":{"code":404,"message":"No such object: `+bucket+`/`+name+`"}}`)
				return
			}
			sum := md5.Sum(body)
			w.Header().Set("X-Goog-Hash", "crc32c=AAAAAA==,md5="+base64.StdEncoding.EncodeToString(sum[:]))
			w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:])+`"`)
			http.ServeContent(w, r, "", modified, bytes.NewReader(body))
		default:
			http.NotFound(w, r)
		}
	})
	return serve(t, h, false)
}

// Registry is an in-process OCI registry.
func Registry(t testing.TB) *Server {
	t.Helper()
	return serve(t, registry.New(registry.Logger(log.New(io.Discard, "", 0))), false)
}

// Files serves files (path -> bytes) over HTTPS (with Range, ETag and
// Last-Modified), or plain HTTP when tls is false.
func Files(t testing.TB, files map[string][]byte, tls bool) *Server {
	t.Helper()
	modified := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	return serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		http.ServeContent(w, r, "", modified, bytes.NewReader(body))
	}), tls)
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
