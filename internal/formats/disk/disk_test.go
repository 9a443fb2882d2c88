package disk_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats"
	"github.com/hashr-dev/hashr/internal/formats/archive"
	"github.com/hashr-dev/hashr/internal/formats/disk"
	"github.com/hashr-dev/hashr/internal/formats/disk/disktest"
)

// images are the file system images of the tree, built once.
type images struct {
	tree      string
	want      disktest.Sums
	ext4, xfs string
}

var (
	built     images
	buildOnce sync.Once
)

func fsImages(t *testing.T) images {
	buildOnce.Do(func() {
		tree := disktest.Tree(t)
		built = images{
			tree: tree,
			want: disktest.DirSums(t, tree),
			ext4: disktest.Ext4(t, tree, "64M", "-t", "ext4"),
			xfs:  disktest.XFS(t, tree, 300<<20),
		}
	})
	if built.ext4 == "" {
		t.Fatal("building the file system images failed in an earlier test")
	}
	for _, f := range []string{built.ext4, built.xfs} {
		if _, err := os.Stat(f); err != nil {
			// The images live in the first test's TempDir, gone once it
			// ends: every test here runs in TestGroundTruth's subtests.
			t.Fatalf("file system image gone: %v", err)
		}
	}
	return built
}

// dd copies src into dst at byte offset seek, the way dd conv=notrunc does.
func dd(t *testing.T, src, dst string, seek int64) {
	t.Helper()
	disktest.Run(t, "dd", "if="+src, "of="+dst, "bs=1M", "seek="+strconv.FormatInt(seek>>20, 10), "conv=notrunc,sparse", "status=none")
}

func blank(t *testing.T, name string, size int64) string {
	t.Helper()
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return name
}

// gptDisk: sgdisk makes two partitions, dd fills them with ext4 and XFS.
func gptDisk(t *testing.T, im images) string {
	disktest.NeedTool(t, "sgdisk")
	img := blank(t, filepath.Join(t.TempDir(), "gpt.raw"), (1+64+300+1)<<20)
	disktest.Run(t, "sgdisk", "-n", "1:2048:+64M", "-t", "1:8300", "-n", "2:0:+300M", "-t", "2:8300", img)
	dd(t, im.ext4, img, 1<<20)
	dd(t, im.xfs, img, 65<<20)
	return img
}

// mbrDisk: sfdisk makes a primary partition, an extended one and two
// logical partitions in it.
func mbrDisk(t *testing.T, im images) string {
	disktest.NeedTool(t, "sfdisk")
	img := blank(t, filepath.Join(t.TempDir(), "mbr.raw"), (1+64+2+64+2+300+2)<<20)
	cmd := "label: dos\n,64M,83\n,,5\n,64M,83\n,300M,83\n"
	sf := filepath.Join(t.TempDir(), "layout")
	os.WriteFile(sf, []byte(cmd), 0o644)
	out := disktest.Run(t, "sh", "-c", "sfdisk -q "+img+" < "+sf+" && sfdisk -d "+img)
	starts := map[string]int64{}
	for _, m := range regexp.MustCompile(`raw(\d+) : start=\s*(\d+)`).FindAllStringSubmatch(out, -1) {
		n, _ := strconv.ParseInt(m[2], 10, 64)
		starts["p"+m[1]] = n * 512
	}
	if len(starts) != 4 || starts["p5"]%(1<<20) != 0 || starts["p6"]%(1<<20) != 0 {
		t.Fatalf("sfdisk made %v:\n%s", starts, out)
	}
	dd(t, im.ext4, img, starts["p1"])
	dd(t, im.ext4, img, starts["p5"])
	dd(t, im.xfs, img, starts["p6"])
	return img
}

// lvmDisk writes an LVM2 physical volume by hand (the lvm tools need
// device-mapper and root): label, PV header, metadata area with the
// metadata text, and a linear LV "root" in two segments, its second half
// stored before its first on the PV.
func lvmDisk(t *testing.T, fsImage string, fsSize, extent int64) string {
	const (
		peStart = 1 << 20
		mdaOff  = 4096
		mdaSize = 1<<20 - 4096
	)
	half := fsSize / extent / 2
	img := blank(t, filepath.Join(t.TempDir(), "lvm.raw"), peStart+fsSize+extent)
	text := fmt.Sprintf(`vg0 {
id = "abcdef-0000-0000-0000-0000-0000-000000"
seqno = 3
format = "lvm2" # informational
status = ["RESIZEABLE", "READ", "WRITE"]
extent_size = %d
max_lv = 0
physical_volumes {
pv0 {
id = "PVPVPV-0000-0000-0000-0000-0000-000000"
device = "/dev/sda"
status = ["ALLOCATABLE"]
pe_start = %d
pe_count = %d
}
}
logical_volumes {
root {
id = "LVLVLV-0000-0000-0000-0000-0000-000000"
status = ["READ", "WRITE", "VISIBLE"]
segment_count = 2
segment1 {
start_extent = 0
extent_count = %d
type = "striped"
stripe_count = 1
stripes = [
"pv0", %d
]
}
segment2 {
start_extent = %d
extent_count = %d
type = "striped"
stripe_count = 1
stripes = [
"pv0", 0
]
}
}
}
}
`, extent/512, peStart/512, fsSize/extent+1, half, half+1, half, half)
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	le := binary.LittleEndian
	label := make([]byte, 512)
	copy(label, "LABELONE")
	le.PutUint64(label[8:], 1)
	le.PutUint32(label[20:], 32)
	copy(label[24:], "LVM2 001")
	h := label[32:]
	copy(h, "PVPVPV0000000000000000000000000000"[:32])
	le.PutUint64(h[32:], uint64(peStart+fsSize+extent))
	le.PutUint64(h[40:], peStart) // data area
	// (zeros end the data areas)
	le.PutUint64(h[72:], mdaOff) // metadata area
	le.PutUint64(h[80:], mdaSize)
	f.WriteAt(label, 512)
	mda := make([]byte, 512)
	copy(mda[4:], " LVM2 x[5A%r0N*>")
	le.PutUint32(mda[20:], 1)
	le.PutUint64(mda[24:], mdaOff)
	le.PutUint64(mda[32:], mdaSize)
	le.PutUint64(mda[40:], 512)
	le.PutUint64(mda[48:], uint64(len(text)))
	f.WriteAt(mda, mdaOff)
	f.WriteAt([]byte(text), mdaOff+512)
	// The file system: its first half at PV extent half+1, its second at 0.
	src, err := os.Open(fsImage)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	copyAt := func(from, n, to int64) {
		if _, err := io.Copy(io.NewOffsetWriter(f, to), io.NewSectionReader(src, from, n)); err != nil {
			t.Fatal(err)
		}
	}
	copyAt(0, half*extent, peStart+(half+1)*extent)
	copyAt(half*extent, half*extent, peStart)
	return img
}

