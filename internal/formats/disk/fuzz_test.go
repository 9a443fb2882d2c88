package disk_test

import (
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats"
	"github.com/hashr-dev/hashr/internal/formats/disk"
	"github.com/hashr-dev/hashr/internal/formats/disk/disktest"
	"github.com/hashr-dev/hashr/internal/formats/vdisk"
	"github.com/hashr-dev/hashr/internal/formats/volume"
)

// The seeds are small disks: a GPT and an MBR with an extended partition
// holding ext2 file systems, and the GPT one as qcow2 (compressed), VMDK
// (stream-optimized), VHD (dynamic) and VHDX, sparsely encoded
// (disktest.EncodeSparse); HASHR_WRITE_SEEDS=1 go test -run TestFuzzSeeds
// remakes them.
func TestFuzzSeeds(t *testing.T) {
	if os.Getenv("HASHR_WRITE_SEEDS") == "" {
		t.Skip("HASHR_WRITE_SEEDS not set")
	}
	dir := disktest.SmallTree(t)
	fs := disktest.Ext4(t, dir, "1M", "-t", "ext2", "-b", "1024")
	tmp := t.TempDir()
	gpt := blank(t, filepath.Join(tmp, "gpt.raw"), 4<<20)
	disktest.Run(t, "sgdisk", "-n", "1:2048:+1M", "-n", "2:0:+1M", gpt)
	dd(t, fs, gpt, 1<<20)
	dd(t, fs, gpt, 2<<20)
	mbr := blank(t, filepath.Join(tmp, "mbr.raw"), 6<<20)
	layout := filepath.Join(tmp, "layout")
	os.WriteFile(layout, []byte("label: dos\n2048,2048,83\n,,5\n6144,2048,83\n"), 0o644)
	disktest.Run(t, "sh", "-c", "sfdisk -q "+mbr+" < "+layout)
	dd(t, fs, mbr, 1<<20)
	dd(t, fs, mbr, 3<<20)
	fs2 := disktest.Ext4(t, dir, "2M", "-t", "ext2", "-b", "1024")
	seeds := map[string]string{"gpt.raw": gpt, "mbr.raw": mbr, "lvm.raw": lvmDisk(t, fs2, 2<<20, 1<<20)}
	for name, args := range map[string][]string{
		"gpt.qcow2":       {"-O", "qcow2", "-c"},
		"gpt.vmdk":        {"-O", "vmdk", "-o", "subformat=streamOptimized"},
		"gpt.sparse.vmdk": {"-O", "vmdk"},
		"gpt.vhd":         {"-O", "vpc", "-o", "subformat=dynamic"},
		"gpt.vhdx":        {"-O", "vhdx", "-o", "block_size=1M"},
	} {
		out := filepath.Join(tmp, name)
		disktest.Run(t, "qemu-img", append(append([]string{"convert", "-f", "raw"}, args...), gpt, out)...)
		seeds[name] = out
	}
	for name, file := range seeds {
		disktest.WriteSeed(t, "FuzzDisk", name, disktest.EncodeSparse(disktest.ReadFile(t, file)))
	}
}

// FuzzDisk runs the whole stack: virtual disk, volumes, file systems.
func FuzzDisk(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		r, size := disktest.DecodeSparse(data, 1<<30)
		w, err := disk.NewWalker(r, size, formats.DiskFileSystems())
		if err != nil {
			return
		}
		disktest.Exhaust(w, 2000, 64<<10)
	})
}

// FuzzVolumes reads the virtual disk at every volume's start and end;
// its seeds are FuzzDisk's.
func FuzzVolumes(f *testing.F) {
	for _, data := range seeds(f) {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, size := disktest.DecodeSparse(data, 1<<30)
		d, err := vdisk.Open(r, size)
		if err != nil {
			return
		}
		vols, err := volume.Find(d, d.Size, func(io.ReaderAt, int64) bool { return false })
		if err != nil {
			return
		}
		buf := make([]byte, 4096)
		for _, v := range vols {
			if v.R != nil {
				v.R.ReadAt(buf, 0)
				v.R.ReadAt(buf, max(v.Size-4096, 0))
			}
		}
	})
}

// The seeds hold files: a fuzz target whose seeds all fail early tests
// nothing.
func TestFuzzSeedsHoldFiles(t *testing.T) {
	all := seeds(t)
	if len(all) < 5 {
		t.Fatalf("%d seeds", len(all))
	}
	for s, data := range all {
		if !strings.Contains(filepath.Base(s), ".") {
			continue // an input the fuzzer found, not a built image
		}
		r, size := disktest.DecodeSparse(data, 1<<30)
		w, err := disk.NewWalker(r, size, formats.DiskFileSystems())
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		got, parts, err := disktest.WalkSums(w)
		if err != nil || len(parts) > 0 || len(got) < 40 {
			t.Errorf("%s: %d files, errors %v %v", s, len(got), err, parts)
		}
	}
}

// seeds reads FuzzDisk's seed corpus.
func seeds(t testing.TB) map[string][]byte {
	files, _ := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzDisk", "*"))
	out := map[string][]byte{}
	for _, s := range files {
		text := strings.TrimSpace(string(disktest.ReadFile(t, s)))
		quoted := strings.TrimSuffix(strings.TrimPrefix(text, "go test fuzz v1\n[]byte("), ")")
		data, err := strconv.Unquote(quoted)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		out[s] = []byte(data)
	}
	return out
}
