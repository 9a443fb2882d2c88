package serve

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/db"
	"github.com/hashr-dev/hashr/internal/db/pgtest"
	"github.com/hashr-dev/hashr/internal/extract"
	"github.com/hashr-dev/hashr/internal/fetch"
	"github.com/hashr-dev/hashr/internal/load"
	"github.com/hashr-dev/hashr/internal/scan"
)

// Hostile names that the page must show as text: markup, a script, an
// attribute break-out.
const (
	scriptName = "<script>alert(1)</script>.txt"
	imgName    = `"><img src=x onerror=alert(2)>.txt`
)

// manyFiles is how many files the first tree holds beside its named ones:
// more than one page of the page's source view.
const manyFiles = filesPerPage + 20

// testSet is a hash set built by the real pipeline (tar, hashr-scan,
// hashr-fetch, hashr-extract, hashr-load) from two trees: tree1.tar holds
// docs/a.txt, the hostile names and many/; tree2.tar holds docs/a.txt
// again and b.txt.
type testSet struct {
	url  string // the database
	dir  string // where the trees and tars are
	work string
}

// contentOf is each named file's bytes.
var contentOf = map[string]string{
	"docs/a.txt": "alpha\n",
	scriptName:   "script name\n",
	imgName:      "img name\n",
	"b.txt":      "beta\n",
}

// buildSet builds the set into the database at url.
func buildSet(t testing.TB, url string) *testSet {
	t.Helper()
	s := &testSet{url: url, dir: t.TempDir()}
	s.work = filepath.Join(s.dir, "work")
	trees := map[string][]string{
		"tree1": {"docs/a.txt", scriptName, imgName},
		"tree2": {"docs/a.txt", "b.txt"},
	}
	repo := filepath.Join(s.dir, "repo")
	os.MkdirAll(repo, 0o755)
	for name, files := range trees {
		root := filepath.Join(s.dir, name)
		for _, f := range files {
			writeFile(t, filepath.Join(root, f), contentOf[f])
		}
		if name == "tree1" {
			for i := range manyFiles {
				writeFile(t, filepath.Join(root, "many", fmt.Sprintf("f%03d.txt", i)), fmt.Sprintf("file %d\n", i))
			}
		}
		// A tar that is the same bytes on every run: its SHA-256 names the
		// source in answers compared byte for byte.
		tar := exec.Command("tar", "--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner",
			"-C", root, "-cf", filepath.Join(repo, name+".tar"), ".")
		if out, err := tar.CombinedOutput(); err != nil {
			t.Fatalf("tar: %v\n%s", err, out)
		}
	}
	var stream []byte
	stream = runStage(t, "hashr-scan", scan.Main, nil, "--quiet", "--repo", "tree", repo)
	stream = runStage(t, "hashr-fetch", fetch.Main, stream, "--quiet", "--work", s.work)
	stream = runStage(t, "hashr-extract", extract.Main, stream, "--quiet", "--no-sandbox", "--hash", "md5,sha1,sha256,crc32")
	runStage(t, "hashr-load", load.Main, stream, "--quiet", "--db", url)
	return s
}

func writeFile(t testing.TB, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// runStage runs one stage's Main in-process on in, and returns its stdout.
func runStage(t testing.TB, name string, main func([]string, io.Reader, io.Writer, io.Writer) int, in []byte, args ...string) []byte {
	t.Helper()
	var out, errs bytes.Buffer
	if code := main(args, bytes.NewReader(in), &out, &errs); code != 0 {
		t.Fatalf("%s %s: exit %d\n%s", name, strings.Join(args, " "), code, errs.String())
	}
	return out.Bytes()
}

// backends are the databases each test runs over: SQLite, and a
// PostgreSQL server of the test's own (skipped without one, except in CI).
func backends(t *testing.T) map[string]string {
	pg := pgtest.Start(t)
	return map[string]string{
		"sqlite":   "sqlite:" + filepath.Join(t.TempDir(), "hashr.db"),
		"postgres": pg.NewDatabase(t),
	}
}

// newTestServer serves the set at url with options o (defaults when nil),
// its access log going to logs.
func newTestServer(t testing.TB, url string, o *options, logs io.Writer) (*Server, *httptest.Server) {
	t.Helper()
	if o == nil {
		o = &options{maxBulk: 2000, bloomFPRate: 0.0001}
	}
	loc, err := db.ParseLocation(url)
	if err != nil {
		t.Fatal(err)
	}
	r, err := db.OpenReader(t.Context(), loc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	r.IncludeFailed = o.includeFailed
	r.SetMaxConns(8)
	if logs == nil {
		logs = io.Discard
	}
	s := newServer(r, o, newAccessLog(cli.New("hashr-serve", nil, nil, logs), o.logFormat == "json"))
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return s, ts
}

// get fetches path and returns the status and body.
func get(t testing.TB, ts *httptest.Server, path string) (int, string) {
	t.Helper()
	return do(t, ts, http.MethodGet, path, "")
}

func do(t testing.TB, ts *httptest.Server, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}
