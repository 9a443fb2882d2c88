package load

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashr-dev/hashr/internal/db/pgtest"
	"github.com/hashr-dev/hashr/pkg/records"
)

// TestMain lets tests run hashr-load as a child process they can kill:
// the test binary is hashr-load when HASHR_LOAD_CHILD is set.
func TestMain(m *testing.M) {
	if os.Getenv("HASHR_LOAD_CHILD") == "1" {
		os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// testSource is a source for a generated stream, with what the database
// must hold after loading it.
type testSource struct {
	id     string
	sha256 string
	quick  string
	files  []testFile
	errors []string // messages of error records that come with it
}

type testFile struct {
	path    string
	content string
}

func hexSum(data string) (sha256Hex, sha1Hex, md5Hex string) {
	a, b, c := sha256.Sum256([]byte(data)), sha1.Sum([]byte(data)), md5.Sum([]byte(data))
	return hex.EncodeToString(a[:]), hex.EncodeToString(b[:]), hex.EncodeToString(c[:])
}

// makeSources generates n sources of about perSource files each; a share
// of the file contents is common to many sources, as libraries and
// licenses are in real packages.
func makeSources(seed uint64, n, perSource int) []testSource {
	r := rand.New(rand.NewPCG(seed, 1))
	var out []testSource
	for i := range n {
		id := fmt.Sprintf("pkg%03d_1.%d_amd64.deb", i, r.IntN(9))
		s := testSource{id: id}
		s.sha256, _, _ = hexSum("source bytes of " + id)
		s.quick, _, _ = hexSum("quick " + id)
		for j := range perSource/2 + r.IntN(perSource) {
			content := fmt.Sprintf("unique %d/%d", i, j)
			if r.IntN(3) == 0 {
				content = fmt.Sprintf("common %d", r.IntN(50))
			}
			s.files = append(s.files, testFile{path: fmt.Sprintf("usr/share/pkg%d/f%03d", i, j), content: content})
		}
		if i%7 == 3 {
			s.errors = append(s.errors, fmt.Sprintf("member %d is truncated", i))
		}
		out = append(out, s)
	}
	return out
}

// ndjson writes the records a pipeline would hand hashr-load for sources.
func ndjson(t testing.TB, sources []testSource) []byte {
	var buf bytes.Buffer
	w := records.NewWriter(&buf)
	for _, s := range sources {
		src := &records.Source{Repo: "deb", RepoPath: "/mirror", ID: s.id, URI: "/mirror/" + s.id, Format: "deb",
			Size: records.Int64(1000), Mtime: "2024-05-01T10:00:00Z", QuickSHA256: s.quick, SHA256: s.sha256}
		w.Write(src)
		var bytesTotal int64
		for _, f := range s.files {
			s256, s1, m5 := hexSum(f.content)
			bytesTotal += int64(len(f.content))
			w.Write(&records.File{Source: s.sha256, Path: f.path, Size: records.Int64(int64(len(f.content))), Mode: "0644",
				MD5: m5, SHA1: s1, SHA256: s256, MIME: "text/plain", Seen: records.Bool(false)})
		}
		for _, e := range s.errors {
			w.Write(&records.Error{Stage: "extract", Source: s.sha256, Path: "x", Message: e})
		}
		w.Write(&records.End{Source: s.sha256, Files: int64(len(s.files)), Errors: int64(len(s.errors)), Bytes: bytesTotal,
			MS: map[string]int64{"extract": 5, "hash": 2}})
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// expected is what a database must hold after loading sources: computed
// from the test's own data, not from hashr's output.
type expected struct {
	sources, samples, links, paths, done, partial, failed int64
}

func expect(sources []testSource) expected {
	var e expected
	samples := map[string]bool{}
	links := map[string]bool{}
	paths := map[string]bool{}
	seenSource := map[string]bool{}
	for _, s := range sources {
		if !seenSource[s.sha256] {
			seenSource[s.sha256] = true
			e.sources++
		}
		if len(s.errors) > 0 {
			e.partial++ // its errors concern one member each
		} else {
			e.done++
		}
		for _, f := range s.files {
			h, _, _ := hexSum(f.content)
			samples[h] = true
			links[h+s.sha256] = true
			paths[h+s.sha256+f.path] = true
		}
	}
	e.samples, e.links, e.paths = int64(len(samples)), int64(len(links)), int64(len(paths))
	return e
}

type backend struct{ name, url string }

func sqliteURL(t testing.TB) string { return "sqlite:" + filepath.Join(t.TempDir(), "hashr.db") }

func backends(t *testing.T) (*pgtest.Server, []backend) {
	pg := pgtest.Start(t)
	return pg, []backend{{"sqlite", sqliteURL(t)}, {"postgres", pg.NewDatabase(t)}}
}

// runLoad runs hashr-load in-process on input.
func runLoad(t testing.TB, input []byte, args ...string) (status int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	status = Main(args, bytes.NewReader(input), &out, &errOut)
	return status, out.String(), errOut.String()
}
