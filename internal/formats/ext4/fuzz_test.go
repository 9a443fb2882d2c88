package ext4_test

import (
	"os"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/disk/disktest"
	"github.com/hashr-dev/hashr/internal/formats/ext4"
)

// The seeds are small ext2/3/4 images built by mke2fs, sparsely encoded
// (disktest.EncodeSparse); HASHR_WRITE_SEEDS=1 go test -run TestFuzzSeeds
// remakes them.
func TestFuzzSeeds(t *testing.T) {
	if os.Getenv("HASHR_WRITE_SEEDS") == "" {
		t.Skip("HASHR_WRITE_SEEDS not set")
	}
	dir := disktest.SmallTree(t)
	for name, args := range map[string][]string{
		"ext2-1k":     {"-t", "ext2", "-b", "1024"},
		"ext3":        {"-t", "ext3", "-b", "1024", "-J", "size=1"},
		"ext4":        {"-t", "ext4", "-b", "1024", "-J", "size=1"},
		"ext4-inline": {"-t", "ext4", "-O", "inline_data,^has_journal", "-I", "256"},
	} {
		img := disktest.Ext4(t, dir, "4M", args...)
		disktest.WriteSeed(t, "FuzzWalk", name, disktest.EncodeSparse(disktest.ReadFile(t, img)))
	}
}

func FuzzWalk(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		r, size := disktest.DecodeSparse(data, 16<<20)
		if !ext4.Probe(r, size) {
			return
		}
		w, err := ext4.NewWalker(r, size)
		if err != nil {
			return
		}
		disktest.Exhaust(w, 2000, 64<<10)
	})
}
