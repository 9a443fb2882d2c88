package ntfs

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/archive"
	"github.com/hashr-dev/hashr/internal/formats/archive/archivetest"
	"github.com/hashr-dev/hashr/internal/formats/fstest"
)

// buildImage makes an NTFS image of dir with mkntfs and wimlib's NTFS-3G
// apply mode (wimcapture, then wimapply onto the image file: no mount),
// then adds an alternate data stream with ntfscp.
func buildImage(t *testing.T, dir string, sizeMiB int, extraArgs ...string) string {
	t.Helper()
	fstest.NeedTool(t, "mkntfs", "wimcapture", "wimapply", "ntfscp")
	tmp := t.TempDir()
	img := filepath.Join(tmp, "ntfs.img")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(int64(sizeMiB) << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	fstest.Run(t, "mkntfs", append([]string{"-q", "-F", "-f", img}, extraArgs...)...)
	wim := filepath.Join(tmp, "tree.wim")
	fstest.Run(t, "wimcapture", dir, wim, "--compress=none")
	fstest.Run(t, "wimapply", wim, "1", img)
	return img
}

func openImage(t *testing.T, img string) archive.Walker {
	t.Helper()
	w, err := fstest.OpenImage(t, img, Probe, NewWalker)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func sum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// The files walked are the directory's, byte for byte (hard links under
// each name, the sparse file's hole as zeros), the alternate data stream
// is an entry "path:stream", and NTFS's metafiles are marked System.
func TestGroundTruth(t *testing.T) {
	dir := fstest.Tree(t, fstest.Options{})
	want := fstest.Sums(t, dir)
	img := buildImage(t, dir, 64)
	ads := []byte(strings.Repeat("an alternate data stream\n", 300)) // non-resident
	adsFile := filepath.Join(t.TempDir(), "ads")
	if err := os.WriteFile(adsFile, ads, 0o644); err != nil {
		t.Fatal(err)
	}
	fstest.Run(t, "ntfscp", "-q", "-N", "Zone.Identifier", img, adsFile, "/extra/random.bin")
	small := filepath.Join(t.TempDir(), "small")
	os.WriteFile(small, []byte("tiny stream"), 0o644) // resident
	fstest.Run(t, "ntfscp", "-q", "-N", "small", img, small, "/extra/empty")
	want["extra/random.bin:Zone.Identifier"] = sum(ads)
	want["extra/empty:small"] = sum([]byte("tiny stream"))

	w := openImage(t, img)
	got, system := fstest.Walk(t, w)
	fstest.Equal(t, got, want)
	for _, name := range []string{"$MFT", "$LogFile", "$Secure:$SDS", "$UpCase", "$Bitmap", "$Boot", "$Extend/$Quota", "$BadClus:$Bad"} {
		found := false
		for _, s := range system {
			found = found || s == name
		}
		if !found {
			t.Errorf("%s is not among the System entries %q", name, system)
		}
	}
}

// A compressed file: ntfs-3g's tools write none without a mount (ntfscp
// and wimapply ignore the compressed attribute), so the test builds one:
// it copies a file with ntfscp and rewrites its data attribute as
// Windows would have written it compressed (testdata/mkcompressed.go).
func TestCompressed(t *testing.T) {
	fstest.NeedTool(t, "mkntfs", "ntfscp", "ntfscat", "ntfsinfo")
	tmp := t.TempDir()
	img := filepath.Join(tmp, "c.img")
	f, _ := os.Create(img)
	f.Truncate(8 << 20)
	f.Close()
	fstest.Run(t, "mkntfs", "-q", "-F", "-f", "-c", "4096", img)
	var content bytes.Buffer
	for i := range 40000 {
		content.WriteString(strings.Repeat("x", i%7) + "line " + string(rune('a'+i%26)) + "\n")
	}
	random := make([]byte, 70000) // incompressible units are stored
	for i := range random {
		random[i] = byte(i*7919 + i>>3*31 ^ i>>11)
	}
	zeros := make([]byte, 200000)
	data := append(append(append([]byte{}, content.Bytes()...), zeros...), random...)
	src := filepath.Join(tmp, "src")
	os.WriteFile(src, data, 0o644)
	fstest.Run(t, "ntfscp", "-q", img, src, "/compressed.txt")
	if err := compressFile(img, "compressed.txt"); err != nil {
		t.Fatal(err)
	}
	// ntfs-3g reads the generated file back as it was: the generator
	// writes what NTFS means by a compressed file.
	out, err := exec.Command("ntfscat", img, "/compressed.txt").Output()
	if err != nil {
		t.Fatalf("ntfscat: %v", err)
	}
	if sum(out) != sum(data) {
		t.Fatalf("ntfscat reads the generated compressed file as %d bytes of sha256 %s, want %s", len(out), sum(out), sum(data))
	}
	ntfsinfo, _ := exec.Command("ntfsinfo", "-F", "/compressed.txt", img).Output()
	if !strings.Contains(string(ntfsinfo), "Compressed size:") {
		t.Fatalf("ntfsinfo does not see a compressed data attribute:\n%s", ntfsinfo)
	}
	w := openImage(t, img)
	got, _ := fstest.Walk(t, w)
	if got["compressed.txt"] != sum(data) {
		t.Errorf("compressed.txt has sha256 %s, want %s", got["compressed.txt"], sum(data))
	}
}

func TestLZNT1(t *testing.T) {
	in := []byte(strings.Repeat("abcabcabd", 1000))
	out := make([]byte, 16*chunkSize)
	comp := compressLZNT1(in)
	n, err := lznt1(out, comp)
	if err != nil {
		t.Fatal(err)
	}
	if n < len(in) || !bytes.Equal(out[:len(in)], in) {
		t.Fatalf("round trip differs")
	}
	if _, err := lznt1(out, comp[:len(comp)/2]); err == nil {
		t.Error("truncated LZNT1 accepted")
	}
}

// seed is the small NTFS volume of scripts/mkfsseeds.sh: its trailing
// zeros cut (and the metafiles the reader never interprets zeroed), so
// it is read through zeroExtended.
func seed(t testing.TB) []byte {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "tree.ntfs.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// seedSize is the size of the seed's volume.
const seedSize = 2 << 20

// zeroExtended reads data, then zeros up to size.
type zeroExtended struct {
	data []byte
	size int64
}

func (z zeroExtended) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= z.size {
		return 0, io.EOF
	}
	n := len(p)
	if int64(n) > z.size-off {
		n = int(z.size - off)
	}
	m := 0
	if off < int64(len(z.data)) {
		m = copy(p[:n], z.data[off:])
	}
	clear(p[m:n])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func padded(data []byte) []byte {
	out := make([]byte, seedSize)
	copy(out, data)
	return out
}

func TestHostile(t *testing.T) {
	img := padded(seed(t))
	// The seed walks.
	w, err := NewWalker(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := fstest.Walk(t, w)
	if got["hello.txt"] != sum([]byte("hello\n")) {
		t.Errorf("hello.txt: %q", got["hello.txt"])
	}
	fstest.Hostile(t, img, NewWalker)
	fstest.MustFail(t, "tree.ntfs", img, fstest.LastData(img)-1, NewWalker)
	z := bytes.Clone(img)
	clear(z[:512])
	if _, err := NewWalker(bytes.NewReader(z), int64(len(z))); err == nil {
		t.Error("zeroed boot sector accepted")
	}
}

// A directory whose parent is one of its own subdirectories is a loop.
func TestLoop(t *testing.T) {
	img := padded(seed(t))
	if err := makeLoop(img, "dir", "sub"); err != nil {
		t.Fatal(err)
	}
	w, err := NewWalker(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	fstest.WalkToCorrupt(t, w)
}

func FuzzWalker(f *testing.F) {
	f.Add(seed(f))
	f.Fuzz(func(t *testing.T, data []byte) {
		w, err := NewWalker(zeroExtended{data, max(int64(len(data)), seedSize)}, max(int64(len(data)), seedSize))
		if err != nil {
			return
		}
		_ = archivetest.Exercise(w, 256<<10, 500)
	})
}
