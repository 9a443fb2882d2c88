package ext4_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/disk/disktest"
	"github.com/hashr-dev/hashr/internal/formats/ext4"
	"github.com/hashr-dev/hashr/internal/formats/fstest"
)

// mkfs builds an image of dir with mke2fs -d and the given options.
func mkfs(t *testing.T, dir string, args ...string) string {
	t.Helper()
	disktest.NeedTool(t, "mke2fs")
	img := filepath.Join(t.TempDir(), "fs.img")
	all := append([]string{"-q", "-F", "-d", dir}, args...)
	disktest.Run(t, "mke2fs", append(all, img, "64M")...)
	return img
}

// Each flavour of ext, built by mke2fs from real files, gives back the
// same (path, sha256) multiset as the directory.
func TestGroundTruth(t *testing.T) {
	dir := disktest.Tree(t)
	want := disktest.DirSums(t, dir)
	for _, c := range []struct {
		name, kind string
		args       []string
	}{
		{"ext2", "ext2", []string{"-t", "ext2"}},
		{"ext3", "ext3", []string{"-t", "ext3"}},
		{"ext2-1k-blocks", "ext2", []string{"-t", "ext2", "-b", "1024"}},
		{"ext4", "ext4", []string{"-t", "ext4"}},
		{"ext4-inline-data", "ext4", []string{"-t", "ext4", "-O", "inline_data", "-I", "256"}},
		{"ext4-1k-64bit-metabg", "ext4", []string{"-t", "ext4", "-b", "1024", "-O", "64bit,meta_bg,^resize_inode"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			img := mkfs(t, dir, c.args...)
			w, err := fstest.OpenImage(t, img, ext4.Probe, ext4.NewWalker)
			if err != nil {
				t.Fatal(err)
			}
			if got := w.(*ext4.Walker).FileSystem(); got != c.kind {
				t.Errorf("FileSystem() = %s, want %s", got, c.kind)
			}
			got, parts, err := disktest.WalkSums(w)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range parts {
				t.Error(p)
			}
			want := want
			if c.name == "ext4-inline-data" {
				// mke2fs 1.47 -d with inline_data writes a sparse file's
				// first block wrongly (debugfs dumps what we read): that
				// file's truth is debugfs's.
				want = fixSparse(t, want, dir, img)
			}
			disktest.Compare(t, want, got)
		})
	}
}

func fixSparse(t *testing.T, want disktest.Sums, dir, img string) disktest.Sums {
	disktest.NeedTool(t, "debugfs")
	out := filepath.Join(t.TempDir(), "sparse")
	disktest.Run(t, "debugfs", "-R", "dump /hashr-test/sparse "+out, img)
	fixed := disktest.Sums{}
	for k, v := range want {
		fixed[k] = v
	}
	for _, name := range []string{"sparse"} {
		orig, _ := os.ReadFile(filepath.Join(dir, "hashr-test", name))
		dumped, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		o, d := sha256.Sum256(orig), sha256.Sum256(dumped)
		delete(fixed, "hashr-test/"+name+" "+hex.EncodeToString(o[:]))
		fixed["hashr-test/"+name+" "+hex.EncodeToString(d[:])]++
	}
	return fixed
}
