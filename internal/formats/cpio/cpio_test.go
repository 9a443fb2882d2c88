package cpio

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/archive"
	"github.com/hashr-dev/hashr/internal/formats/archive/archivetest"
)

// The fixtures were written by GNU cpio in each header format.
func TestEveryHeaderFormat(t *testing.T) {
	tree := archivetest.Tree(t)
	for _, name := range []string{"tree.cpio", "tree-crc.cpio", "tree-odc.cpio", "tree-bin.cpio"} {
		t.Run(name, func(t *testing.T) {
			f, _ := archivetest.Open(t, name)
			got := archivetest.Walk(t, NewWalker(f))
			want := tree
			if name == "tree-bin.cpio" { // sizes are 16-bit there; the script leaves bin/tool out
				want = archivetest.Subset(tree, func(n string) bool { return n != "bin/tool" })
			}
			archivetest.Equal(t, name, got.Resolved(), want)
			if got.Symlinks["links/soft.txt"] != "../hello.txt" {
				t.Errorf("symlink target %q", got.Symlinks["links/soft.txt"])
			}
			if e := got.Entries["bin/tool"]; e != nil && e.Mode != 0o755|fs.ModeSetuid {
				t.Errorf("bin/tool mode %v", e.Mode)
			}
		})
	}
}

// newc stores a set of hard links' data once, with the last name: the
// others come out as hard links to it.
func TestNewcHardLinks(t *testing.T) {
	f, _ := archivetest.Open(t, "tree.cpio")
	got := archivetest.Walk(t, NewWalker(f))
	if len(got.Links) != 1 {
		t.Fatalf("hard links %v, want one", got.Links)
	}
	for name, target := range got.Links {
		if !(name == "hello.txt" && target == "links/hard.txt" || name == "links/hard.txt" && target == "hello.txt") {
			t.Errorf("hard link %s -> %s", name, target)
		}
	}
}

func TestStrippedHeaders(t *testing.T) {
	w := NewWalker(bytes.NewReader(strippedArchive()))
	names := map[uint32]string{0: "./a", 1: "./l1", 2: "./l2", 3: "./c"}
	w.SetStripped(func(i uint32) (*archive.Entry, int64, error) {
		switch i {
		case 0:
			return &archive.Entry{Name: names[i], Type: archive.Regular, Size: 5}, 5, nil
		case 1, 2:
			return &archive.Entry{Name: names[i], Type: archive.Hardlink, Linkname: "./c", Size: -1}, 0, nil
		case 3:
			return &archive.Entry{Name: names[i], Type: archive.Regular, Size: 3}, 3, nil
		}
		return nil, 0, errors.New("no such file")
	})
	got := archivetest.Walk(t, w)
	if strings.Join(got.Order, ",") != "a,c,l1,l2" {
		t.Errorf("order %v", got.Order)
	}
	if got.Links["l1"] != "c" || got.Links["l2"] != "c" || len(got.Files) != 2 {
		t.Errorf("files %v links %v", got.Files, got.Links)
	}
	if _, err := archivetest.WalkErr(NewWalker(bytes.NewReader(strippedArchive()))); err == nil {
		t.Error("a stripped archive outside an RPM must fail")
	}
}

func TestTruncated(t *testing.T) {
	data, err := os.ReadFile(archivetest.Fixture(t, "tree.cpio"))
	if err != nil {
		t.Fatal(err)
	}
	for _, cut := range []int{0, 50, 200, 1000, len(data) / 2, len(data) - 600} {
		_, err := archivetest.WalkErr(NewWalker(bytes.NewReader(data[:cut])))
		var corrupt *archive.CorruptError
		if !errors.As(err, &corrupt) {
			t.Errorf("cut at %d: err = %v, want a CorruptError", cut, err)
		}
	}
	gz, _ := archivetest.Open(t, "tree.cpio.gz")
	zr, err := gzip.NewReader(gz)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := archivetest.WalkErr(NewWalker(zr)); err != nil {
		t.Errorf("tree.cpio.gz: %v", err)
	}
}
