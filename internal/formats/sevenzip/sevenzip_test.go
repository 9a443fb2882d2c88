package sevenzip

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/archive"
	"github.com/hashr-dev/hashr/internal/formats/archive/archivetest"
)

// tree.7z was written by 7-Zip (7zz) from the tree, solid LZMA2.
func TestSolidArchive(t *testing.T) {
	tree := archivetest.Tree(t)
	f, size := archivetest.Open(t, "tree.7z")
	w, err := NewWalker(f, size)
	if err != nil {
		t.Fatal(err)
	}
	got := archivetest.Walk(t, w)
	archivetest.Equal(t, "tree.7z", got.Files, tree)
}

func TestEncryptedMembers(t *testing.T) {
	f, size := archivetest.Open(t, "encrypted.7z")
	w, err := NewWalker(f, size)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		e, err := w.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if e.Type != archive.Regular {
			continue
		}
		r, err := w.Open()
		if err == nil {
			_, err = io.Copy(io.Discard, r)
		}
		if !errors.Is(err, archive.ErrEncrypted) {
			t.Errorf("%s: %v, want ErrEncrypted", e.Name, err)
		}
		n++
	}
	if n != 2 {
		t.Errorf("%d members", n)
	}
}

// hostile41 is a 41-byte 7z archive whose plain header claims 4 billion
// files: the library alone would size a table of 480 GB for them and the
// runtime would end the process.
func hostile41() []byte {
	hdr := []byte{0x01, 0x05, 0xf0, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00}
	sig := make([]byte, 32)
	copy(sig, []byte{'7', 'z', 0xbc, 0xaf, 0x27, 0x1c, 0, 4})
	binary.LittleEndian.PutUint64(sig[20:], uint64(len(hdr)))
	binary.LittleEndian.PutUint32(sig[28:], crc32.ChecksumIEEE(hdr))
	binary.LittleEndian.PutUint32(sig[8:], crc32.ChecksumIEEE(sig[12:32]))
	return append(sig, hdr...)
}

func TestHostileCountsAreRefused(t *testing.T) {
	data := hostile41()
	_, err := NewWalker(bytes.NewReader(data), int64(len(data)))
	if err == nil || !strings.Contains(err.Error(), "4294967295 files") {
		t.Fatalf("err = %v", err)
	}
}

// The check reads what 7-Zip writes: encoded (LZMA) headers of the
// fixtures, and a header of each kind from 7zz with other settings.
func TestHeaderCheckAcceptsRealArchives(t *testing.T) {
	for _, name := range []string{"tree.7z", "encrypted.7z"} {
		f, size := archivetest.Open(t, name)
		if err := checkHeader(f, size); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := exec.LookPath("7zz"); err != nil {
		t.Skip("7zz not installed")
	}
	tree := filepath.Dir(archivetest.Fixture(t, "tree.tar"))
	for _, args := range [][]string{{"-mhc=off"}, {"-m0=lzma2", "-mhc=on"}, {"-m0=lzma"}, {"-ms=off"}, {"-m0=copy", "-mhc=off"}, {"-m0=bzip2"}} {
		out := filepath.Join(t.TempDir(), "x.7z")
		cmd := exec.Command("7zz", append(append([]string{"a", "-bso0", "-bsp0"}, args...), out, filepath.Join(tree, "tree.sha256"), filepath.Join(tree, "tree.a"))...)
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("7zz %v: %v\n%s", args, err, msg)
		}
		f, err := os.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := f.Stat()
		if err := checkHeader(f, st.Size()); err != nil {
			t.Errorf("7zz %v: %v", args, err)
		}
		w, err := NewWalker(f, st.Size())
		if err != nil {
			t.Errorf("7zz %v: %v", args, err)
		} else if got := archivetest.Walk(t, w); len(got.Files) != 2 {
			t.Errorf("7zz %v: files %v", args, got.Files)
		}
		f.Close()
	}
}
