package decompress

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/archive/archivetest"
)

// originalPATH is PATH before any test changed it.
var originalPATH = os.Getenv("PATH")

// OnlyOnPath sets PATH to a directory holding just the named programs of
// the original PATH (none: no xz program, the Go decoder).
func onlyOnPath(t *testing.T, names ...string) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("PATH", originalPATH)
	for _, name := range names {
		path, err := exec.LookPath(name)
		if err != nil {
			t.Fatalf("%s is not on PATH (Debian packages 7zip and xz-utils): %v", name, err)
		}
		if err := os.Symlink(path, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", dir)
}

// xzDecoders are the ways an xz stream is decoded: each program, and Go.
var xzDecoders = [][]string{{"7zz"}, {"xz"}, {}}

// The fixtures were compressed by gzip, bzip2, xz, zstd, lz4 and
// xz --format=lzma from tree.tar.
func TestEveryMethodEveryXZDecoder(t *testing.T) {
	want, err := os.ReadFile(archivetest.Fixture(t, "tree.tar"))
	if err != nil {
		t.Fatal(err)
	}
	for _, programs := range xzDecoders {
		onlyOnPath(t, programs...)
		xz := XZProgram()
		if xz != strings.Join(programs, "") {
			t.Fatalf("PATH holds %v, and xz is decoded by %q", programs, xz)
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
				t.Errorf("%s (xz program %q): %d bytes, err %v", suffix, xz, len(got), err)
			}
			// A truncated stream is an error, never a short success.
			r, err = NewReader(m, bytes.NewReader(data[:len(data)*2/3]))
			if err == nil {
				_, err = io.ReadAll(r)
				r.Close()
			}
			if err == nil {
				t.Errorf("%s (xz program %q): truncated stream read without error", suffix, xz)
			}
		}
	}
	if Detect(want) != None {
		t.Errorf("a tar detected as compressed")
	}
}

// Closing an xz reader half-way stops the xz process.
func TestXZProcessStopsOnClose(t *testing.T) {
	for _, programs := range xzDecoders[:2] {
		onlyOnPath(t, programs...)
		testXZProcessStopsOnClose(t)
	}
}

func testXZProcessStopsOnClose(t *testing.T) {
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
	block := []byte{0x02, 0x00, 0x21, 0x01, 0x25, 0, 0, 0, 0, 0, 0, 0}
	for _, programs := range xzDecoders {
		onlyOnPath(t, programs...)
		_, err := NewReader(XZ, bytes.NewReader(append(stream, block...)))
		var dict *DictTooLargeError
		if !errors.As(err, &dict) || dict.Size != 3<<29 || !strings.Contains(err.Error(), "dictionary of 1536 MiB") {
			t.Fatalf("a 1.5 GiB dictionary (xz program %q): %v, want a DictTooLargeError that says so", XZProgram(), err)
		}
	}
}

// A damaged stream fails with the program's own reason, not just an exit
// status.
func TestXZProgramsSayWhatIsWrong(t *testing.T) {
	data, err := os.ReadFile(archivetest.Fixture(t, "tree.tar.xz"))
	if err != nil {
		t.Fatal(err)
	}
	damaged := bytes.Clone(data)
	damaged[len(damaged)/2] ^= 0xff
	for _, programs := range xzDecoders[:2] {
		onlyOnPath(t, programs...)
		r, err := NewReader(XZ, bytes.NewReader(damaged))
		if err == nil {
			_, err = io.ReadAll(r)
			r.Close()
		}
		prefix := "xz (" + programs[0] + "): "
		if err == nil || !strings.HasPrefix(err.Error(), prefix) || strings.Contains(err.Error(), "exit status") {
			t.Errorf("damaged stream: %v, want %q and the program's reason", err, prefix)
		}
	}
}
