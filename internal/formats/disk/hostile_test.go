package disk_test

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/disk/disktest"
)

// wantPartError checks that one of errs concerns path and says what.
func wantPartError(t *testing.T, errs []error, path, says string) {
	t.Helper()
	for _, e := range errs {
		if strings.HasPrefix(e.Error(), path+": ") && strings.Contains(e.Error(), says) {
			return
		}
	}
	t.Errorf("no error for %s saying %q among %v", path, says, errs)
}

func copyFile(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	disktest.Run(t, "cp", "--sparse=always", src, dst)
	return dst
}

// Broken images give part errors for what is broken, the files of the
// rest, no panic, and flat memory.
func TestHostile(t *testing.T) {
	dir := disktest.SmallTree(t)
	small := disktest.Ext4(t, dir, "8M", "-t", "ext4")
	want := disktest.DirSums(t, dir)

	t.Run("looping-directory", func(t *testing.T) {
		img := copyFile(t, small)
		// A second name for the root directory, inside a/b: walked
		// naively, the tree never ends.
		disktest.NeedTool(t, "debugfs")
		disktest.Run(t, "debugfs", "-w", "-R", "link / /a/b/loop", img)
		errs, got := partErrors(t, img)
		wantPartError(t, errs, "a/b/loop", "directory loop")
		disktest.Equal(t, want, got)
	})
	t.Run("zeroed-superblock", func(t *testing.T) {
		img := copyFile(t, small)
		f, _ := os.OpenFile(img, os.O_RDWR, 0)
		f.WriteAt(make([]byte, 1024), 1024)
		f.Close()
		errs, got := partErrors(t, img)
		if len(errs) != 1 || len(got) != 0 || !strings.Contains(errs[0].Error(), "no partition table") {
			t.Errorf("errors %v, %d files: want one error for the disk", errs, len(got))
		}
	})
	t.Run("overlapping-partitions", func(t *testing.T) {
		img := blank(t, filepath.Join(t.TempDir(), "overlap.raw"), 20<<20)
		dd(t, small, img, 1<<20)
		// An MBR by hand (sfdisk refuses overlaps): p1 at 1 MiB, p2 at
		// 2 MiB inside it; both "partitions" of the same bytes.
		mbr := make([]byte, 512)
		for i, start := range []uint32{2048, 4096} {
			e := mbr[446+16*i:]
			e[4] = 0x83
			binary.LittleEndian.PutUint32(e[8:], start)
			binary.LittleEndian.PutUint32(e[12:], 16384)
		}
		mbr[510], mbr[511] = 0x55, 0xaa
		f, _ := os.OpenFile(img, os.O_RDWR, 0)
		f.WriteAt(mbr, 0)
		f.Close()
		errs, got := partErrors(t, img)
		wantPartError(t, errs, "p2", "overlaps partition p1")
		disktest.Equal(t, want.Prefixed("p1/"), got)
	})
	t.Run("primary-gpt-zeroed", func(t *testing.T) {
		disktest.NeedTool(t, "sgdisk")
		gpt := blank(t, filepath.Join(t.TempDir(), "gpt.raw"), 20<<20)
		disktest.Run(t, "sgdisk", "-n", "1:2048:+8M", gpt)
		dd(t, small, gpt, 1<<20)
		f, _ := os.OpenFile(gpt, os.O_RDWR, 0)
		f.WriteAt(make([]byte, 512), 512) // the primary header; the backup is at the end
		f.Close()
		errs, got := partErrors(t, gpt)
		if len(errs) != 0 {
			t.Error(errs)
		}
		disktest.Equal(t, want.Prefixed("p1/"), got)
	})
	t.Run("unsupported-containers", func(t *testing.T) {
		// What hashr cannot read alone is an error that says what to do.
		disktest.NeedTool(t, "qemu-img")
		dir := t.TempDir()
		base := filepath.Join(dir, "base.qcow2")
		disktest.Run(t, "qemu-img", "convert", "-f", "raw", "-O", "qcow2", small, base)
		over := filepath.Join(dir, "over.qcow2")
		disktest.Run(t, "qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", over)
		flat := filepath.Join(dir, "flat.vmdk")
		disktest.Run(t, "qemu-img", "create", "-q", "-f", "vmdk", "-o", "subformat=monolithicFlat", flat, "8M")
		for img, says := range map[string]string{over: "backing file", flat: "descriptor file"} {
			errs, _ := partErrorsOrOpen(t, img)
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), says) {
				t.Errorf("%s: errors %v, want one saying %q", filepath.Base(img), errs, says)
			}
		}
	})
	t.Run("truncated", func(t *testing.T) {
		disktest.NeedTool(t, "qemu-img", "sgdisk")
		gpt := blank(t, filepath.Join(t.TempDir(), "gpt.raw"), 20<<20)
		disktest.Run(t, "sgdisk", "-n", "1:2048:+8M", "-n", "2:0:+8M", gpt)
		dd(t, small, gpt, 1<<20)
		dd(t, small, gpt, 9<<20)
		q := filepath.Join(t.TempDir(), "gpt.qcow2")
		disktest.Run(t, "qemu-img", "convert", "-f", "raw", "-O", "qcow2", "-c", gpt, q)
		for _, img := range []string{gpt, q} {
			st, _ := os.Stat(img)
			for _, frac := range []int64{2, 3, 5} {
				cut := copyFile(t, img)
				os.Truncate(cut, st.Size()*(frac-1)/frac)
				var before runtime.MemStats
				runtime.ReadMemStats(&before)
				errs, got := partErrorsOrOpen(t, cut)
				var after runtime.MemStats
				runtime.ReadMemStats(&after)
				if len(errs) == 0 {
					t.Errorf("%s cut to %d/%d: no errors, %d files", filepath.Base(img), frac-1, frac, len(got))
				}
				if grown := int64(after.HeapInuse) - int64(before.HeapInuse); grown > 64<<20 {
					t.Errorf("%s cut: heap grew by %d bytes", filepath.Base(img), grown)
				}
			}
		}
		// The raw disk cut in p2: p1 whole, p2 an error.
		cut := copyFile(t, gpt)
		os.Truncate(cut, 12<<20)
		errs, got := partErrors(t, cut)
		wantPartError(t, errs, "p2", "past the end of the disk")
		disktest.Equal(t, want.Prefixed("p1/"), got)
	})
}
