package decompress

import (
	"bytes"
	"io"
	"os"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/archive/archivetest"
)

// The fixtures were compressed by gzip, bzip2, xz, zstd, lz4 and
// xz --format=lzma from tree.tar.
func TestEveryMethodBothXZDecoders(t *testing.T) {
	want, err := os.ReadFile(archivetest.Fixture(t, "tree.tar"))
	if err != nil {
		t.Fatal(err)
	}
	for _, xz := range []bool{true, false} {
		if !xz {
			t.Setenv("PATH", t.TempDir()) // no xz program: the Go decoder
		} else if !UsesXZBinary() {
			t.Fatal("no xz program on PATH (Debian package xz-utils)")
		}
		for suffix, m := range map[string]Method{".gz": Gzip, ".bz2": Bzip2, ".xz": XZ, ".zst": Zstd, ".lz4": LZ4, ".lzma": LZMA} {
			data, err := os.ReadFile(archivetest.Fixture(t, "tree.tar"+suffix))
			if err != nil {
				t.Fatal(err)
			}
			if got := Detect(data); got != m {
				t.Errorf("%s: Detect = %q, want %q", suffix, got, m)
			}
			r, err := NewReader(m, bytes.NewReader(data))
			if err != nil {
				t.Fatalf("%s: %v", suffix, err)
			}
			got, err := io.ReadAll(r)
			r.Close()
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s (xz program %v): %d bytes, err %v", suffix, xz, len(got), err)
			}
			// A truncated stream is an error, never a short success.
			r, err = NewReader(m, bytes.NewReader(data[:len(data)*2/3]))
			if err == nil {
				_, err = io.ReadAll(r)
				r.Close()
			}
			if err == nil {
				t.Errorf("%s (xz program %v): truncated stream read without error", suffix, xz)
			}
		}
	}
	if Detect(want) != None {
		t.Errorf("a tar detected as compressed")
	}
}

// Closing an xz reader half-way stops the xz process.
func TestXZProcessStopsOnClose(t *testing.T) {
	if !UsesXZBinary() {
		t.Skip("no xz program")
	}
	data, err := os.ReadFile(archivetest.Fixture(t, "tree.tar.xz"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewReader(XZ, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	if _, err := io.ReadFull(r, buf); err != nil {
		t.Fatal(err)
	}
	r.Close()
	p := r.(*xzProcess)
	if p.cmd.ProcessState == nil {
		t.Fatal("xz still running after Close")
	}
}

func TestHostileXZDictionary(t *testing.T) {
	// stream header, then a block header asking for a 1.5 GiB dictionary
	stream := []byte{0xfd, '7', 'z', 'X', 'Z', 0, 0, 1, 0x69, 0x22, 0xde, 0x36}
	block := []byte{0x02, 0x00, 0x21, 0x01, 0x26, 0, 0, 0}
	if _, err := newXZReader(bytes.NewReader(append(stream, block...))); err == nil {
		t.Fatal("no error for a 1.5 GiB dictionary")
	}
}
