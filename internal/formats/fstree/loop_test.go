package fstree_test

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/archive"
	"github.com/hashr-dev/hashr/internal/formats/disk/disktest"
	"github.com/hashr-dev/hashr/internal/formats/exfat"
	"github.com/hashr-dev/hashr/internal/formats/ext4"
	"github.com/hashr-dev/hashr/internal/formats/fat"
	"github.com/hashr-dev/hashr/internal/formats/iso9660"
	"github.com/hashr-dev/hashr/internal/formats/ntfs"
	"github.com/hashr-dev/hashr/internal/formats/squashfs"
	"github.com/hashr-dev/hashr/internal/formats/udf"
	"github.com/hashr-dev/hashr/internal/formats/xfs"
)

// loopCase is one file system with a directory loop: an image in which
// directory loop contains itself or an ancestor, and a file beside it,
// which the walk must still list.
type loopCase struct {
	name   string
	open   func(io.ReaderAt, int64) (archive.Walker, error)
	build  func(t *testing.T) []byte
	loop   string // the directory reported
	beside string // a file listed all the same
}

// TestDirectoryLoop is the loop policy of every file system reader: a
// directory loop is a part error for that directory, and the rest of
// the volume is walked.
func TestDirectoryLoop(t *testing.T) {
	for _, c := range []loopCase{
		{"ext4", ext4.NewWalker, ext4Loop, "a/b/loop", "z.txt"},
		{"xfs", xfs.NewWalker, xfsLoop, "a/loopdir", "z.txt"},
		{"fat", fat.NewWalker, fatLoop, "DIR/SUB", "DIR/numbers.txt"},
		{"exfat", exfat.NewWalker, exfatLoop, "dir", "hello.txt"},
		{"squashfs", squashfs.NewWalker, squashfsLoop, "loopdir", "zz.txt"},
		{"udf", udf.NewWalker, udfLoop, "a/loopdir", "z.txt"},
		{"iso9660", openISO, isoLoop, "a/loopdir", "z.txt"},
		{"ntfs", ntfs.NewWalker, ntfsLoop, "dir", "hello.txt"},
	} {
		t.Run(c.name, func(t *testing.T) {
			img := c.build(t)
			w, err := c.open(bytes.NewReader(img), int64(len(img)))
			if err != nil {
				t.Fatal(err)
			}
			names, parts, err := walkAll(w)
			if err != nil {
				t.Fatalf("the walk stopped at the loop: %v (listed %v)", err, names)
			}
			if !strings.Contains(parts[c.loop], "loop") {
				t.Errorf("part errors %v: want a loop reported for %s", parts, c.loop)
			}
			if !names[c.beside] {
				t.Errorf("%s not listed beside the loop: %v", c.beside, names)
			}
		})
	}
}

func openISO(r io.ReaderAt, size int64) (archive.Walker, error) { return iso9660.NewWalker(r, size) }

// walkAll walks w to its end, going on past part errors, and returns
// the names listed and the part errors by path; err is an error that
// ended the walk.
func walkAll(w archive.Walker) (names map[string]bool, parts map[string]string, err error) {
	names, parts = map[string]bool{}, map[string]string{}
	for n := 0; n < 10000; n++ {
		e, err := w.Next()
		if err == io.EOF {
			return names, parts, nil
		}
		var pe *archive.PartError
		if errors.As(err, &pe) {
			parts[pe.Path] = pe.Err.Error()
			continue
		}
		if err != nil {
			return names, parts, err
		}
		names[e.Name] = true
	}
	return names, parts, errors.New("10000 entries: the walk does not end")
}

