package xfs_test

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/disk/disktest"
	"github.com/hashr-dev/hashr/internal/formats/xfs"
)

// Protofile writes an mkfs.xfs protofile describing dir: regular files,
// directories and symlinks (hard links become copies: protofiles have
// none).
func Protofile(t testing.TB, dir string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("/dev/null\n0 0\nd--755 0 0\n")
	var walk func(d string, depth int)
	walk = func(d string, depth int) {
		entries, err := os.ReadDir(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			p := filepath.Join(d, e.Name())
			info, err := os.Lstat(p)
			if err != nil {
				t.Fatal(err)
			}
			perm := fmt.Sprintf("%03o", info.Mode().Perm())
			ind := strings.Repeat(" ", depth)
			switch {
			case info.Mode().IsRegular():
				fmt.Fprintf(&b, "%s%s ---%s 0 0 %s\n", ind, e.Name(), perm, p)
			case info.IsDir():
				fmt.Fprintf(&b, "%s%s d--%s 0 0\n", ind, e.Name(), perm)
				walk(p, depth+1)
				fmt.Fprintf(&b, "%s$\n", ind)
			case info.Mode()&fs.ModeSymlink != 0:
				target, _ := os.Readlink(p)
				fmt.Fprintf(&b, "%s%s l--777 0 0 %s\n", ind, e.Name(), target)
			}
		}
	}
	walk(dir, 1)
	b.WriteString("$\n")
	proto := filepath.Join(t.TempDir(), "proto")
	if err := os.WriteFile(proto, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return proto
}

// MkfsXFS builds an XFS image of dir with mkfs.xfs -p.
func mkfsXFS(t testing.TB, dir string, args ...string) string {
	t.Helper()
	disktest.NeedTool(t, "mkfs.xfs")
	img := filepath.Join(t.TempDir(), "xfs.img")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(300 << 20)
	f.Close()
	disktest.Run(t, "mkfs.xfs", append(append([]string{"-q", "-f", "-p", Protofile(t, dir)}, args...), img)...)
	return img
}

func TestGroundTruth(t *testing.T) {
	dir := disktest.Tree(t)
	want := disktest.DirSums(t, dir)
	for _, c := range []struct {
		name string
		args []string
	}{
		{"v5", nil},
		{"v5-1k-blocks-dirblocks-8k", []string{"-b", "size=1024", "-n", "size=8192"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			img := mkfsXFS(t, dir, c.args...)
			f, err := os.Open(img)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			st, _ := f.Stat()
			if !xfs.Probe(f, st.Size()) {
				t.Fatal("Probe says no")
			}
			w, err := xfs.NewWalker(f, st.Size())
			if err != nil {
				t.Fatal(err)
			}
			got, parts, err := disktest.WalkSums(w)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range parts {
				t.Error(p)
			}
			disktest.Compare(t, want, got)
		})
	}
}
