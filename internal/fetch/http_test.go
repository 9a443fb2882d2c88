package fetch

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/pkg/records"
)

// server is a loopback HTTP server that records what it was asked and how
// many body bytes it sent.
type server struct {
	*httptest.Server
	mu     sync.Mutex
	ranges []string // the Range header of each request, "" for none
	sent   int64
}

func newServer(t *testing.T, handler http.HandlerFunc) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.ranges = append(s.ranges, r.Header.Get("Range"))
		s.mu.Unlock()
		handler(&countingWriter{ResponseWriter: w, s: s}, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.ranges)
}

func (s *server) bodyBytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent
}

type countingWriter struct {
	http.ResponseWriter
	s *server
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.s.mu.Lock()
	c.s.sent += int64(n)
	c.s.mu.Unlock()
	return n, err
}

func (c *countingWriter) Flush() { c.ResponseWriter.(http.Flusher).Flush() }

func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// serveBytes serves data with the standard library's Range support.
func serveBytes(data []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
	}
}

// ignoreRange always answers 200 with all of data.
func ignoreRange(data []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.Write(data)
	}
}

// workFile is where a download of uri lands in work.
func workFile(t *testing.T, work, uri string) string {
	t.Helper()
	loc, err := records.Locate(uri)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(work, workName(uri, loc))
}

func checkDownload(t *testing.T, r result, data []byte) *records.Source {
	t.Helper()
	src := one[*records.Source](t, r)
	if r.status != 0 {
		t.Fatalf("status %d, stderr %s", r.status, r.stderr)
	}
	got, err := os.ReadFile(src.Local)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("downloaded %d bytes that differ from the %d served", len(got), len(data))
	}
	if want := sha256sum(t, src.Local); src.SHA256 != want {
		t.Fatalf("sha256 %s, sha256sum says %s", src.SHA256, want)
	}
	if _, err := os.Stat(src.Local + ".part"); !os.IsNotExist(err) {
		t.Fatalf("the .part file is still there after a download: %v", err)
	}
	return src
}

func TestHTTPDownloadThenReuse(t *testing.T) {
	data := randomBytes(t, 3<<20+5)
	s := newServer(t, serveBytes(data))
	work := t.TempDir()
	uri := s.URL + "/pool/main/h/hello_2.10-3_amd64.deb"
	in := sourceLine(t, records.Source{ID: "hello", URI: uri, Size: records.Int64(int64(len(data))), Extra: records.Extra{"x_note": []byte(`"kept"`)}})

	src := checkDownload(t, fetchMain(t, in, "--work", work), data)
	if !inside(src.Local, work) || !strings.HasSuffix(src.Local, "-hello_2.10-3_amd64.deb") {
		t.Errorf("local %q: want a file in %s named after the URL", src.Local, work)
	}
	if string(src.Extra["x_note"]) != `"kept"` || src.ID != "hello" || src.URI != uri {
		t.Errorf("the record lost fields: %+v", src)
	}
	// A second run finds the download done and does not ask the server.
	src2 := checkDownload(t, fetchMain(t, in, "--work", work), data)
	if src2.Local != src.Local || len(s.requests()) != 1 {
		t.Errorf("second run: local %s, %d requests in all; want the same file and 1 request", src2.Local, len(s.requests()))
	}
	if names := dirNames(t, work); len(names) != 1 {
		t.Errorf("work holds %v, want one file", names)
	}
}

func TestResume(t *testing.T) {
	data := randomBytes(t, 2<<20+11)
	s := newServer(t, serveBytes(data))
	work := t.TempDir()
	uri := s.URL + "/x.iso"
	half := len(data) / 2
	writeFile(t, workFile(t, work, uri)+".part", data[:half])

	checkDownload(t, fetchMain(t, sourceLine(t, records.Source{URI: uri}), "--work", work), data)
	if got, want := s.requests(), []string{fmt.Sprintf("bytes=%d-", half)}; !slices.Equal(got, want) {
		t.Fatalf("requests with Range %q, want %q", got, want)
	}
	if sent := s.bodyBytes(); sent != int64(len(data)-half) {
		t.Fatalf("the server sent %d bytes, want only the missing %d", sent, len(data)-half)
	}
}

// A server that does not do ranges answers 200: the part is dropped and the
// download starts again from zero.
func TestResumeIgnoredRestarts(t *testing.T) {
	data := randomBytes(t, 1<<20+7)
	s := newServer(t, ignoreRange(data))
	work := t.TempDir()
	uri := s.URL + "/x.bin"
	writeFile(t, workFile(t, work, uri)+".part", make([]byte, len(data)/2)) // wrong bytes: must not survive

	checkDownload(t, fetchMain(t, sourceLine(t, records.Source{URI: uri}), "--work", work, "--verbose"), data)
	if got := s.requests(); len(got) != 1 || got[0] == "" {
		t.Fatalf("requests %q, want one Range request", got)
	}
}

