package extract

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/archive/archivetest"
	"github.com/hashr-dev/hashr/pkg/records"
)

// runOutput is what one run of hashr-extract wrote, decoded.
type runOutput struct {
	status  int
	stderr  string
	records []records.Record
	lines   []string
}

// extract runs hashr-extract in-process on the given input.
func extract(t *testing.T, input string, args ...string) *runOutput {
	t.Helper()
	var stdout, stderr bytes.Buffer
	// A spool of the test's own (a --spool in args comes later and wins):
	// the default one, under the user's cache directory, would hold what
	// other runs left there.
	args = append([]string{"--spool", t.TempDir()}, args...)
	status := Main(args, strings.NewReader(input), &stdout, &stderr)
	o := &runOutput{status: status, stderr: stderr.String()}
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		if line == "" {
			continue
		}
		rec, err := records.Unmarshal([]byte(line))
		if err != nil && !strings.Contains(err.Error(), "unknown record type") {
			t.Fatalf("output line %q: %v", line, err)
		}
		o.records = append(o.records, rec)
		o.lines = append(o.lines, line)
	}
	return o
}

// sourceLine is a source record for a file, as hashr-scan writes one.
func sourceLine(path string) string {
	abs, _ := filepath.Abs(path)
	b, _ := json.Marshal(map[string]string{"type": "source", "uri": abs, "id": filepath.Base(path)})
	return string(b) + "\n"
}

func fixture(t testing.TB, name string) string { return archivetest.Fixture(t, name) }

func hostile(t *testing.T, name string) string {
	return filepath.Join(archivetest.Dir(t), "hostile", name)
}

// files maps each file record's path to the record.
func (o *runOutput) files() map[string]*records.File {
	m := map[string]*records.File{}
	for _, r := range o.records {
		if f, ok := r.(*records.File); ok {
			m[f.Path] = f
		}
	}
	return m
}

// sums maps each file record's path to its sha256, from the record or,
// in spool mode, from the spooled bytes.
func (o *runOutput) sums(t *testing.T) map[string]string {
	t.Helper()
	m := map[string]string{}
	for p, f := range o.files() {
		if f.Local != "" {
			m[p] = fileSHA256(t, f.Local)
			continue
		}
		m[p] = f.SHA256
	}
	return m
}

func (o *runOutput) errors() []*records.Error { return recordsOf[*records.Error](o) }

func (o *runOutput) ends() []*records.End { return recordsOf[*records.End](o) }

// recordsOf is o's records of the type T, in order.
func recordsOf[T records.Record](o *runOutput) []T {
	var out []T
	for _, r := range o.records {
		if rec, ok := r.(T); ok {
			out = append(out, rec)
		}
	}
	return out
}

// errorPaths maps the path of each member error to its message; a source
// error is under "".
func (o *runOutput) errorPaths() map[string]string {
	m := map[string]string{}
	for _, e := range o.errors() {
		m[e.Path] = e.Message
	}
	return m
}

func fileSHA256(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatalf("reading spooled file: %v", err)
	}
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}

// treeSums is what every fixture of the tree holds.
func treeSums(t *testing.T) map[string]string { return archivetest.Tree(t) }

func equalSums(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	archivetest.Equal(t, what, got, want)
}

// assertInside fails if anything under root is not a regular file or
// directory, and if names are outside root.
func assertOnlyRegularFiles(t *testing.T, root string) []string {
	t.Helper()
	var names []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&os.ModeSymlink != 0 {
			t.Errorf("spool holds a symlink: %s", p)
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			names = append(names, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func mustNotExist(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s exists: written outside the spool", p)
		}
	}
}

func describe(o *runOutput) string {
	return fmt.Sprintf("status %d\nstderr:\n%s\nstdout:\n%s", o.status, o.stderr, strings.Join(o.lines, "\n"))
}

func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}
