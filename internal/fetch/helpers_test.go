package fetch

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashr-dev/hashr/pkg/records"
	"github.com/hashr-dev/hashr/pkg/records/recordstest"
)

// result is one in-process run of hashr-fetch.
type result struct {
	status int
	stdout string
	stderr string
}

// fetchMain runs hashr-fetch in-process with the given arguments and input.
func fetchMain(t *testing.T, input string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	status := Main(args, strings.NewReader(input), &out, &errb)
	return result{status, out.String(), errb.String()}
}

func testOptions(workDir string) options {
	return options{workDir: workDir, copyMode: copyAuto, workers: 4,
		connectTimeout: 5 * time.Second, idleTimeout: 5 * time.Second,
		limits: downloadLimits{maxTime: defaultMaxTime, minFree: defaultMinFree}}
}

// parsed decodes every output line.
func (r result) parsed(t *testing.T) []records.Record {
	t.Helper()
	return recordstest.Decode(t, r.stdout)
}

// one expects a single output record of type T.
func one[T records.Record](t *testing.T, r result) T {
	t.Helper()
	recs := r.parsed(t)
	if len(recs) != 1 {
		t.Fatalf("want 1 record, got %d:\n%s\nstderr:\n%s", len(recs), r.stdout, r.stderr)
	}
	rec, ok := recs[0].(T)
	if !ok {
		t.Fatalf("want a %T record, got %s\nstderr:\n%s", rec, r.stdout, r.stderr)
	}
	return rec
}

// sourceLine is a source record as NDJSON.
func sourceLine(t *testing.T, src records.Source) string {
	t.Helper()
	return recordstest.Lines(t, &src)
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// sha256sum hashes a file with coreutils' sha256sum: ground truth that does
// not share our code.
func sha256sum(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command("sha256sum", path).Output()
	if err != nil {
		t.Fatalf("sha256sum %s: %v", path, err)
	}
	sum, _, _ := strings.Cut(string(out), " ")
	return sum
}

// dirNames lists the names in dir (none when it does not exist).
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// inside reports whether path is directly inside dir.
func inside(path, dir string) bool {
	return filepath.Dir(path) == filepath.Clean(dir)
}

func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
