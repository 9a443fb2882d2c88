package fetch

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/pkg/records"
)

// Each way a download fails for good ends as one error record for that
// source, with nothing of it left in --work (no .part, no final file, even
// when an earlier run had left a .part), while the sources around it come
// through.
func TestFailedSourceLeavesNothing(t *testing.T) {
	data := randomBytes(t, 200_000)
	release := make(chan struct{})
	defer close(release)
	for _, c := range failedSourceCases(data, release) {
		t.Run(c.name, func(t *testing.T) { checkFailedSource(t, c, data) })
	}
}

// A failedSourceCase is a way a source fails to download.
type failedSourceCase struct {
	name    string
	bad     http.HandlerFunc
	rec     func(uri string) records.Source
	stale   int    // bytes of an earlier run's .part for the bad source
	message string // in the error record
	removed bool   // the record says the .part was removed
}

// failedSourceCases are the ways the source served from data fails;
// release ends a stalled server's handler.
func failedSourceCases(data []byte, release chan struct{}) []failedSourceCase {
	return []failedSourceCase{
		{name: "403", bad: func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusForbidden) }, message: "403 Forbidden"},
		{name: "404", bad: http.NotFound, message: "404 Not Found"},
		{name: "404 with an earlier part", bad: http.NotFound, stale: 50_000, message: "404 Not Found", removed: true},
		{name: "503 always", bad: func(w http.ResponseWriter, r *http.Request) { http.Error(w, "busy", http.StatusServiceUnavailable) }, message: "503"},
		{name: "truncated always", bad: hijackAfter(data, 70_000), message: "ended after 70000 of 200000 bytes", removed: true},
		{name: "truncated with an earlier part", bad: hijackAfter(data, 70_000), stale: 100_000, message: "ended after", removed: true},
		{name: "stalled", bad: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(len(data)))
			w.Write(data[:1000])
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}, message: "sent nothing for 300ms after 1000 bytes", removed: true},
		{name: "size mismatch announced", bad: serveBytes(data),
			rec:     func(uri string) records.Source { return records.Source{ID: "bad", URI: uri, Size: records.Int64(1234)} },
			message: "size mismatch: the server says 200000 bytes"},
		{name: "oversized", bad: func(w http.ResponseWriter, r *http.Request) {
			w.Write(data[:5000]) // no Content-Length: the size shows as the bytes come
			w.(http.Flusher).Flush()
			w.Write(data[5000:])
		}, rec: func(uri string) records.Source { return records.Source{ID: "bad", URI: uri, Size: records.Int64(4096)} },
			message: "size mismatch: got 4097 bytes", removed: true},
		{name: "digest mismatch", bad: serveBytes(data),
			rec: func(uri string) records.Source {
				return records.Source{ID: "bad", URI: uri, SHA256: strings.Repeat("ab", 32)}
			},
			message: "sha256 mismatch", removed: true},
		{name: "digest mismatch with an earlier part", bad: serveBytes(data), stale: 100_000,
			rec: func(uri string) records.Source {
				return records.Source{ID: "bad", URI: uri, SHA256: strings.Repeat("ab", 32)}
			},
			message: "sha256 mismatch", removed: true},
	}
}

