package cab

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/archive"
	"github.com/hashr-dev/hashr/internal/formats/archive/archivetest"
)

// The ground truth: cabinets made by gcab from a directory of files
// unpacked from real Debian packages walk to that directory's (path,
// sha256) multiset.

func walkSums(t *testing.T, data []byte) map[string]string {
	t.Helper()
	w, err := NewWalker(bytes.NewReader(data), int64(len(data)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for {
		e, err := w.Next()
		if err == io.EOF {
			return got
		}
		if err != nil {
			t.Fatal(err)
		}
		r, err := w.Open()
		if err != nil {
			t.Fatalf("%s: %v", e.Name, err)
		}
		h := sha256.New()
		n, err := io.Copy(h, r)
		if err != nil {
			t.Fatalf("%s: %v", e.Name, err)
		}
		if n != e.Size {
			t.Errorf("%s: %d bytes, entry says %d", e.Name, n, e.Size)
		}
		got[e.Name] = hex.EncodeToString(h.Sum(nil))
	}
}

// gcabTree makes a cabinet of every regular file of the source tree.
func gcabTree(t *testing.T, src string, args ...string) []byte {
	t.Helper()
	sums := archivetest.TreeSums(t, src, "")
	var names []string
	for n := range sums {
		names = append(names, n)
	}
	sort.Strings(names)
	out := filepath.Join(t.TempDir(), "x.cab")
	// gcab takes names relative to the directory it runs in.
	cwd, _ := os.Getwd()
	if err := os.Chdir(src); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(cwd)
	archivetest.Run(t, "gcab", append(append(args, out), names...)...)
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestGroundTruthGcab(t *testing.T) {
	src := archivetest.SourceTree(t)
	want := archivetest.TreeSums(t, src, "")
	for _, c := range []struct{ name, flag string }{{"none", "-c"}, {"mszip", "-cz"}} {
		t.Run(c.name, func(t *testing.T) {
			data := gcabTree(t, src, c.flag)
			archivetest.Compare(t, walkSums(t, data), want)
		})
	}
}

// signed adds what a signed Microsoft cabinet has: a reserved header
// area announcing an Authenticode signature, and the signature after the
// last data block.
func signed(cab, signature []byte) []byte {
	const reserve = 20
	out := append([]byte(nil), cab[:headerSize]...)
	binary.LittleEndian.PutUint16(out[30:], binary.LittleEndian.Uint16(out[30:])|flagReservePresent)
	var r [4 + reserve]byte
	binary.LittleEndian.PutUint16(r[0:], reserve)
	binary.LittleEndian.PutUint32(r[4:], 0x00100000)
	binary.LittleEndian.PutUint32(r[8:], uint32(len(cab)+len(r)))
	binary.LittleEndian.PutUint32(r[12:], uint32(len(signature)))
	out = append(out, r[:]...)
	out = append(out, cab[headerSize:]...)
	shift := uint32(len(r))
	binary.LittleEndian.PutUint32(out[8:], binary.LittleEndian.Uint32(out[8:])+shift)
	binary.LittleEndian.PutUint32(out[16:], binary.LittleEndian.Uint32(out[16:])+shift)
	folders := int(binary.LittleEndian.Uint16(out[26:]))
	for i := 0; i < folders; i++ {
		p := headerSize + len(r) + 8*i
		binary.LittleEndian.PutUint32(out[p:], binary.LittleEndian.Uint32(out[p:])+shift)
	}
	return append(out, signature...)
}

func TestSignedCabinet(t *testing.T) {
	src := archivetest.SourceTree(t)
	data := signed(gcabTree(t, src, "-cz"), bytes.Repeat([]byte("PKCS7 signature "), 300))
	archivetest.Compare(t, walkSums(t, data), archivetest.TreeSums(t, src, ""))
	// cabextract, the reference, reads the same bytes the same way.
	out := filepath.Join(t.TempDir(), "signed.cab")
	if err := os.WriteFile(out, data, 0o644); err != nil {
		t.Fatal(err)
	}
	archivetest.Run(t, "cabextract", "-t", "-q", out)
}

func TestCorrupt(t *testing.T) {
	src := archivetest.SourceTree(t)
	good := gcabTree(t, src, "-cz")
	noticed := 0
	for _, cut := range []int{0, 4, 35, 36, 60, 1000, len(good) / 2, len(good) - 1} {
		if exercise(good[:cut]) != nil {
			noticed++
		}
	}
	for i := 0; i < 60; i++ {
		bad := bytes.Clone(good)
		bad[(i*104729+7)%len(bad)] ^= 0x20
		if exercise(bad) != nil {
			noticed++
		}
	}
	if noticed < 50 {
		t.Errorf("only %d of 68 damaged cabinets gave an error", noticed)
	}
}

func exercise(data []byte) error {
	w, err := NewWalker(bytes.NewReader(data), int64(len(data)), Options{})
	if err != nil {
		return err
	}
	var first error
	for {
		_, err := w.Next()
		if err == io.EOF {
			return first
		}
		if err != nil {
			return err
		}
		r, err := w.Open()
		if err == nil {
			_, err = io.Copy(io.Discard, io.LimitReader(r, 64<<20))
		}
		if err != nil && first == nil {
			first = err
		}
	}
}

func TestLZXNeedsCabextractFromAFile(t *testing.T) {
	// An LZX folder without a file for cabextract: an unsupported method
	// for that member, not a crash. (No Debian tool writes LZX cabinets;
	// the folder type is patched into a gcab cabinet.)
	src := archivetest.SourceTree(t)
	data := gcabTree(t, src, "-cz")
	off := headerSize + 6
	binary.LittleEndian.PutUint16(data[off:], compLZX|15<<8)
	w, err := NewWalker(bytes.NewReader(data), int64(len(data)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Next(); err != nil {
		t.Fatal(err)
	}
	_, err = w.Open()
	if !errors.Is(err, archive.ErrUnsupportedMethod) || !strings.Contains(err.Error(), "LZX") {
		t.Fatalf("opening an LZX member: %v", err)
	}
}