// A part that is already complete gets a 416 from a server that does ranges.
func TestResumeOfCompletePart(t *testing.T) {
	data := randomBytes(t, 100_000)
	s := newServer(t, serveBytes(data))
	work := t.TempDir()
	uri := s.URL + "/x.bin"
	writeFile(t, workFile(t, work, uri)+".part", data)

	checkDownload(t, fetchMain(t, sourceLine(t, records.Source{URI: uri}), "--work", work), data)
	// ServeContent answers 416 with a short text body, never file bytes.
	if got := s.requests(); len(got) != 1 || s.bodyBytes() >= 1000 {
		t.Fatalf("requests %q and %d body bytes, want one request answered 416", got, s.bodyBytes())
	}
}

// A server may answer a range request with fewer bytes than asked.
func TestShortRangeAnswersAreContinued(t *testing.T) {
	data := randomBytes(t, 300_000)
	const chunk = 64 << 10
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		var from int
		if _, err := fmt.Sscanf(r.Header.Get("Range"), "bytes=%d-", &from); err != nil {
			from = 0
		}
		to := min(from+chunk, len(data))
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, to-1, len(data)))
		w.Header().Set("Content-Length", strconv.Itoa(to-from))
		w.WriteHeader(http.StatusPartialContent)
		w.Write(data[from:to])
	})
	work := t.TempDir()
	uri := s.URL + "/x.bin"
	writeFile(t, workFile(t, work, uri)+".part", data[:1000])
	checkDownload(t, fetchMain(t, sourceLine(t, records.Source{URI: uri}), "--work", work), data)
	if n := len(s.requests()); n != 5 {
		t.Errorf("%d requests, want 5 of %d bytes", n, chunk)
	}
}

func TestHTTPSizeMismatch(t *testing.T) {
	data := randomBytes(t, 10_000)
	s := newServer(t, serveBytes(data))
	work := t.TempDir()
	for _, size := range []int64{9_999, 10_001} {
		uri := s.URL + "/x.bin"
		r := fetchMain(t, sourceLine(t, records.Source{ID: "x", URI: uri, Size: records.Int64(size)}), "--work", work)
		e := one[*records.Error](t, r)
		if r.status != 3 || e.URI != uri || e.Source != uri || e.ID != "x" || !strings.Contains(e.Message, "size mismatch") {
			t.Errorf("size %d: status %d, record %+v", size, r.status, e)
		}
		if names := dirNames(t, work); len(names) != 0 {
			t.Errorf("size %d: work holds %v", size, names)
		}
	}
	// Without a Content-Length the size shows only as the bytes come.
	chunked := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write(data[:5000])
		w.(http.Flusher).Flush()
		w.Write(data[5000:])
	})
	r := fetchMain(t, sourceLine(t, records.Source{URI: chunked.URL + "/y", Size: records.Int64(4096)}), "--work", work)
	if e := one[*records.Error](t, r); r.status != 3 || !strings.Contains(e.Message, "size mismatch: got 4097 bytes") {
		t.Errorf("chunked: status %d, record %+v", r.status, e)
	}
	if names := dirNames(t, work); len(names) != 0 {
		t.Errorf("chunked: work holds %v", names)
	}
}

func TestHTTPErrorStatus(t *testing.T) {
	s := newServer(t, http.NotFound)
	work := t.TempDir()
	uri := s.URL + "/missing.deb"
	r := fetchMain(t, sourceLine(t, records.Source{ID: "missing.deb", URI: uri}), "--work", work)
	e := one[*records.Error](t, r)
	if r.status != 3 || e.Stage != "fetch" || e.ID != "missing.deb" || e.URI != uri {
		t.Fatalf("status %d, record %+v", r.status, e)
	}
	for _, want := range []string{"404 Not Found", uri} {
		if !strings.Contains(e.Message, want) || !strings.Contains(r.stderr, want) {
			t.Errorf("message %q, stderr %q: want them to name %q", e.Message, r.stderr, want)
		}
	}
	if names := dirNames(t, work); len(names) != 0 {
		t.Errorf("work holds %v after a 404", names)
	}
}

// hijackAfter sends a Content-Length for all of data, then only n bytes, and
// drops the connection.
func hijackAfter(data []byte, n int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(err)
		}
		defer conn.Close()
		fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", len(data))
		buf.Write(data[:n])
		buf.Flush()
	}
}

