package iso9660

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/archive/archivetest"
)

// The images were written by genisoimage and xorriso from the tree.
// ISO 9660 has no hard links: links/hard.txt is a file of its own.
func TestRockRidgeAndJoliet(t *testing.T) {
	tree := archivetest.Tree(t)
	for _, name := range []string{"tree.iso", "tree-xorriso.iso", "tree-joliet.iso"} {
		t.Run(name, func(t *testing.T) {
			f, size := archivetest.Open(t, name)
			w, err := NewWalker(f, size)
			if err != nil {
				t.Fatal(err)
			}
			got := archivetest.Walk(t, w)
			want := tree
			if name == "tree-joliet.iso" {
				// Joliet names stop at 64 characters.
				want = archivetest.Subset(tree, func(n string) bool { return len(n) < 64 })
				got.Files = archivetest.Subset(got.Files, func(n string) bool { return len(n) < 64 })
			}
			archivetest.Equal(t, name, got.Files, want)
			tool := got.Entries["bin/tool"]
			if name == "tree-joliet.iso" {
				if tool.ModeKnown {
					t.Errorf("Joliet has no modes, got %v", tool.Mode)
				}
				return
			}
			if tool.Mode != 0o755|fs.ModeSetuid || tool.ModTime.Unix() != 1700000000 {
				t.Errorf("bin/tool mode %v mtime %v", tool.Mode, tool.ModTime)
			}
			if got.Symlinks["links/soft.txt"] != "../hello.txt" {
				t.Errorf("symlink %q", got.Symlinks["links/soft.txt"])
			}
		})
	}
}

// Without extensions, names are ISO's: upper case, version dropped.
func TestPlainNames(t *testing.T) {
	tree := archivetest.Tree(t)
	f, size := archivetest.Open(t, "tree-plain.iso")
	w, err := NewWalker(f, size)
	if err != nil {
		t.Fatal(err)
	}
	got := archivetest.Walk(t, w)
	archivetest.Equal(t, "tree-plain.iso", got.Files, map[string]string{"NUMBERS.TXT": tree["doc/deep/deeper/numbers.txt"]})
}

func TestDirectoryLoop(t *testing.T) {
	data, err := os.ReadFile(archivetest.Dir(t) + "/hostile/loop.iso")
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWalker(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := archivetest.WalkErr(w); err == nil || !strings.Contains(err.Error(), "loops back") {
		t.Fatalf("err = %v", err)
	}
}

func TestTruncated(t *testing.T) {
	data, err := os.ReadFile(archivetest.Fixture(t, "tree.iso"))
	if err != nil {
		t.Fatal(err)
	}
	hello := bytes.Index(data, []byte("hello, world"))
	for _, cut := range []int{1000, 16 * 2048, 18*2048 + 100, hello + 5} {
		w, err := NewWalker(bytes.NewReader(data[:cut]), int64(cut))
		if err != nil {
			continue
		}
		if _, err := archivetest.WalkErr(w); err == nil {
			t.Errorf("cut at %d: no error", cut)
		}
	}
}

// multiextent.iso stores NUMBERS.TXT in two extents, as files over 4 GiB
// are; xorriso, reading it, agrees.
func TestMultiExtentFile(t *testing.T) {
	tree := archivetest.Tree(t)
	f, size := archivetest.Open(t, "multiextent.iso")
	w, err := NewWalker(f, size)
	if err != nil {
		t.Fatal(err)
	}
	got := archivetest.Walk(t, w)
	want := map[string]string{"NUMBERS.TXT": tree["doc/deep/deeper/numbers.txt"]}
	archivetest.Equal(t, "multiextent.iso", got.Files, want)
	if _, err := exec.LookPath("xorriso"); err != nil {
		t.Skip("xorriso not installed")
	}
	dir := t.TempDir()
	out, err := exec.Command("xorriso", "-no_rc", "-osirrox", "on", "-indev", archivetest.Fixture(t, "multiextent.iso"),
		"-extract", "/NUMBERS.TXT", filepath.Join(dir, "n")).CombinedOutput()
	if err != nil {
		t.Fatalf("xorriso: %v\n%s", err, out)
	}
	data, err := os.ReadFile(filepath.Join(dir, "n"))
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != want["NUMBERS.TXT"] {
		t.Errorf("xorriso reads the file differently: the fixture is wrong")
	}
}

// OpenAt reads a file of two extents at any offset as Open reads it in
// turn.
func TestOpenAtMultiExtent(t *testing.T) {
	f, size := archivetest.Open(t, "multiextent.iso")
	w, err := NewWalker(f, size)
	if err != nil {
		t.Fatal(err)
	}
	for {
		e, err := w.Next()
		if err != nil {
			t.Fatalf("no NUMBERS.TXT: %v", err)
		}
		if e.Name == "NUMBERS.TXT" {
			break
		}
	}
	r, err := w.Open()
	if err != nil {
		t.Fatal(err)
	}
	want, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	ra, n, err := w.OpenAt()
	if err != nil || n != int64(len(want)) {
		t.Fatalf("OpenAt: size %d, %v; want %d", n, err, len(want))
	}
	if _, ok := ra.(*extentsReader); !ok {
		t.Fatalf("the fixture's file has one extent: %T", ra)
	}
	for _, off := range []int{0, 1, len(want)/2 - 3, len(want) - 10} {
		for _, l := range []int{1, 7, len(want)} {
			buf := make([]byte, l)
			m, err := ra.ReadAt(buf, int64(off))
			wantN := min(l, len(want)-off)
			if m != wantN || !bytes.Equal(buf[:m], want[off:off+m]) || (m < l) != (err == io.EOF) {
				t.Errorf("ReadAt(%d bytes, %d) = %d, %v; want %d bytes", l, off, m, err, wantN)
			}
		}
	}
}
