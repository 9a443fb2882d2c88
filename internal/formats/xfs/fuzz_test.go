package xfs_test

import (
	"os"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/disk/disktest"
	"github.com/hashr-dev/hashr/internal/formats/xfs"
)

// The seeds are small XFS images built by mkfs.xfs -p, sparsely encoded
// (disktest.EncodeSparse); HASHR_WRITE_SEEDS=1 go test -run TestFuzzSeeds
// remakes them.
func TestFuzzSeeds(t *testing.T) {
	if os.Getenv("HASHR_WRITE_SEEDS") == "" {
		t.Skip("HASHR_WRITE_SEEDS not set")
	}
	dir := disktest.SmallTree(t)
	for name, args := range map[string][]string{
		"v5":           nil,
		"v5-1k-dir-8k": {"-b", "size=1024", "-n", "size=8192"},
	} {
		img := disktest.XFS(t, dir, 300<<20, args...)
		disktest.WriteSeed(t, "FuzzWalk", name, disktest.EncodeSparse(disktest.ReadFile(t, img)))
	}
}

func FuzzWalk(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		r, size := disktest.DecodeSparse(data, 1<<30)
		if !xfs.Probe(r, size) {
			return
		}
		w, err := xfs.NewWalker(r, size)
		if err != nil {
			return
		}
		disktest.Exhaust(w, 2000, 64<<10)
	})
}
