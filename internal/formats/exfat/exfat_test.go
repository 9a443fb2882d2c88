package exfat

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/archive/archivetest"
	"github.com/hashr-dev/hashr/internal/formats/fstest"
)

// buildImage makes an exFAT volume with mkfs.exfat, fills it from dir
// (build_test.go) and has fsck.exfat check it.
func buildImage(t testing.TB, dir string, sizeMiB int) string {
	t.Helper()
	fstest.NeedTool(t, "mkfs.exfat", "fsck.exfat")
	img := filepath.Join(t.TempDir(), "exfat.img")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(int64(sizeMiB) << 20)
	f.Close()
	fstest.Run(t, "mkfs.exfat", "-L", "hashr", img)
	if err := fill(img, dir); err != nil {
		t.Fatal(err)
	}
	fstest.Run(t, "fsck.exfat", "-n", "-v", img)
	return img
}

func TestGroundTruth(t *testing.T) {
	dir := fstest.Tree(t, fstest.Options{NoSymlinks: true})
	want := fstest.Sums(t, dir)
	img := buildImage(t, dir, 64)
	w, err := fstest.OpenImage(t, img, Probe, NewWalker)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := fstest.Walk(t, w)
	fstest.Equal(t, got, want)
}

func seed(t testing.TB) []byte {
	b, err := os.ReadFile(filepath.Join("testdata", "tree.exfat"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHostile(t *testing.T) {
	img := seed(t)
	w, err := NewWalker(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := fstest.Walk(t, w)
	if len(got) == 0 {
		t.Fatal("the seed image has no files")
	}
	fstest.Hostile(t, img, NewWalker)
	fstest.MustFail(t, "tree.exfat", img, fstest.LastData(img)-1, NewWalker)
	z := bytes.Clone(img)
	clear(z[:512])
	if _, err := NewWalker(bytes.NewReader(z), int64(len(z))); err == nil {
		t.Error("zeroed boot sector accepted")
	}
}

// A subdirectory whose first cluster is the root's is a loop.
func TestLoop(t *testing.T) {
	img := seed(t)
	wk, err := NewWalker(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	v := wk.(*Walker).v
	off := v.heapOffset + int64(v.root-2)*v.clusterSize
	root := img[off : off+v.clusterSize]
	patched := false
	for i := 0; i+96 <= len(root); i += 32 {
		if root[i] == typeFile && root[i+4]&attrDir != 0 {
			set := root[i : i+32*(int(root[i+1])+1)]
			set[33] &^= 0x02 // a FAT chain, so the loop is the root's chain
			copy(set[52:56], []byte{byte(v.root), byte(v.root >> 8), byte(v.root >> 16), byte(v.root >> 24)})
			sum := setChecksum(set)
			set[2], set[3] = byte(sum), byte(sum>>8)
			patched = true
			break
		}
	}
	if !patched {
		t.Fatal("no directory in the seed's root")
	}
	wk, err = NewWalker(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	fstest.WalkToCorrupt(t, wk)
}

func FuzzWalker(f *testing.F) {
	f.Add(seed(f))
	f.Fuzz(func(t *testing.T, data []byte) {
		w, err := NewWalker(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		_ = archivetest.Exercise(w, 1<<20, 2000)
	})
}

// TestMakeSeed writes testdata/tree.exfat from the tree that
// scripts/mkfsseeds.sh names in HASHR_EXFAT_SEED (an image mkfs.exfat
// made, then the tree's directory, separated by a colon).
func TestMakeSeed(t *testing.T) {
	arg := os.Getenv("HASHR_EXFAT_SEED")
	if arg == "" {
		t.Skip("only for scripts/mkfsseeds.sh")
	}
	img, dir, _ := strings.Cut(arg, ":")
	if err := fill(img, dir); err != nil {
		t.Fatal(err)
	}
	fstest.Run(t, "fsck.exfat", "-n", img)
	data, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	// The tree fits in the first 384 KiB; the rest is unused.
	if err := os.WriteFile(filepath.Join("testdata", "tree.exfat"), data[:384<<10], 0o644); err != nil {
		t.Fatal(err)
	}
}

// Past its valid data length a file reads as zeros (Windows leaves the
// clusters of a preallocated file unwritten there).
func TestValidDataLength(t *testing.T) {
	img := seed(t)
	wk, err := NewWalker(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	v := wk.(*Walker).v
	off := v.heapOffset + int64(v.root-2)*v.clusterSize
	root := img[off : off+v.clusterSize]
	const valid = 3
	patched := ""
	for i := 0; i+96 <= len(root); i += 32 {
		if root[i] != typeFile || root[i+4]&attrDir != 0 {
			continue
		}
		set := root[i : i+32*(int(root[i+1])+1)]
		if binary.LittleEndian.Uint64(set[32+24:]) <= valid {
			continue
		}
		binary.LittleEndian.PutUint64(set[32+8:], valid)
		binary.LittleEndian.PutUint16(set[2:], setChecksum(set))
		entries, _ := parseDir(set)
		patched = entries[0].Name
		break
	}
	if patched == "" {
		t.Fatal("no file in the seed's root")
	}
	w, err := NewWalker(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	for {
		e, err := w.Next()
		if err != nil {
			t.Fatalf("%s not walked: %v", patched, err)
		}
		if e.Name != patched {
			continue
		}
		r, _ := w.Open()
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(b)) != e.Size || bytes.Count(b[valid:], []byte{0}) != len(b)-valid || b[0] == 0 {
			t.Errorf("%s: %q, want %d bytes of data then zeros", patched, b, valid)
		}
		return
	}
}
