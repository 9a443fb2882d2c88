// Package testcorpus gives tests the real-package corpus of
// scripts/corpus.sh (real Debian packages, npm tarballs, Go module zips),
// fetching it when it is missing, and the Debian tools tests drive.
// In CI (the CI environment variable set) whatever is missing fails the
// test; elsewhere it skips it, so a laptop without network still runs the
// rest.
package testcorpus

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
)

// Unavailable fails the test in CI and skips it elsewhere.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// NeedTools stops the test unless every tool is on PATH.
func NeedTools(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			Unavailable(t, "%s is not installed (see .ci/install-deps.txt)", tool)
		}
	}
}

// Root is where the corpus lives: $HASHR_CORPUS, else ~/.cache/hashr-corpus.
func Root() string {
	if root := os.Getenv("HASHR_CORPUS"); root != "" {
		return root
	}
	home, err := os.UserHomeDir()
	if err != nil {
		// Never a relative path: the corpus must not land in the tree.
		return filepath.Join(os.TempDir(), "hashr-corpus")
	}
	return filepath.Join(home, ".cache", "hashr-corpus")
}

// Script is the project's corpus script, scripts/corpus.sh, found from
// this file's place in the module so that it works from any package's
// test directory.
func Script() string {
	_, here, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(here), "..", "..", "scripts", "corpus.sh")
}

// Fetch runs scripts/corpus.sh for one kind ("deb", "npm", "gomod") into
// Root.
func Fetch(kind string) error {
	cmd := exec.Command(Script(), kind)
	cmd.Env = append(os.Environ(), "HASHR_CORPUS="+Root())
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("fetching the %s corpus with %s: %w\n%s", kind, Script(), err, out)
	}
	return nil
}

// Files returns the corpus's files of one kind ("deb", "npm", "gomod")
// whose names end in suffix, sorted, fetching the corpus first when none
// are there. Not with -short: fetching needs the network.
func Files(t testing.TB, kind, suffix string) []string {
	t.Helper()
	if testing.Short() {
		t.Skip("real-package corpus: not with -short")
	}
	root := Root()
	files, _ := filepath.Glob(filepath.Join(root, kind, "*"+suffix))
	if len(files) == 0 {
		if err := Fetch(kind); err != nil {
			Unavailable(t, "%v", err)
		}
		files, _ = filepath.Glob(filepath.Join(root, kind, "*"+suffix))
	}
	if len(files) == 0 {
		Unavailable(t, "no %s files in %s", kind, filepath.Join(root, kind))
	}
	slices.Sort(files)
	return files
}

// SmallDebs returns n real Debian packages of the corpus under maxSize
// bytes each, the smallest first, for tests that run whole pipelines.
func SmallDebs(t testing.TB, n int, maxSize int64) []string {
	t.Helper()
	type deb struct {
		path string
		size int64
	}
	var small []deb
	for _, f := range Files(t, "deb", ".deb") {
		if fi, err := os.Stat(f); err == nil && fi.Size() <= maxSize {
			small = append(small, deb{f, fi.Size()})
		}
	}
	if len(small) < n {
		Unavailable(t, "the corpus has %d Debian packages under %d bytes, the test needs %d", len(small), maxSize, n)
	}
	slices.SortFunc(small, func(a, b deb) int { return int(a.size - b.size) })
	out := make([]string, n)
	for i := range out {
		out[i] = small[i].path
	}
	return out
}