// checkFailedSource fetches a good source, the failing one and another
// good one: the failing one is an error record saying why, and work
// holds only the good sources' files.
func checkFailedSource(t *testing.T, c failedSourceCase, data []byte) {
	t.Helper()
	good := []byte("good bytes\n")
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/good") {
			serveBytes(good)(w, r)
			return
		}
		c.bad(w, r)
	})
	work := t.TempDir()
	badURI := s.URL + "/bad.bin"
	rec := records.Source{ID: "bad", URI: badURI}
	if c.rec != nil {
		rec = c.rec(badURI)
	}
	if c.stale > 0 {
		writeFile(t, workFile(t, work, badURI)+".part", data[:c.stale])
	}
	in := sourceLine(t, records.Source{ID: "good1", URI: s.URL + "/good1"}) + sourceLine(t, rec) +
		sourceLine(t, records.Source{ID: "good2", URI: s.URL + "/good2"})
	r := fetchMain(t, in, "--work", work, "--retries", "1", "--idle-timeout", "300ms")
	recs := r.parsed(t)
	if r.status != 3 || len(recs) != 3 {
		t.Fatalf("status %d, records:\n%s\nstderr:\n%s", r.status, r.stdout, r.stderr)
	}
	var kept []string
	for i, id := range []string{"good1", "bad", "good2"} {
		switch rec := recs[i].(type) {
		case *records.Source:
			if id == "bad" || rec.SHA256 != sha256Hex(good) {
				t.Errorf("record %d: %+v", i, rec)
			}
			kept = append(kept, filepath.Base(rec.Local))
		case *records.Error:
			if id != "bad" || !strings.Contains(rec.Message, c.message) {
				t.Errorf("record %d: %+v, want it to say %q", i, rec, c.message)
			}
			if says := strings.Contains(rec.Message, "removed the partial download"); says != c.removed {
				t.Errorf("error record %q: says it removed the .part: %v, want %v", rec.Message, says, c.removed)
			}
		}
	}
	slices.Sort(kept)
	if names := dirNames(t, work); !slices.Equal(names, kept) {
		t.Errorf("work holds %v, want only the good sources' %v", names, kept)
	}
}

// A .part an earlier run left is resumed, and the whole is still verified:
// when the resumed bytes do not verify (the source changed since), the
// download starts again from byte 0, once.
func TestResumedPartIsVerified(t *testing.T) {
	data := randomBytes(t, 300_000)
	s := newServer(t, serveBytes(data))
	work := t.TempDir()
	uri := s.URL + "/x.bin"
	stale := randomBytes(t, 100_000) // not the source's bytes
	writeFile(t, workFile(t, work, uri)+".part", stale)
	src := checkDownload(t, fetchMain(t, sourceLine(t, records.Source{URI: uri, SHA256: sha256Hex(data)}), "--work", work), data)
	if src.SHA256 != sha256Hex(data) {
		t.Fatalf("sha256 %s", src.SHA256)
	}
	if got, want := s.requests(), []string{"bytes=100000-", ""}; !slices.Equal(got, want) {
		t.Fatalf("requests with Range %q, want %q: a resume, then from byte 0", got, want)
	}

	// When the bytes from byte 0 do not verify either, the source fails and
	// neither the .part nor a final file is kept.
	uri2 := s.URL + "/y.bin"
	writeFile(t, workFile(t, work, uri2)+".part", data[:100_000])
	before := len(s.requests())
	r := fetchMain(t, sourceLine(t, records.Source{URI: uri2, SHA256: strings.Repeat("cd", 32)}), "--work", work)
	if e := one[*records.Error](t, r); r.status != 3 || !strings.Contains(e.Message, "sha256 mismatch") ||
		!strings.Contains(e.Message, "removed the partial download") {
		t.Fatalf("status %d, record %+v", r.status, e)
	}
	if got := s.requests()[before:]; !slices.Equal(got, []string{"bytes=100000-", ""}) {
		t.Fatalf("requests with Range %q", got)
	}
	for _, p := range []string{workFile(t, work, uri2), workFile(t, work, uri2) + ".part"} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s is there after a digest mismatch: %v", p, err)
		}
	}
}

// A .part larger than the source is never resumed from: with the record's
// size known it is dropped before asking; without, the server's 416 says so.
func TestOversizedPartIsDropped(t *testing.T) {
	data := randomBytes(t, 100_000)
	for _, withSize := range []bool{true, false} {
		t.Run(fmt.Sprint("record size ", withSize), func(t *testing.T) {
			s := newServer(t, serveBytes(data))
			work := t.TempDir()
			uri := s.URL + "/x.bin"
			writeFile(t, workFile(t, work, uri)+".part", append(append([]byte{}, data...), "more"...))
			rec := records.Source{URI: uri}
			want := []string{"bytes=100004-", ""}
			if withSize {
				rec.Size = records.Int64(int64(len(data)))
				want = []string{""}
			}
			checkDownload(t, fetchMain(t, sourceLine(t, rec), "--work", work), data)
			if got := s.requests(); !slices.Equal(got, want) {
				t.Fatalf("requests with Range %q, want %q", got, want)
			}
		})
	}
}
