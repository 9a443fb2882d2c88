package tar

import (
	"bufio"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/archive"
	"github.com/hashr-dev/hashr/internal/formats/archive/archivetest"
)

// The fixtures were written by GNU tar from a tree whose sums sha256sum
// took (scripts/fixtures-extract.sh).
func TestGNUAndPAXArchivesHoldTheTree(t *testing.T) {
	tree := archivetest.Tree(t)
	for _, name := range []string{"tree.tar", "tree-pax.tar"} {
		t.Run(name, func(t *testing.T) {
			f, _ := archivetest.Open(t, name)
			got := archivetest.Walk(t, NewWalker(bufio.NewReader(f)))
			archivetest.Equal(t, name, got.Resolved(), tree)
			if got.Links["links/hard.txt"] != "hello.txt" {
				t.Errorf("links/hard.txt: hard link to %q, want hello.txt", got.Links["links/hard.txt"])
			}
			if got.Symlinks["links/soft.txt"] != "../hello.txt" {
				t.Errorf("links/soft.txt: symlink to %q", got.Symlinks["links/soft.txt"])
			}
			tool := got.Entries["bin/tool"]
			if tool.Mode != 0o755|fs.ModeSetuid || !tool.ModeKnown {
				t.Errorf("bin/tool mode %v, want setuid 0755", tool.Mode)
			}
			if tool.ModTime.Unix() != 1700000000 {
				t.Errorf("bin/tool mtime %v", tool.ModTime)
			}
		})
	}
}

func TestUstar(t *testing.T) {
	tree := archivetest.Tree(t)
	f, _ := archivetest.Open(t, "tree-ustar.tar")
	got := archivetest.Walk(t, NewWalker(f))
	want := archivetest.Subset(tree, func(n string) bool {
		return n == "hello.txt" || strings.HasPrefix(n, "bin/") || strings.HasPrefix(n, "doc/deep/")
	})
	archivetest.Equal(t, "tree-ustar.tar", got.Files, want)
}

func TestSparseFilesReadWithTheirHoles(t *testing.T) {
	data, err := os.ReadFile(archivetest.Fixture(t, "sparse.sha256"))
	if err != nil {
		t.Fatal(err)
	}
	sum, _, _ := strings.Cut(string(data), "  ")
	for _, name := range []string{"sparse-gnu.tar", "sparse-pax.tar"} {
		f, _ := archivetest.Open(t, name)
		got := archivetest.Walk(t, NewWalker(f))
		archivetest.Equal(t, name, got.Files, map[string]string{"disk.img": sum})
	}
}

func TestTruncatedArchivesFail(t *testing.T) {
	data, err := os.ReadFile(archivetest.Fixture(t, "tree.tar"))
	if err != nil {
		t.Fatal(err)
	}
	// Every cut, in the middle of a header, of a member, and exactly at
	// a block boundary (where archive/tar alone sees a clean end).
	for _, cut := range []int{100, 512, 1024, 1536, 5000, 10240, 30000, len(data) - 10240} {
		_, err := archivetest.WalkErr(NewWalker(bytes.NewReader(data[:cut])))
		var corrupt *archive.CorruptError
		if !errors.As(err, &corrupt) {
			t.Errorf("cut at %d: err = %v, want a CorruptError", cut, err)
		}
	}
	if _, err := archivetest.WalkErr(NewWalker(bytes.NewReader(data))); err != nil {
		t.Errorf("whole archive: %v", err)
	}
}
