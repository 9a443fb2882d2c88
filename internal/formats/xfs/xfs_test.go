package xfs_test

import (
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/disk/disktest"
	"github.com/hashr-dev/hashr/internal/formats/fstest"
	"github.com/hashr-dev/hashr/internal/formats/xfs"
)

func mkfsXFS(t testing.TB, dir string, args ...string) string {
	return disktest.XFS(t, dir, 300<<20, args...)
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
		{"v4", []string{"-m", "crc=0"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			img := mkfsXFS(t, dir, c.args...)
			w, err := fstest.OpenImage(t, img, xfs.Probe, xfs.NewWalker)
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
