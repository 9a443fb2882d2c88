package extract

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/disk/disktest"
	"github.com/hashr-dev/hashr/pkg/records"
)

// gptExt builds a GPT disk (sgdisk) whose p1 is ext4 and p2 ext3, both
// made by mke2fs from the tree of real files.
func gptExt(t *testing.T, tree string) string {
	disktest.NeedTool(t, "sgdisk", "dd")
	ext4 := disktest.Ext4(t, tree, "64M", "-t", "ext4")
	ext3 := disktest.Ext4(t, tree, "64M", "-t", "ext3")
	img := filepath.Join(t.TempDir(), "disk.raw")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(130 << 20)
	f.Close()
	disktest.Run(t, "sgdisk", "-n", "1:2048:+64M", "-n", "2:0:+64M", img)
	disktest.Run(t, "dd", "if="+ext4, "of="+img, "bs=1M", "seek=1", "conv=notrunc,sparse", "status=none")
	disktest.Run(t, "dd", "if="+ext3, "of="+img, "bs=1M", "seek=65", "conv=notrunc,sparse", "status=none")
	return img
}

// fileSums is the multiset of "path sha256" of a run's file records
// whose path starts with prefix (which is cut off), and the fs of each.
func fileSums(t *testing.T, o *runOutput, prefix string) (disktest.Sums, map[string]string) {
	t.Helper()
	sums := disktest.Sums{}
	fs := map[string]string{}
	for p, sum := range o.sums(t) {
		if rest, ok := strings.CutPrefix(p, prefix); ok {
			sums[rest+" "+sum]++
		}
	}
	for _, r := range o.records {
		if f, ok := r.(*records.File); ok && strings.HasPrefix(f.Path, prefix) {
			fs[strings.TrimPrefix(f.Path, prefix)] = f.FS
		}
	}
	return sums, fs
}

func bothPartitions(want disktest.Sums) disktest.Sums {
	both := disktest.Sums{}
	both.Add(want.Prefixed("p1/"))
	both.Add(want.Prefixed("p2/"))
	return both
}

// A raw GPT disk, the same as qcow2 and inside a GCE-style .tar.gz,
// gives the tree's files under p1/ and p2/, with the fs of each, in
// --hash mode and in spool mode.
func TestDiskImages(t *testing.T) {
	tree := disktest.Tree(t)
	want := bothPartitions(disktest.DirSums(t, tree))
	img := gptExt(t, tree)

	t.Run("raw-hash", func(t *testing.T) {
		o := extract(t, sourceLine(img), "--hash", "sha256", "--spool", t.TempDir())
		if o.status != 0 {
			t.Fatalf("status %d:\n%s", o.status, o.stderr)
		}
		got, fs := fileSums(t, o, "")
		disktest.Compare(t, want, got)
		checkPartitionFS(t, fs)
	})
	t.Run("system-files", func(t *testing.T) {
		o := extract(t, sourceLine(img), "--hash", "sha256", "--system-files", "--spool", t.TempDir())
		files := o.files()
		for _, p := range []string{"p1/$journal", "p2/$journal"} {
			if f := files[p]; f == nil || f.Size == nil || *f.Size < 1<<20 {
				t.Errorf("%s: %+v, want the journal", p, f)
			}
		}
	})
	t.Run("qcow2-compressed-spool", func(t *testing.T) {
		disktest.NeedTool(t, "qemu-img")
		q := filepath.Join(t.TempDir(), "disk.qcow2")
		disktest.Run(t, "qemu-img", "convert", "-f", "raw", "-O", "qcow2", "-c", img, q)
		o := extract(t, sourceLine(q), "--spool", t.TempDir())
		if o.status != 0 {
			t.Fatalf("status %d:\n%s", o.status, o.stderr)
		}
		got, _ := fileSums(t, o, "")
		disktest.Compare(t, want, got)
	})
	t.Run("gce-tar-gz", func(t *testing.T) {
		disktest.NeedTool(t, "tar")
		dir := t.TempDir()
		tgz := filepath.Join(dir, "image.tar.gz")
		// GCE exports a sparse GNU tar holding disk.raw.
		disktest.Run(t, "tar", "--format=oldgnu", "-Sczf", tgz, "-C", filepath.Dir(img), "disk.raw")
		o := extract(t, sourceLine(tgz), "--hash", "sha256", "--spool", t.TempDir(), "--verbose")
		if o.status != 0 {
			t.Fatalf("status %d:\n%s", o.status, o.stderr)
		}
		got, _ := fileSums(t, o, "disk.raw!/")
		disktest.Compare(t, want, got)
		if !strings.Contains(o.stderr, "raw disk of") || !strings.Contains(o.stderr, "p1: ext4") {
			t.Errorf("--verbose does not describe the disk:\n%s", o.stderr)
		}
	})
	t.Run("damaged-partition", func(t *testing.T) { testDamagedPartition(t, img, tree) })
}

// checkPartitionFS checks each file's file system (ext4 in p1, ext3 in
// p2), and that no system file is among them.
func checkPartitionFS(t *testing.T, fs map[string]string) {
	t.Helper()
	for p, f := range fs {
		wantFS := map[string]string{"p1": "ext4", "p2": "ext3"}[strings.SplitN(p, "/", 2)[0]]
		if f != wantFS {
			t.Errorf("%s: fs %q, want %q", p, f, wantFS)
			break
		}
		if strings.Contains(p, "$journal") {
			t.Errorf("%s: a system file without --system-files", p)
		}
	}
}

// testDamagedPartition checks that a partition whose superblock is
// cleared is one error record, and the other partition is walked.
func testDamagedPartition(t *testing.T, img, tree string) {
	bad := filepath.Join(t.TempDir(), "bad.raw")
	data, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	clear(data[65<<20+1024 : 65<<20+2048]) // p2's superblock
	os.WriteFile(bad, data, 0o644)
	o := extract(t, sourceLine(bad), "--hash", "sha256", "--spool", t.TempDir())
	if o.status != 3 {
		t.Fatalf("status %d, want 3:\n%s", o.status, o.stderr)
	}
	var errs []*records.Error
	for _, r := range o.records {
		if e, ok := r.(*records.Error); ok {
			errs = append(errs, e)
		}
	}
	if len(errs) != 1 || errs[0].Path != "p2" || !strings.Contains(errs[0].Message, "no file system") {
		t.Errorf("error records %+v, want one for p2", errs)
	}
	got, _ := fileSums(t, o, "p1/")
	disktest.Compare(t, disktest.DirSums(t, tree), got)
}

// A small image claiming a file of 100 GiB of holes is a decompression
// bomb like any other: --max-ratio stops it.
func TestDiskImageSparseBomb(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "holes"))
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("end"), 100<<30)
	f.Close()
	img := disktest.Ext4(t, dir, "8M", "-t", "ext4")
	o := extract(t, sourceLine(img), "--hash", "sha256", "--spool", t.TempDir(), "--max-ratio", "2")
	if o.status != 3 || !strings.Contains(o.stderr, "--max-ratio") {
		t.Fatalf("status %d, want 3 with the ratio limit:\n%s", o.status, o.stderr)
	}
}
