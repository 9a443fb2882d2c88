package rpm

import (
	"bytes"
	"encoding/binary"
	"io/fs"
	"os"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/archive/archivetest"
)

// The packages were built by rpmbuild from files of the tree, one per
// payload compression.
func TestEveryPayloadCompression(t *testing.T) {
	tree := archivetest.Tree(t)
	want := map[string]string{
		"usr/share/hello/hello.txt":    tree["hello.txt"],
		"usr/share/hello/hardlink.txt": tree["hello.txt"],
		"usr/share/hello/numbers.txt":  tree["doc/deep/deeper/numbers.txt"],
		"usr/bin/tool":                 tree["bin/tool"],
	}
	for _, z := range []string{"xz", "zstd", "gzip", "bzip2", "lzma"} {
		t.Run(z, func(t *testing.T) {
			f, _ := archivetest.Open(t, "hello-"+z+".rpm")
			got := archivetest.Walk(t, NewWalker(f, nil))
			archivetest.Equal(t, z, got.Resolved(), want)
			if got.Symlinks["usr/share/hello/symlink.txt"] != "hello.txt" {
				t.Errorf("symlink %v", got.Symlinks)
			}
			if e := got.Entries["usr/bin/tool"]; e.Mode != 0o755|fs.ModeSetuid {
				t.Errorf("tool mode %v", e.Mode)
			}
		})
	}
}

// The header's file table, which stripped payloads rely on, agrees with
// the payload.
func TestFileTable(t *testing.T) {
	f, _ := archivetest.Open(t, "hello-xz.rpm")
	w := NewWalker(f, nil)
	if _, err := w.Next(); err != nil {
		t.Fatal(err)
	}
	files, err := w.fileTable()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]fileInfo{}
	for _, fi := range files {
		byName[fi.name] = fi
	}
	if fi := byName["/usr/share/hello/numbers.txt"]; fi.size != 78894 || fi.mode&0o170000 != 0o100000 {
		t.Errorf("numbers.txt: %+v", fi)
	}
	if fi := byName["/usr/share/hello/symlink.txt"]; fi.linkto != "hello.txt" {
		t.Errorf("symlink.txt: %+v", fi)
	}
	last := linkSets(files)
	var hello, hard int
	for i, fi := range files {
		switch fi.name {
		case "/usr/share/hello/hello.txt":
			hello = i
		case "/usr/share/hello/hardlink.txt":
			hard = i
		}
	}
	if last[hello] != max(hello, hard) || last[hard] != max(hello, hard) {
		t.Errorf("link sets: hello %d -> %d, hardlink %d -> %d", hello, last[hello], hard, last[hard])
	}
}

func TestTruncatedAndHostileHeaders(t *testing.T) {
	data, err := os.ReadFile(archivetest.Fixture(t, "hello-gzip.rpm"))
	if err != nil {
		t.Fatal(err)
	}
	for _, cut := range []int{50, 100, 500, 2500, len(data) / 2, len(data) - 10} {
		if _, err := archivetest.WalkErr(NewWalker(bytes.NewReader(data[:cut]), nil)); err == nil {
			t.Errorf("cut at %d: no error", cut)
		}
	}
	// A tag whose count would need 16 GiB must fail, not allocate it.
	lead := make([]byte, leadSize)
	copy(lead, Lead)
	lead[4] = 3
	hdr := func(count uint32) []byte {
		b := []byte{0x8e, 0xad, 0xe8, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 16}
		ix := make([]byte, 16)
		binary.BigEndian.PutUint32(ix[0:], tagLongFileSizes)
		binary.BigEndian.PutUint32(ix[4:], typeInt64)
		binary.BigEndian.PutUint32(ix[12:], count)
		return append(append(b, ix...), make([]byte, 16)...)
	}
	hostile := append(append(append(lead, hdr(1)...), hdr(0x7ffffff0)...), []byte("07070X0000000000")...)
	w := NewWalker(bytes.NewReader(hostile), nil)
	if _, err := archivetest.WalkErr(w); err == nil {
		t.Error("hostile header: no error")
	}
}