// A transfer cut short is retried from where it stopped; one cut short
// every time is an error record once the retries are used up, and leaves
// no .part behind.
func TestTruncatedTransferRetriedThenRemoved(t *testing.T) {
	data := randomBytes(t, 1<<20)
	cut := 300_000
	truncating := newServer(t, hijackAfter(data, cut))
	work := t.TempDir()
	uri := truncating.URL + "/big.tar"
	r := fetchMain(t, sourceLine(t, records.Source{URI: uri}), "--work", work, "--retries", "1")
	e := one[*records.Error](t, r)
	if r.status != 3 || !strings.Contains(e.Message, fmt.Sprintf("ended after %d of %d bytes", cut, len(data))) ||
		!strings.Contains(e.Message, "removed the partial download") {
		t.Fatalf("status %d, record %+v", r.status, e)
	}
	if n := len(truncating.requests()); n != 2 {
		t.Errorf("%d requests, want 2 (one retry)", n)
	}
	if names := dirNames(t, work); len(names) != 0 {
		t.Fatalf("work holds %v after a download that failed for good", names)
	}
}

// Within a run, a retry resumes from the bytes the failed attempt left.
func TestRetryResumes(t *testing.T) {
	data := randomBytes(t, 1<<20)
	cut := 300_000
	var mu sync.Mutex
	first := true
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		cutThis := first
		first = false
		mu.Unlock()
		if cutThis {
			hijackAfter(data, cut)(w, r)
			return
		}
		serveBytes(data)(w, r)
	})
	work := t.TempDir()
	uri := s.URL + "/big.tar"
	checkDownload(t, fetchMain(t, sourceLine(t, records.Source{URI: uri, Size: records.Int64(int64(len(data)))}), "--work", work, "--retries", "1"), data)
	if got, want := s.requests(), []string{"", fmt.Sprintf("bytes=%d-", cut)}; !slices.Equal(got, want) {
		t.Fatalf("requests with Range %q, want %q", got, want)
	}
	// The hijacked answer bypasses the counting writer: these are the retry's.
	if sent := s.bodyBytes(); sent != int64(len(data)-cut) {
		t.Fatalf("the retry was sent %d bytes, want the missing %d", sent, len(data)-cut)
	}
}

func TestStalledServerTimesOut(t *testing.T) {
	data := randomBytes(t, 100_000)
	release := make(chan struct{})
	defer close(release)
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.Write(data[:1000])
		w.(http.Flusher).Flush()
		<-release
	})
	start := time.Now()
	r := fetchMain(t, sourceLine(t, records.Source{URI: s.URL + "/slow"}), "--work", t.TempDir(), "--idle-timeout", "300ms")
	e := one[*records.Error](t, r)
	if r.status != 3 || !strings.Contains(e.Message, "sent nothing for 300ms after 1000 bytes") {
		t.Fatalf("status %d, record %+v", r.status, e)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v to give up", d)
	}
}

func TestExistingSHA256IsVerified(t *testing.T) {
	data := randomBytes(t, 50_000)
	s := newServer(t, serveBytes(data))
	work := t.TempDir()
	uri := s.URL + "/layer.tar.gz"
	wrong := strings.Repeat("ab", 32)
	r := fetchMain(t, sourceLine(t, records.Source{URI: uri, SHA256: wrong}), "--work", work)
	e := one[*records.Error](t, r)
	if r.status != 3 || !strings.Contains(e.Message, "sha256 mismatch") || !strings.Contains(e.Message, wrong) {
		t.Fatalf("status %d, record %+v", r.status, e)
	}
	if names := dirNames(t, work); len(names) != 0 {
		t.Fatalf("the download was not deleted: work holds %v", names)
	}
	// With the right digest it is accepted.
	right := sha256Hex(data)
	src := checkDownload(t, fetchMain(t, sourceLine(t, records.Source{URI: uri, SHA256: right}), "--work", work), data)
	if src.SHA256 != right {
		t.Fatalf("sha256 %s, want %s", src.SHA256, right)
	}
}

