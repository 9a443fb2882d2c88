package magic

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// The fixtures in testdata/formats were made by the tools that define each
// format (scripts/mkfixtures.sh); expected.tsv says what each one is.

type fixture struct {
	name, format, compression, origin string
}

func repoRoot(t testing.TB) string {
	_, here, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(here), "..", "..")
}

func formatsDir(t testing.TB) string { return filepath.Join(repoRoot(t), "testdata", "formats") }

func readExpected(t testing.TB) []fixture {
	f, err := os.Open(filepath.Join(formatsDir(t), "expected.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var fixtures []fixture
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) != 4 {
			t.Fatalf("expected.tsv: %q: want 4 tab-separated columns", line)
		}
		for i := 1; i < 3; i++ {
			if cols[i] == "-" {
				cols[i] = ""
			}
		}
		fixtures = append(fixtures, fixture{cols[0], cols[1], cols[2], cols[3]})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return fixtures
}

// buildTestTimeFixtures runs scripts/mkfixtures.sh for the fixtures too big
// to commit, into a temporary directory.
func buildTestTimeFixtures(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: not building the test-time fixtures (a 300 MiB sparse XFS image among them)")
	}
	dir := t.TempDir()
	cmd := exec.Command("bash", filepath.Join(repoRoot(t), "scripts", "mkfixtures.sh"), "--out", dir, "bigdisks", "vhdx")
	out, err := cmd.CombinedOutput()
	if err != nil {
		if bytes.Contains(out, []byte("is not installed")) && os.Getenv("CI") == "" {
			t.Skipf("mkfixtures.sh: %s", out)
		}
		t.Fatalf("mkfixtures.sh: %v\n%s", err, out)
	}
	return dir
}

func detectFile(t *testing.T, path string) Result {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	res, err := Detect(f, fi.Size())
	if err != nil {
		t.Fatalf("Detect(%s): %v", path, err)
	}
	return res
}

func TestDetectCommittedFixtures(t *testing.T) {
	dir := formatsDir(t)
	listed := map[string]bool{}
	for _, fx := range readExpected(t) {
		if fx.origin != "committed" {
			continue
		}
		listed[fx.name] = true
		t.Run(fx.name, func(t *testing.T) {
			path := filepath.Join(dir, fx.name)
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.IsDir() {
				ok, err := IsOCILayoutDir(path)
				if err != nil || ok != (fx.format == OCI) {
					t.Errorf("IsOCILayoutDir = %v, %v; want %v", ok, err, fx.format == OCI)
				}
				return
			}
			want := Result{Format: fx.format, Compression: fx.compression}
			if fx.format == "" {
				want = Result{}
			}
			if got := detectFile(t, path); got != want {
				t.Errorf("Detect = %v, want %v", got, want)
			}
		})
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !listed[e.Name()] {
			t.Errorf("%s is not listed in expected.tsv", e.Name())
		}
	}
}

func TestDetectTestTimeFixtures(t *testing.T) {
	dir := buildTestTimeFixtures(t)
	for _, fx := range readExpected(t) {
		if fx.origin != "testtime" {
			continue
		}
		want := Result{Format: fx.format, Compression: fx.compression}
		if got := detectFile(t, filepath.Join(dir, fx.name)); got != want {
			t.Errorf("%s: Detect = %v, want %v", fx.name, got, want)
		}
	}
}

// Every format has a fixture made by a real tool.
func TestEveryFormatHasAFixture(t *testing.T) {
	have := map[string]bool{}
	for _, fx := range readExpected(t) {
		have[fx.format] = true
	}
	for _, f := range Formats() {
		if !have[f] {
			t.Errorf("no fixture of format %s in expected.tsv", f)
		}
	}
}
