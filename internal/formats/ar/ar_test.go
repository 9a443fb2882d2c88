package ar

import (
	"bytes"
	"errors"
	"os"
	"path"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/archive"
	"github.com/hashr-dev/hashr/internal/formats/archive/archivetest"
)

// tree.a was written by GNU ar (with a long-name table) from files of the
// tree; ar keeps base names only.
func TestGNUArchive(t *testing.T) {
	tree := archivetest.Tree(t)
	want := map[string]string{}
	for name, sum := range tree {
		switch {
		case name == "hello.txt", name == "empty", strings.HasSuffix(name, "numbers.txt"), strings.HasPrefix(path.Base(name), "nnnn"):
			want[path.Base(name)] = sum
		}
	}
	f, _ := archivetest.Open(t, "tree.a")
	got := archivetest.Walk(t, NewWalker(f))
	archivetest.Equal(t, "tree.a", got.Files, want)
	if order := strings.Join(got.Order[:2], ","); order != "hello.txt,empty" {
		t.Errorf("order %s", order)
	}
}

func TestBSDNames(t *testing.T) {
	var b bytes.Buffer
	b.WriteString(Magic)
	name := "a-long-bsd-member-name.txt"
	data := "bsd\n"
	hdr := []byte(strings.Repeat(" ", headerSize))
	copy(hdr, "#1/26")
	copy(hdr[48:], "30")
	copy(hdr[58:], "`\n")
	b.Write(hdr)
	b.WriteString(name + data)
	got := archivetest.Walk(t, NewWalker(&b))
	if _, ok := got.Files[name]; !ok || len(got.Files) != 1 {
		t.Fatalf("got %v", got.Files)
	}
}

func TestTruncated(t *testing.T) {
	data, err := os.ReadFile(archivetest.Fixture(t, "tree.a"))
	if err != nil {
		t.Fatal(err)
	}
	for _, cut := range []int{3, 8 + 30, 8 + 60 + 5, 200} {
		_, err := archivetest.WalkErr(NewWalker(bytes.NewReader(data[:cut])))
		var corrupt *archive.CorruptError
		if !errors.As(err, &corrupt) {
			t.Errorf("cut at %d: err = %v, want a CorruptError", cut, err)
		}
	}
}
