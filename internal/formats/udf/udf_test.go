package udf

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/archive"
	"github.com/hashr-dev/hashr/internal/formats/fstest"
)

func walkFile(t *testing.T, img string) (map[string]string, error) {
	t.Helper()
	w, err := fstest.OpenImage(t, img, Probe, NewWalker)
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

func seeds(t testing.TB) []string { return fstest.Seeds(t, "*.udf") }

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
	root := w.root
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

func FuzzWalker(f *testing.F) { fstest.FuzzWalker(f, seeds(f), NewWalker) }

// readAtAll reads ra's n bytes in pieces of odd sizes at every offset
// they fall on, and checks short reads at the end say io.EOF.
func readAtAll(t *testing.T, ra io.ReaderAt, n int64) []byte {
	t.Helper()
	out := make([]byte, 0, n)
	for off := int64(0); off < n; {
		buf := make([]byte, 777)
		m, err := ra.ReadAt(buf, off)
		if int64(m) != min(int64(len(buf)), n-off) || (m < len(buf)) != (err == io.EOF) || (err != nil && err != io.EOF) {
			t.Fatalf("ReadAt(%d bytes, %d) of %d = %d, %v", len(buf), off, n, m, err)
		}
		out = append(out, buf[:m]...)
		off += int64(m)
	}
	return out
}

// OpenAt reads every file of the genisoimage volume as Open does.
func TestOpenAt(t *testing.T) {
	img, err := os.ReadFile(filepath.Join("testdata", "tree.udf"))
	if err != nil {
		t.Fatal(err)
	}
	wk, err := NewWalker(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	w := wk.(*Walker)
	files := 0
	for {
		e, err := w.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if e.Type != archive.Regular {
			if _, _, err := w.OpenAt(); err != archive.ErrNotRegular {
				t.Errorf("OpenAt of %s, not a file: %v", e.Name, err)
			}
			continue
		}
		r, _ := w.Open()
		want, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		ra, n, err := w.OpenAt()
		if err != nil || n != int64(len(want)) {
			t.Fatalf("OpenAt(%s): size %d, %v; want %d", e.Name, n, err, len(want))
		}
		if got := readAtAll(t, ra, n); !bytes.Equal(got, want) {
			t.Errorf("OpenAt(%s) reads other bytes than Open", e.Name)
		}
		files++
	}
	if files == 0 {
		t.Fatal("no files in tree.udf")
	}
}

// OpenAt joins recorded and unrecorded extents as Open reads them in
// turn, and refuses extents past the image's end or shorter than the
// file.
func TestOpenAtExtents(t *testing.T) {
	img, err := os.ReadFile(filepath.Join("testdata", "tree.udf"))
	if err != nil {
		t.Fatal(err)
	}
	wk, err := NewWalker(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	w := wk.(*Walker)
	// A file of a recorded block, 1000 bytes not recorded, a not
	// allocated block and 500 bytes of the recorded block again, in the
	// partition's first blocks.
	at := lbAddr{block: 1, part: 0}
	w.cur = &fileEntry{fileType: ftFile, size: 2048 + 1000 + 2048 + 500, extents: []extent{
		{loc: at, length: 2048}, {length: 1000, kind: 1}, {length: 2048, kind: 2}, {loc: at, length: 2048},
	}}
	want, err := io.ReadAll(w.dataReader(w.cur))
	if err != nil || len(want) != int(w.cur.size) {
		t.Fatalf("Open: %d bytes, %v", len(want), err)
	}
	ra, n, err := w.OpenAt()
	if err != nil || n != w.cur.size {
		t.Fatalf("OpenAt: %d, %v", n, err)
	}
	if _, ok := ra.(*extentsReader); !ok {
		t.Fatalf("four extents read by %T", ra)
	}
	if got := readAtAll(t, ra, n); !bytes.Equal(got, want) {
		t.Error("OpenAt reads other bytes than Open")
	}
	w.cur.size += 4096
	if _, _, err := w.OpenAt(); err == nil {
		t.Error("extents shorter than the file: no error")
	}
	w.cur.size -= 4096
	w.cur.extents[0].loc.block = uint32(len(img)/2048 + 10)
	if _, _, err := w.OpenAt(); err == nil {
		t.Error("an extent past the image's end: no error")
	}
}
