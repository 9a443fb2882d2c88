package zip

import (
	"errors"
	"io"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/archive"
	"github.com/hashr-dev/hashr/internal/formats/archive/archivetest"
)

// The fixtures were written by Info-ZIP zip (deflate, stored, zip64,
// bzip2) from the tree; zip stores the hard link as a second file.
func TestEveryMethod(t *testing.T) {
	tree := archivetest.Tree(t)
	for _, name := range []string{"tree.zip", "tree-stored.zip", "tree-zip64.zip", "tree-bzip2.zip", "tree.jar"} {
		t.Run(name, func(t *testing.T) {
			f, size := archivetest.Open(t, name)
			w, err := NewWalker(f, size)
			if err != nil {
				t.Fatal(err)
			}
			got := archivetest.Walk(t, w)
			archivetest.Equal(t, name, got.Files, tree)
			if _, ok := got.Symlinks["links/soft.txt"]; !ok {
				t.Errorf("links/soft.txt is not a symlink")
			}
			if e := got.Entries["bin/tool"]; !e.ModeKnown || e.Mode.Perm() != 0o755 {
				t.Errorf("bin/tool mode %v", e.Mode)
			}
		})
	}
}

// An encrypted member and a PPMd one fail alone; the rest is read.
func TestMemberErrorsAreTheirOwn(t *testing.T) {
	f, size := archivetest.Open(t, "mixed.zip")
	w, err := NewWalker(f, size)
	if err != nil {
		t.Fatal(err)
	}
	errs := map[string]error{}
	read := map[string]bool{}
	for {
		e, err := w.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		r, err := w.Open()
		if err != nil {
			errs[e.Name] = err
			continue
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			t.Fatalf("%s: %v", e.Name, err)
		}
		read[e.Name] = true
	}
	if !errors.Is(errs["bin/tool"], archive.ErrEncrypted) {
		t.Errorf("bin/tool: %v", errs["bin/tool"])
	}
	if !errors.Is(errs["doc/deep/deeper/numbers.txt"], archive.ErrUnsupportedMethod) {
		t.Errorf("numbers.txt: %v", errs["doc/deep/deeper/numbers.txt"])
	}
	if !read["hello.txt"] || !read["empty"] {
		t.Errorf("read %v", read)
	}
}

func TestNotAZip(t *testing.T) {
	f, size := archivetest.Open(t, "tree.tar")
	if _, err := NewWalker(f, size); err == nil {
		t.Fatal("a tar opened as a zip")
	}
}
