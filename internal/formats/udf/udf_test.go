package udf

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/archive/archivetest"
	"github.com/hashr-dev/hashr/internal/formats/fstest"
)

func walkFile(t *testing.T, img string) (map[string]string, error) {
	t.Helper()
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	if !Probe(f, st.Size()) {
		t.Fatal("Probe says no")
	}
	w, err := NewWalker(f, st.Size())
	if err != nil {
		return nil, err
	}
	got, _ := fstest.Walk(t, w)
	return got, nil
}

// genisoimage -udf (UDF 1.02 with an ISO 9660 bridge) of real files, and
// the same image with its ISO 9660 part removed: the files walked are
// the directory's.
func TestGroundTruth(t *testing.T) {
	fstest.NeedTool(t, "genisoimage")
	// genisoimage writes a symlink into the UDF tree as a copy of its
	// target, so the tree has none.
	dir := fstest.Tree(t, fstest.Options{NoHardlinks: true, NoSymlinks: true})
	want := fstest.Sums(t, dir)
	img := filepath.Join(t.TempDir(), "udf.iso")
	fstest.Run(t, "genisoimage", "-quiet", "-udf", "-R", "-o", img, dir)
	got, err := walkFile(t, img)
	if err != nil {
		t.Fatal(err)
	}
	fstest.Equal(t, got, want)
	fstest.StripISOBridge(t, img)
	got, err = walkFile(t, img)
	if err != nil {
		t.Fatal(err)
	}
	fstest.Equal(t, got, want)
}

// mkudffs writes every UDF revision and media type: the volume structure
// (partitions, sparing, metadata partitions of 2.50 and 2.60, block sizes)
// is read, and its root directory is empty. mkudffs writes revisions
// above 2.01 only for write-once media, with a virtual partition.
func TestMkudffs(t *testing.T) {
	fstest.NeedTool(t, "mkudffs")
	cases := []struct {
		name string
		args []string
	}{
		{"1.02", []string{"-m", "hd", "-r", "1.02", "-b", "512"}},
		{"1.50", []string{"-m", "hd", "-r", "1.50"}},
		{"2.00", []string{"-m", "hd", "-r", "2.00"}},
		{"2.01", []string{"-m", "hd", "-r", "2.01", "-b", "4096"}},
		{"2.50-dvdr-vat", []string{"-m", "dvdr", "-r", "2.50"}},
		{"2.60-bdr-vat", []string{"-m", "bdr", "-r", "2.60"}},
		{"2.01-cdr-vat", []string{"-m", "cdr", "-r", "2.01"}},
		{"1.50-cdr-vat", []string{"-m", "cdr", "-r", "1.50"}},
		{"2.01-dvd", []string{"-m", "dvd", "-r", "2.01"}},
		{"2.01-cdrw-sparable", []string{"-m", "cdrw", "-r", "2.01"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			img := filepath.Join(t.TempDir(), "x.udf")
			f, _ := os.Create(img)
			f.Truncate(16 << 20)
			f.Close()
			fstest.Run(t, "mkudffs", append(c.args, img)...)
			got, err := walkFile(t, img)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 0 {
				t.Errorf("files in a new volume: %v", got)
			}
		})
	}
}

func seeds(t testing.TB) []string {
	names, _ := filepath.Glob(filepath.Join("testdata", "*.udf"))
	if len(names) == 0 {
		t.Fatal("no seed images in testdata (scripts/mkfsseeds.sh)")
	}
	return names
}

func TestHostile(t *testing.T) {
	for _, name := range seeds(t) {
		img, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		fstest.Hostile(t, img, NewWalker)
		// Truncated: half its partition is missing.
		fstest.MustFail(t, name, img, len(img)/2, NewWalker)
		// Without its anchor at sector 256 the volume is found through
		// a backup anchor at its end, if it has one; with every anchor
		// zeroed it is refused.
		z := bytes.Clone(img)
		for _, bs := range []int{512, 2048} {
			for _, s := range []int{256, len(z)/bs - 1, len(z)/bs - 257} {
				if s > 0 && (s+1)*bs <= len(z) && z[s*bs] == tagAnchor && z[s*bs+1] == 0 {
					clear(z[s*bs : (s+1)*bs])
				}
			}
		}
		if _, err := NewWalker(bytes.NewReader(z), int64(len(z))); err == nil {
			t.Errorf("%s: zeroed anchors accepted", name)
		}
	}
}

// A subdirectory whose file identifier points at the root's file entry
// is a loop.
func TestLoop(t *testing.T) {
	img, err := os.ReadFile(filepath.Join("testdata", "tree.udf"))
	if err != nil {
		t.Fatal(err)
	}
	wk, err := NewWalker(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	w := wk.(*Walker)
	// The root's FIDs: find the one for "dir", and its parent FID, which
	// points at the root's entry.
	var root lbAddr
	for a := range w.seen {
		root = a
	}
	patched := false
	for off := 0; off+40 <= len(img) && !patched; off += 4 {
		d := img[off:]
		if d[0] != tagFID&0xff || d[1] != tagFID>>8 || d[18]&0x02 == 0 || d[18]&0x08 != 0 {
			continue
		}
		lfi, liu := int(d[19]), int(d[36])|int(d[37])<<8
		if dstring(d[38+liu:38+liu+lfi]) != "sub" {
			continue
		}
		// Point "sub" at the root directory and fix the tag's checksum
		// (its CRC covers the descriptor; the reader checks the checksum
		// and location only, as Linux does for FIDs).
		d[24], d[25], d[26], d[27] = byte(root.block), byte(root.block>>8), byte(root.block>>16), byte(root.block>>24)
		patched = true
	}
	if !patched {
		t.Fatal("no FID for sub")
	}
	wk, err = NewWalker(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	fstest.WalkToCorrupt(t, wk)
}

func FuzzWalker(f *testing.F) {
	for _, name := range seeds(f) {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		w, err := NewWalker(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		_ = archivetest.Exercise(w, 1<<20, 2000)
	})
}