// loopTree makes a/loopdir (empty), a/after.txt and z.txt.
func loopTree(t *testing.T) string {
	dir := filepath.Join(t.TempDir(), "tree")
	must(t, os.MkdirAll(filepath.Join(dir, "a", "loopdir"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "a", "after.txt"), []byte("after\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "z.txt"), []byte("beside\n"), 0o644))
	return dir
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	must(t, err)
	return b
}

// ext4Loop: debugfs gives the root a second name, a/b/loop.
func ext4Loop(t *testing.T) []byte {
	dir := loopTree(t)
	must(t, os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755))
	img := disktest.Ext4(t, dir, "4M", "-t", "ext4")
	disktest.NeedTool(t, "debugfs")
	disktest.Run(t, "debugfs", "-w", "-R", "link / /a/b/loop", img)
	return read(t, img)
}

// xfsLoop: a/loopdir's short-form entry (name length, offset, name,
// file type, 4-byte inode number) is pointed at the root inode.
func xfsLoop(t *testing.T) []byte {
	img := read(t, disktest.XFS(t, loopTree(t), 300<<20))
	root := uint32(binary.BigEndian.Uint64(img[56:]))
	at := index(t, img, []byte("loopdir\x02"), func(i int) bool { return img[i-3] == 7 })
	binary.BigEndian.PutUint32(img[at+8:], root)
	return img
}

// fatLoop: DIR/SUB of the fixture made by scripts/mkfsseeds.sh (mkfs.vfat,
// mmd, mcopy) is pointed at DIR's first cluster.
func fatLoop(t *testing.T) []byte {
	img := read(t, filepath.Join("..", "fat", "testdata", "tree-fat16.img"))
	dirEntry := index(t, img, []byte("DIR        \x10"), func(i int) bool { return i%32 == 0 })
	subEntry := index(t, img, []byte("SUB        \x10"), func(i int) bool { return i%32 == 0 })
	copy(img[subEntry+26:subEntry+28], img[dirEntry+26:dirEntry+28])
	copy(img[subEntry+20:subEntry+22], img[dirEntry+20:dirEntry+22])
	return img
}

// exfatLoop: the root's directory dir (its stream extension's first
// cluster) is pointed at the root's, as a FAT chain, and the entry set's
// checksum recomputed.
func exfatLoop(t *testing.T) []byte {
	img := read(t, filepath.Join("..", "exfat", "testdata", "tree.exfat"))
	le := binary.LittleEndian
	root := le.Uint32(img[96:])
	// "dir" as the name entry's UTF-16: d, i, r.
	name := index(t, img, []byte("\xc1\x00d\x00i\x00r\x00\x00\x00"), func(i int) bool { return i%32 == 0 })
	file := name - 64
	if img[file] != 0x85 || img[file+32] != 0xc0 {
		t.Fatal("no file and stream entries before dir's name")
	}
	set := img[file : file+32*(int(img[file+1])+1)]
	set[33] &^= 0x02
	le.PutUint32(set[52:], root)
	le.PutUint16(set[2:], exfatSetChecksum(set))
	return img
}

func exfatSetChecksum(set []byte) uint16 {
	var s uint16
	for i, b := range set {
		if i != 2 && i != 3 {
			s = (s<<15 | s>>1) + uint16(b)
		}
	}
	return s
}

// squashfsLoop: mksquashfs of loopdir/ and zz.txt, metadata uncompressed,
// then loopdir's directory entry is pointed at the root's inode (as
// scripts/mkfsseeds.sh makes testdata/loop.squashfs).
func squashfsLoop(t *testing.T) []byte {
	dir := filepath.Join(t.TempDir(), "tree")
	must(t, os.MkdirAll(filepath.Join(dir, "loopdir"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "zz.txt"), []byte("beside\n"), 0o644))
	disktest.NeedTool(t, "mksquashfs")
	out := filepath.Join(t.TempDir(), "loop.squashfs")
	disktest.Run(t, "mksquashfs", dir, out, "-noappend", "-no-progress", "-quiet", "-noI", "-noD")
	img := read(t, out)
	le := binary.LittleEndian
	root := le.Uint64(img[32:])
	dirTable := int(le.Uint64(img[72:]))
	at := index(t, img, []byte("loopdir"), func(i int) bool { return i > dirTable })
	entry, header := at-8, at-8-12
	if le.Uint32(img[header+4:]) != uint32(root>>16) {
		t.Fatal("loopdir's inode and the root's in different metadata blocks")
	}
	le.PutUint16(img[entry:], uint16(root))
	return img
}

// udfLoop: genisoimage -udf, then the file identifier of a/loopdir is
// pointed at a's file entry (the tag's checksum covers its 16 bytes
// only, the ICB lies past them).
func udfLoop(t *testing.T) []byte {
	disktest.NeedTool(t, "genisoimage")
	out := filepath.Join(t.TempDir(), "loop.udf")
	disktest.Run(t, "genisoimage", "-quiet", "-udf", "-R", "-o", out, loopTree(t))
	img := read(t, out)
	a := udfFID(t, img, "a")
	loop := udfFID(t, img, "loopdir")
	copy(img[loop+24:loop+30], img[a+24:a+30])
	return img
}

// udfFID finds the file identifier descriptor of a directory named name.
func udfFID(t *testing.T, img []byte, name string) int {
	for off := 0; off+40 <= len(img); off += 4 {
		d := img[off:]
		if d[0] != 1 || d[1] != 1 || d[18]&0x02 == 0 || d[18]&0x08 != 0 {
			continue
		}
		lfi, liu := int(d[19]), int(binary.LittleEndian.Uint16(d[36:]))
		if lfi == len(name)+1 && 38+liu+lfi <= len(d) && d[38+liu] == 8 && string(d[39+liu:38+liu+lfi]) == name {
			return off
		}
	}
	t.Fatalf("no file identifier of directory %s", name)
	return 0
}

// isoLoop: genisoimage -R, then a/loopdir's directory record (in a's
// extent) is pointed at a's extent, in both byte orders.
func isoLoop(t *testing.T) []byte {
	disktest.NeedTool(t, "genisoimage")
	out := filepath.Join(t.TempDir(), "loop.iso")
	disktest.Run(t, "genisoimage", "-quiet", "-R", "-o", out, loopTree(t))
	img := read(t, out)
	a := isoRecord(t, img, "A")
	loop := isoRecord(t, img, "LOOPDIR")
	copy(img[loop+2:loop+10], img[a+2:a+10])
	return img
}

// isoRecord finds the directory record of a directory named name.
func isoRecord(t *testing.T, img []byte, name string) int {
	rec := append([]byte{byte(len(name))}, name...)
	return index(t, img, rec, func(i int) bool {
		r := i - 32
		return r >= 0 && img[r+25]&0x02 != 0 && int(img[r]) >= 33+len(name)
	}) - 32
}

// ntfsLoop: the seed of scripts/mkfsseeds.sh (mkntfs, then its tree
// copied in with wimapply), its 2 MiB restored, then the $FILE_NAME of
// dir made to name dir/sub as its parent, as the ntfs package's makeLoop
// does (the parent reference lies in the record's first sector, before
// the update sequence's bytes at its end).
func ntfsLoop(t *testing.T) []byte {
	f, err := os.Open(filepath.Join("..", "ntfs", "testdata", "tree.ntfs.gz"))
	must(t, err)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	must(t, err)
	seed, err := io.ReadAll(zr)
	must(t, err)
	img := make([]byte, 2<<20)
	copy(img, seed)
	dir, sub := ntfsNames(img, "dir"), ntfsNames(img, "sub")
	if len(dir) == 0 || len(sub) == 0 {
		t.Fatal("no MFT records of dir and sub")
	}
	rec := sub[0] / 1024 * 1024
	le := binary.LittleEndian
	ref := uint64(le.Uint32(img[rec+44:])) | uint64(le.Uint16(img[rec+16:]))<<48
	for _, at := range dir {
		if at%512+8 > 510 {
			t.Fatal("dir's parent reference crosses a sector's update sequence bytes")
		}
		le.PutUint64(img[at:], ref)
	}
	return img
}

// ntfsNames returns where the $FILE_NAME values named name begin, in the
// MFT records (1 KiB, "FILE") of img.
func ntfsNames(img []byte, name string) []int {
	le := binary.LittleEndian
	var out []int
	for rec := 0; rec+1024 <= len(img); rec += 1024 {
		if string(img[rec:rec+4]) != "FILE" {
			continue
		}
		for a := rec + int(le.Uint16(img[rec+20:])); a+24 <= rec+1024; {
			typ, length := le.Uint32(img[a:]), int(le.Uint32(img[a+4:]))
			if typ == 0xffffffff || length <= 0 {
				break
			}
			v := a + int(le.Uint16(img[a+20:]))
			if typ == 0x30 && img[a+8] == 0 && v+66+2*len(name) <= rec+1024 && int(img[v+64]) == len(name) &&
				utf16le(img[v+66:v+66+2*len(name)]) == name {
				out = append(out, v)
			}
			a += length
		}
	}
	return out
}

func utf16le(b []byte) string {
	r := make([]rune, len(b)/2)
	for i := range r {
		r[i] = rune(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return string(r)
}

// index returns the only offset of b in img where ok holds.
func index(t *testing.T, img, b []byte, ok func(int) bool) int {
	t.Helper()
	found := -1
	for i := 0; ; {
		j := bytes.Index(img[i:], b)
		if j < 0 {
			break
		}
		if ok(i + j) {
			if found >= 0 {
				t.Fatalf("%q at %d and %d", b, found, i+j)
			}
			found = i + j
		}
		i += j + 1
	}
	if found < 0 {
		t.Fatalf("no %q in the image", b)
	}
	return found
}