func walk(t *testing.T, img string) (disktest.Sums, []error, *disk.Walker) {
	t.Helper()
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, _ := f.Stat()
	w, err := disk.NewWalker(f, st.Size(), formats.DiskFileSystems())
	if err != nil {
		t.Fatal(err)
	}
	got, parts, err := disktest.WalkSums(w)
	if err != nil {
		t.Fatal(err)
	}
	return got, parts, w.(*disk.Walker)
}

// Every volume layout and virtual disk format, built by the real tools
// from real files, gives back the (path, sha256) multiset of the tree
// under each volume's name.
func TestGroundTruth(t *testing.T) {
	im := fsImages(t)
	gpt := gptDisk(t, im)
	both := disktest.Sums{}
	both.Add(im.want.Prefixed("p1/"))
	both.Add(im.want.Prefixed("p2/"))
	cases := []struct {
		name, img string
		want      disktest.Sums
		format    string
	}{
		{"bare-ext4", im.ext4, im.want, "raw"},
		{"bare-xfs", im.xfs, im.want, "raw"},
		{"gpt", gpt, both, "raw"},
	}
	mbrWant := disktest.Sums{}
	mbrWant.Add(im.want.Prefixed("p1/"))
	mbrWant.Add(im.want.Prefixed("p5/"))
	mbrWant.Add(im.want.Prefixed("p6/"))
	cases = append(cases, struct {
		name, img string
		want      disktest.Sums
		format    string
	}{"mbr-extended", mbrDisk(t, im), mbrWant, "raw"})
	cases = append(cases, struct {
		name, img string
		want      disktest.Sums
		format    string
	}{"lvm-linear", lvmDisk(t, im.ext4, 64<<20, 4<<20), im.want.Prefixed("lvm/vg0/root/"), "raw"})
	disktest.NeedTool(t, "qemu-img")
	for _, c := range []struct {
		name, format string
		args         []string
	}{
		{"qcow2", "qcow2", []string{"-O", "qcow2"}},
		{"qcow2-compressed", "qcow2", []string{"-O", "qcow2", "-c"}},
		{"qcow2-compressed-zstd", "qcow2", []string{"-O", "qcow2", "-c", "-o", "compression_type=zstd"}},
		{"vmdk-monolithic-sparse", "vmdk", []string{"-O", "vmdk", "-o", "subformat=monolithicSparse"}},
		{"vmdk-stream-optimized", "vmdk", []string{"-O", "vmdk", "-o", "subformat=streamOptimized"}},
		{"vhd-fixed", "vhd", []string{"-O", "vpc", "-o", "subformat=fixed,force_size=on"}},
		{"vhd-dynamic", "vhd", []string{"-O", "vpc", "-o", "subformat=dynamic"}},
		{"vhdx", "vhdx", []string{"-O", "vhdx"}},
	} {
		out := filepath.Join(t.TempDir(), c.name)
		disktest.Run(t, "qemu-img", append(append([]string{"convert", "-f", "raw"}, c.args...), gpt, out)...)
		cases = append(cases, struct {
			name, img string
			want      disktest.Sums
			format    string
		}{c.name, out, both, c.format})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, parts, w := walk(t, c.img)
			for _, p := range parts {
				t.Error(p)
			}
			disktest.Compare(t, c.want, got)
			if !strings.HasPrefix(w.Describe(), c.format+" disk") {
				t.Errorf("Describe() = %q, want a %s disk", w.Describe(), c.format)
			}
			t.Log(w.Describe())
		})
	}
}

// partErrors walks img and returns its part errors.
func partErrors(t *testing.T, img string) ([]error, disktest.Sums) {
	t.Helper()
	got, parts, _ := walk(t, img)
	for _, p := range parts {
		var pe *archive.PartError
		if !errors.As(p, &pe) {
			t.Errorf("not a part error: %v", p)
		}
	}
	return parts, got
}

// partErrorsOrOpen is partErrors, with a failure to open the image as
// its one error.
func partErrorsOrOpen(t *testing.T, img string) ([]error, disktest.Sums) {
	t.Helper()
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	w, err := disk.NewWalker(f, st.Size(), formats.DiskFileSystems())
	if err != nil {
		return []error{err}, nil
	}
	got, parts, err := disktest.WalkSums(w)
	if err != nil {
		parts = append(parts, err)
	}
	return parts, got
}