func TestPathTraversalStaysInWork(t *testing.T) {
	data := []byte("payload\n")
	s := newServer(t, serveBytes(data))
	parent := t.TempDir()
	work := filepath.Join(parent, "work")
	for _, path := range []string{
		"/../../x", "/%2e%2e/%2e%2e/x", "/a/%2e%2e", "/%2e%2e", "/..%2f..%2fetc%2fpasswd",
		"/a%2f..%2f..%2fy", "/%00", "/.hidden", "/..", "/", "/a\\..\\..\\z", "/" + strings.Repeat("n", 300),
		"/%E2%80%AE.gpj", "/x?q=../../y#../z",
	} {
		// Raw paths reach the server as written (Go's client would clean
		// a literal ../ away): build the URL by hand.
		uri := s.URL + path
		r := fetchMain(t, sourceLine(t, records.Source{URI: uri}), "--work", work)
		src := one[*records.Source](t, r)
		if r.status != 0 || !inside(src.Local, work) {
			t.Errorf("%s: status %d, local %q not directly in %s", path, r.status, src.Local, work)
		}
		if base := filepath.Base(src.Local); strings.HasPrefix(base, ".") || len(base) > 120 {
			t.Errorf("%s: work file name %q", path, base)
		}
	}
	if names := dirNames(t, parent); !slices.Equal(names, []string{"work"}) {
		t.Fatalf("the parent of the work directory holds %v", names)
	}
}

// Two records for the same URL fetched at once do not write over each
// other: one downloads, the other waits and reuses it.
func TestSameURLInParallel(t *testing.T) {
	data := randomBytes(t, 1<<20)
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(200 * time.Millisecond) // overlap the workers
		serveBytes(data)(w, r)
	})
	work := t.TempDir()
	line := sourceLine(t, records.Source{URI: s.URL + "/same.bin"})
	r := fetchMain(t, line+line+line, "--work", work, "--workers", "3")
	recs := r.parsed(t)
	if r.status != 0 || len(recs) != 3 {
		t.Fatalf("status %d, %d records, stderr %s", r.status, len(recs), r.stderr)
	}
	for _, rec := range recs {
		if src := rec.(*records.Source); src.SHA256 != sha256Hex(data) {
			t.Fatalf("sha256 %s", src.SHA256)
		}
	}
	if n := len(s.requests()); n != 1 {
		t.Fatalf("%d downloads of one URL, want 1", n)
	}
}

// Output keeps input order whatever order the downloads finish in.
func TestParallelOutputKeepsInputOrder(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		time.Sleep(time.Duration(20-n) * 10 * time.Millisecond) // the first is the slowest
		w.Write([]byte(r.URL.Path))
	})
	var in strings.Builder
	for i := range 20 {
		in.WriteString(sourceLine(t, records.Source{ID: strconv.Itoa(i), URI: fmt.Sprintf("%s/%d", s.URL, i)}))
		fmt.Fprintf(&in, `{"type":"note","n":%d}`+"\n", i)
	}
	r := fetchMain(t, in.String(), "--work", t.TempDir(), "--workers", "8")
	if r.status != 0 {
		t.Fatalf("status %d: %s", r.status, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 40 {
		t.Fatalf("%d lines", len(lines))
	}
	for i := range 20 {
		src := records.Source{}
		rec, err := records.Unmarshal([]byte(lines[2*i]))
		if err == nil {
			src = *rec.(*records.Source)
		}
		if src.ID != strconv.Itoa(i) || src.SHA256 != sha256Hex([]byte("/"+strconv.Itoa(i))) {
			t.Fatalf("line %d is %s", 2*i+1, lines[2*i])
		}
		if want := fmt.Sprintf(`{"type":"note","n":%d}`, i); lines[2*i+1] != want {
			t.Fatalf("line %d is %s, want %s", 2*i+2, lines[2*i+1], want)
		}
	}
}

func TestCopyNeverRefusesDownloads(t *testing.T) {
	s := newServer(t, serveBytes([]byte("x")))
	work := t.TempDir()
	r := fetchMain(t, sourceLine(t, records.Source{ID: "x", URI: s.URL + "/x"}), "--work", work, "--copy", "never")
	e := one[*records.Error](t, r)
	if r.status != 3 || !strings.Contains(e.Message, "--copy never") || !strings.Contains(r.stderr, "hint: run without --copy never") {
		t.Fatalf("status %d, record %+v, stderr %s", r.status, e, r.stderr)
	}
	if len(s.requests()) != 0 || len(dirNames(t, work)) != 0 {
		t.Fatalf("--copy never still asked the server (%d requests) or wrote into work", len(s.requests()))
	}
}

// An interrupted download keeps its .part file for the next run, and the
// records finished before the interruption are written; the next run
// resumes from it and verifies the whole.
func TestInterruptKeepsPartThenResumes(t *testing.T) {
	data := randomBytes(t, 200_000)
	s, started, stalling := newStallingServer(t, data, 70_000)
	work := t.TempDir()
	slow := s.URL + "/slow"
	r := fetchInterrupted(t, started, work, s.URL+"/fast", slow, sha256Hex(data))
	if src := one[*records.Source](t, r); src.SHA256 != sha256Hex([]byte("fast")) {
		t.Fatalf("the finished record: %+v", src)
	}
	part := workFile(t, work, slow) + ".part"
	if got, err := os.ReadFile(part); err != nil || !bytes.Equal(got, data[:70_000]) {
		t.Fatalf(".part after an interrupt: %d bytes, %v", len(got), err)
	}
	if _, err := os.Stat(workFile(t, work, slow)); !os.IsNotExist(err) {
		t.Fatalf("an interrupted download is in place: %v", err)
	}

	// The next run resumes at byte 70000, asks for nothing else, and
	// checks the whole against the record's sha256.
	stalling.Store(false)
	before, sentBefore := len(s.requests()), s.bodyBytes()
	src := checkDownload(t, fetchMain(t, sourceLine(t, records.Source{URI: slow, SHA256: sha256Hex(data)}), "--work", work), data)
	if got := s.requests()[before:]; !slices.Equal(got, []string{"bytes=70000-"}) {
		t.Fatalf("the next run's requests: Range %q, want one for bytes=70000-", got)
	}
	if sent := s.bodyBytes() - sentBefore; sent != int64(len(data)-70_000) {
		t.Fatalf("the next run was sent %d bytes, want the missing %d", sent, len(data)-70_000)
	}
	if src.SHA256 != sha256Hex(data) {
		t.Fatalf("sha256 %s", src.SHA256)
	}
}

// newStallingServer serves "fast" at /fast and data elsewhere. While
// stalling is true it sends data's first sent bytes, says so on started,
// and stalls until the test ends; then it serves data whole, ranges
// included.
func newStallingServer(t *testing.T, data []byte, sent int) (s *server, started chan struct{}, stalling *atomic.Bool) {
	release := make(chan struct{})
	started = make(chan struct{}, 1)
	stalling = new(atomic.Bool)
	stalling.Store(true)
	s = newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fast" {
			w.Write([]byte("fast"))
			return
		}
		if !stalling.Load() {
			serveBytes(data)(w, r)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.Write(data[:sent])
		w.(http.Flusher).Flush()
		started <- struct{}{}
		<-release
	})
	// Registered after the server's: cleanups run last first, so the
	// stalled handler returns before the server waits for it to close.
	t.Cleanup(func() { close(release) })
	return s, started, stalling
}

