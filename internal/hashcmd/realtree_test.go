package hashcmd

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/hashr-dev/hashr/pkg/records"
	"github.com/hashr-dev/hashr/pkg/records/recordstest"
)

// TestRealTreeMatchesCoreutils hashes 20,000+ real files of the system's
// own trees (/usr/share, /usr/lib, the Go toolchain…) in PATH mode and
// checks every md5, sha1 and sha256 against md5sum, sha1sum and sha256sum.
// It takes some seconds, so -short skips it; make test runs it.
func TestRealTreeMatchesCoreutils(t *testing.T) {
	if testing.Short() {
		t.Skip("hashes 20,000+ files; skipped with -short")
	}
	const want = 20_000
	//lint:ignore SA1019 a test binary runs where go test built it, so the GOROOT it was built with is there
	roots := []string{"/usr/share", "/usr/lib", runtime.GOROOT(), "/usr/include", "/usr/bin", "/usr/sbin", "/etc"}
	files, total := readableFiles(roots)
	if len(files) < want {
		t.Fatalf("found only %d readable files under %v; the test wants %d", len(files), roots, want)
	}

	// The reference digests, by path, computed while hashr-hash runs.
	reference, waitReference := startCoreutilsSums(t, files)
	var stdout, stderr bytes.Buffer
	status := Main(files, strings.NewReader(""), &stdout, &stderr)
	waitReference()
	if t.Failed() {
		return
	}
	if status != 0 {
		t.Fatalf("hashr-hash exited %d: %s", status, stderr.String())
	}

	got := map[string]*records.File{}
	for _, f := range recordstest.Only[*records.File](t, recordstest.Decode(t, stdout.String())) {
		got[f.Path] = f
	}
	if len(got) != len(files) {
		t.Fatalf("%d file records for %d files", len(got), len(files))
	}
	compareWithCoreutils(t, files, got, reference)
	t.Logf("%d files, %d MB: every md5, sha1 and sha256 equal to coreutils'", len(files), total>>20)
}

// readableFiles lists up to 10,000 regular files of each root that this
// user can read, none over 64 MiB, and returns them and their bytes
// together.
func readableFiles(roots []string) (files []string, total int64) {
	const (
		perRoot = 10_000
		maxSize = 64 << 20
	)
	for _, root := range roots {
		n := 0
		filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || n >= perRoot {
				if err == nil && d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if !d.Type().IsRegular() {
				return nil
			}
			info, err := d.Info()
			if err != nil || info.Size() > maxSize {
				return nil
			}
			if f, err := os.Open(path); err == nil { // readable by this user
				f.Close()
				files = append(files, path)
				total += info.Size()
				n++
			}
			return nil
		})
	}
	return files, total
}

// startCoreutilsSums starts md5sum, sha1sum and sha256sum over files; the
// returned map holds each tool's digests by path once wait has returned.
// A tool that fails fails the test.
func startCoreutilsSums(t *testing.T, files []string) (reference map[string]map[string]string, wait func()) {
	reference = map[string]map[string]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, tool := range []string{"md5sum", "sha1sum", "sha256sum"} {
		wg.Go(func() {
			sums, err := coreutilsSums(tool, files)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Error(err)
				return
			}
			reference[tool] = sums
		})
	}
	return reference, wg.Wait
}

// compareWithCoreutils compares each file's digests with the tools',
// stopping after 20 differences.
func compareWithCoreutils(t *testing.T, files []string, got map[string]*records.File, reference map[string]map[string]string) {
	t.Helper()
	bad := 0
	for _, path := range files {
		f := got[path]
		for tool, value := range map[string]string{"md5sum": f.MD5, "sha1sum": f.SHA1, "sha256sum": f.SHA256} {
			if want := reference[tool][path]; value != want {
				bad++
				t.Errorf("%s: %s says %s, hashr-hash %s", path, tool, want, value)
			}
		}
		if bad > 20 {
			t.Fatal("too many differences")
		}
	}
}

// coreutilsSums runs tool (md5sum, …) on files and returns its digests by
// path. --zero keeps names with odd characters unescaped.
func coreutilsSums(tool string, files []string) (map[string]string, error) {
	var list bytes.Buffer
	for _, f := range files {
		list.WriteString(f)
		list.WriteByte(0)
	}
	cmd := exec.Command("xargs", "-0", "-n", "2000", tool, "--zero")
	cmd.Stdin = &list
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s: %v", tool, err)
	}
	sums := map[string]string{}
	for line := range bytes.SplitSeq(bytes.TrimSuffix(out, []byte{0}), []byte{0}) {
		sum, path, ok := strings.Cut(string(line), "  ")
		if !ok {
			return nil, fmt.Errorf("%s printed %q", tool, line)
		}
		sums[path] = sum
	}
	return sums, nil
}
