package archivetest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/hashr-dev/hashr/internal/testcorpus"
)

// The Windows formats' ground-truth tests build their containers (WIM,
// CAB, MSI) with the Debian tools from a directory of real files: a few
// real Debian packages unpacked. The packages come from
// scripts/corpus.sh deb (internal/testcorpus); in CI a missing corpus or tool fails the
// test, elsewhere it skips it.

// realTreeDebs are small packages of the corpus whose files make the tree.
var realTreeDebs = []string{"sed_", "grep_", "gzip_", "nano_", "less_"}

var (
	treeOnce sync.Once
	treeDir  string
	treeErr  string
)

// Unavailable fails the test in CI and skips it elsewhere.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	testcorpus.Unavailable(t, format, args...)
}

// NeedTool makes sure the tools are installed.
func NeedTool(t testing.TB, tools ...string) {
	t.Helper()
	testcorpus.NeedTools(t, tools...)
}

// Run runs a command, failing the test with its output if it fails.
func Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	NeedTool(t, name)
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// SourceTree returns a directory of real files (a few Debian packages
// unpacked), made once per test binary. The tests must not change it.
func SourceTree(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("real-package corpus: not with -short")
	}
	NeedTool(t, "dpkg-deb")
	treeOnce.Do(func() {
		root := testcorpus.Root()
		debs := pickDebs(root)
		if len(debs) < len(realTreeDebs) {
			if err := testcorpus.Fetch("deb"); err != nil {
				treeErr = err.Error()
				return
			}
			debs = pickDebs(root)
		}
		if len(debs) == 0 {
			treeErr = "no Debian packages in " + filepath.Join(root, "deb")
			return
		}
		dir, err := os.MkdirTemp("", "hashr-realtree-*")
		if err != nil {
			treeErr = err.Error()
			return
		}
		for _, deb := range debs {
			if out, err := exec.Command("dpkg-deb", "-x", deb, dir).CombinedOutput(); err != nil {
				treeErr = "dpkg-deb -x " + deb + ": " + err.Error() + "\n" + string(out)
				return
			}
		}
		treeDir = dir
	})
	if treeErr != "" {
		Unavailable(t, "%s", treeErr)
	}
	return treeDir
}

func pickDebs(root string) []string {
	var debs []string
	for _, p := range realTreeDebs {
		m, _ := filepath.Glob(filepath.Join(root, "deb", p+"*.deb"))
		if len(m) > 0 {
			debs = append(debs, m[0])
		}
	}
	return debs
}

// TreeSums is the sha256 of every regular file under dir, by its path
// from dir with prefix in front.
func TreeSums(t testing.TB, dir, prefix string) map[string]string {
	t.Helper()
	sums := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return err
		}
		sums[prefix+filepath.ToSlash(rel)] = hex.EncodeToString(h.Sum(nil))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(sums) == 0 {
		t.Fatalf("no files under %s", dir)
	}
	return sums
}

// Compare fails the test unless got and want hold the same paths with
// the same sums, listing a few differences.
func Compare(t testing.TB, got, want map[string]string) {
	t.Helper()
	var diffs []string
	for p, s := range want {
		switch g, ok := got[p]; {
		case !ok:
			diffs = append(diffs, "missing "+p)
		case g != s:
			diffs = append(diffs, "wrong content "+p)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			diffs = append(diffs, "extra "+p)
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 0 {
		t.Errorf("%d of %d files differ from the source tree, e.g.:\n  %s", len(diffs), len(want), strings.Join(diffs[:min(len(diffs), 10)], "\n  "))
	}
}

// UDFBridgeISO builds iso as Windows install media are laid out, with
// scripts/mkudfbridge.py (pycdlib): a UDF tree of every file in media,
// and an ISO 9660 tree holding only a README.TXT.
func UDFBridgeISO(t testing.TB, iso, media string) {
	t.Helper()
	const python = "/usr/bin/python3" // Debian's, which has python3-pycdlib
	if err := exec.Command(python, "-c", "import pycdlib").Run(); err != nil {
		Unavailable(t, "%s cannot import pycdlib (apt-get install python3-pycdlib, see .ci/install-deps.txt): %v", python, err)
	}
	script := filepath.Join(Dir(t), "..", "scripts", "mkudfbridge.py")
	if out, err := exec.Command(python, script, iso, media).CombinedOutput(); err != nil {
		t.Fatalf("%s %s %s: %v\n%s", script, iso, media, err, out)
	}
}

// SplitWIM cuts the WIM into parts of about a third of its size with
// wimlib-imagex split, written into dir as install.swm, install2.swm…,
// and returns their paths in part order; it fails the test unless there
// are three parts or more.
func SplitWIM(t testing.TB, wimFile, dir string) []string {
	t.Helper()
	st, err := os.Stat(wimFile)
	if err != nil {
		t.Fatal(err)
	}
	// Part sizes are in MiB; a bit under a third of the WIM makes three
	// parts or more.
	first := filepath.Join(dir, "install.swm")
	Run(t, "wimlib-imagex", "split", wimFile, first, fmt.Sprintf("%.3f", float64(st.Size())/3.2/(1<<20)))
	parts := []string{first}
	for n := 2; ; n++ {
		p := filepath.Join(dir, fmt.Sprintf("install%d.swm", n))
		if _, err := os.Stat(p); err != nil {
			break
		}
		parts = append(parts, p)
	}
	if len(parts) < 3 {
		t.Fatalf("wimlib-imagex split made %d parts, want 3 or more", len(parts))
	}
	return parts
}
