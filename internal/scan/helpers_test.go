package scan

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/pkg/records"
)

func repoRoot() string {
	_, here, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(here), "..", "..")
}

func formatsDir() string { return filepath.Join(repoRoot(), "testdata", "formats") }

// fixture is a line of testdata/formats/expected.tsv.
type fixture struct{ name, format, origin string }

func readExpected(t *testing.T) []fixture {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(formatsDir(), "expected.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	var fixtures []fixture
	for line := range strings.SplitSeq(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) != 4 {
			t.Fatalf("expected.tsv: %q: want 4 columns", line)
		}
		format := cols[1]
		if format == "-" {
			format = ""
		}
		fixtures = append(fixtures, fixture{cols[0], format, cols[3]})
	}
	return fixtures
}

// buildTestTimeFixtures makes the fixtures too big to commit.
func buildTestTimeFixtures(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: not building the test-time fixtures")
	}
	dir := t.TempDir()
	out, err := exec.Command("bash", filepath.Join(repoRoot(), "scripts", "mkfixtures.sh"),
		"--out", dir, "bigdisks", "vhdx").CombinedOutput()
	if err != nil {
		if bytes.Contains(out, []byte("is not installed")) && os.Getenv("CI") == "" {
			t.Skipf("mkfixtures.sh: %s", out)
		}
		t.Fatalf("mkfixtures.sh: %v\n%s", err, out)
	}
	return dir
}

// result is one run of hashr-scan in-process.
type result struct {
	code    int
	sources []*records.Source
	errors  []*records.Error
	plan    *records.Plan
	stderr  string
	// refused are the sources that failed verification, each followed by
	// its error record (in errors) and its end record; not in sources.
	refused []*records.Source
}

func (r result) byURI() map[string]*records.Source {
	m := map[string]*records.Source{}
	for _, s := range r.sources {
		m[s.URI] = s
	}
	return m
}

func scan(t *testing.T, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Main(args, strings.NewReader(""), &stdout, &stderr)
	res := result{code: code, stderr: stderr.String()}
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		rec, err := records.Unmarshal(sc.Bytes())
		if err != nil {
			t.Fatalf("hashr-scan wrote a bad record: %v\n%s", err, sc.Bytes())
		}
		switch r := rec.(type) {
		case *records.Plan:
			if res.plan != nil || len(res.sources)+len(res.errors) > 0 {
				t.Fatalf("hashr-scan wrote a plan record after another record: %s", sc.Bytes())
			}
			res.plan = r
		case *records.Source:
			if err := r.Validate(); err != nil {
				t.Errorf("invalid source record %s: %v", sc.Bytes(), err)
			}
			if r.Refused {
				res.refused = append(res.refused, r)
				res.errors = append(res.errors, checkRefusal(t, sc, r))
				continue
			}
			res.sources = append(res.sources, r)
		case *records.Error:
			res.errors = append(res.errors, r)
		default:
			t.Fatalf("hashr-scan wrote a %s record", rec.RecordType())
		}
	}
	checkPlan(t, res)
	return res
}

// checkRefusal reads the records that must follow a refused source: an
// error record of the whole source, then its end record with that one
// error, both naming the source as its sha256 (or, without one, uri).
// It returns the error record.
func checkRefusal(t *testing.T, sc *bufio.Scanner, src *records.Source) *records.Error {
	t.Helper()
	key := src.SHA256
	if key == "" {
		key = src.URI
	}
	if v := src.Verified; v == nil || v.OK || v.By == "" || v.Detail == "" {
		t.Errorf("refused source %s: verified %+v, want ok false, by and detail", src.URI, v)
	}
	var next [2]records.Record
	for i := range next {
		if !sc.Scan() {
			t.Fatalf("refused source %s: the stream ends before its error and end records", src.URI)
		}
		rec, err := records.Unmarshal(sc.Bytes())
		if err != nil {
			t.Fatalf("hashr-scan wrote a bad record: %v\n%s", err, sc.Bytes())
		}
		next[i] = rec
	}
	e, isErr := next[0].(*records.Error)
	end, isEnd := next[1].(*records.End)
	if !isErr || !isEnd || e.Source != key || e.Path != "" || e.Message != src.Verified.Detail || end.Source != key || end.Errors != 1 || end.Files != 0 {
		t.Errorf("refused source %s followed by %+v and %+v; want its error record and its end record", src.URI, next[0], next[1])
	}
	return e
}

// checkPlan checks that a finished scan's plan record announced the
// sources that followed it: their number and total size.
func checkPlan(t *testing.T, res result) {
	t.Helper()
	if res.code != 0 && res.code != 3 {
		return // an unfinished run's plan counts what was found
	}
	if res.plan == nil {
		t.Fatalf("hashr-scan wrote no plan record before its sources")
	}
	var want records.Plan
	for _, s := range append(res.sources, res.refused...) {
		want.Sources++
		if s.Size != nil {
			want.Bytes += *s.Size
		}
	}
	if res.plan.Sources != want.Sources || res.plan.Bytes != want.Bytes {
		t.Errorf("plan record says %d sources, %d bytes; %d sources of %d bytes followed", res.plan.Sources, res.plan.Bytes, want.Sources, want.Bytes)
	}
}

// sha256sum is the ground truth for quick_sha256 below 20 MiB.
func sha256sum(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command("sha256sum", path).Output()
	if err != nil {
		t.Fatalf("sha256sum %s: %v", path, err)
	}
	return strings.Fields(string(out))[0]
}

// headTailSHA256 is the ground truth for quick_sha256 from 20 MiB on: the
// first and the last 10 MiB through sha256sum.
func headTailSHA256(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command("sh", "-c", `(head -c 10485760 "$1"; tail -c 10485760 "$1") | sha256sum`, "sh", path).Output()
	if err != nil {
		t.Fatalf("head/tail | sha256sum %s: %v", path, err)
	}
	return strings.Fields(string(out))[0]
}

func expectedQuick(t *testing.T, path string) string {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() < 20*1024*1024 {
		return sha256sum(t, path)
	}
	return headTailSHA256(t, path)
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