// fetchInterrupted runs hashr-fetch over fast and then slow (whose sha256
// is given), and cancels it once the first record is out and slow's
// download is under way; the run must fail. It returns what it wrote.
func fetchInterrupted(t *testing.T, started <-chan struct{}, work, fast, slow, slowSHA256 string) result {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout := &signallingBuffer{written: make(chan struct{})}
	go func() {
		<-started
		<-stdout.written
		time.Sleep(100 * time.Millisecond) // let the bytes sent land in the .part file
		cancel()
	}()
	in := sourceLine(t, records.Source{URI: fast}) + sourceLine(t, records.Source{URI: slow, SHA256: slowSHA256})
	var stderr bytes.Buffer
	p := cli.New("hashr-fetch", strings.NewReader(in), stdout, &stderr)
	if err := run(ctx, p, testOptions(work)); err == nil {
		t.Fatal("an interrupted run returned no error")
	}
	return result{stdout: stdout.String(), stderr: stderr.String()}
}

// signallingBuffer closes written at its first write.
type signallingBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	written chan struct{}
}

func (b *signallingBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() == 0 {
		close(b.written)
	}
	return b.buf.Write(p)
}

func (b *signallingBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// A 206 for other bytes than asked for is not appended: the download
// starts again with a plain request.
func TestWrongContentRangeRestarts(t *testing.T) {
	data := randomBytes(t, 50_000)
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Range") != "" {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes 0-9/%d", len(data)))
			w.Header().Set("Content-Length", "10")
			w.WriteHeader(http.StatusPartialContent)
			w.Write(data[:10])
			return
		}
		serveBytes(data)(w, r)
	})
	work := t.TempDir()
	uri := s.URL + "/x.bin"
	writeFile(t, workFile(t, work, uri)+".part", data[:20_000])
	checkDownload(t, fetchMain(t, sourceLine(t, records.Source{URI: uri}), "--work", work), data)
	if got := s.requests(); !slices.Equal(got, []string{"bytes=20000-", ""}) {
		t.Fatalf("requests %q, want a range request then a plain one", got)
	}
}
