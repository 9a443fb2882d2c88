package squashfs

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/archive"
	"github.com/hashr-dev/hashr/internal/formats/fstest"
)

// Every compressor mksquashfs has, with fragments, without, and with
// uncompressed metadata: the files walked are the directory's, byte for
// byte, hard links included.
func TestGroundTruth(t *testing.T) {
	fstest.NeedTool(t, "mksquashfs")
	dir := fstest.Tree(t, fstest.Options{})
	want := fstest.Sums(t, dir)
	cases := []struct {
		name string
		args []string
	}{
		{"gzip", []string{"-comp", "gzip"}},
		{"lzma", []string{"-comp", "lzma"}},
		{"lzo", []string{"-comp", "lzo"}},
		{"xz", []string{"-comp", "xz"}},
		{"lz4", []string{"-comp", "lz4"}},
		{"zstd", []string{"-comp", "zstd"}},
		{"no-fragments", []string{"-comp", "gzip", "-no-fragments", "-b", "4096"}},
		{"uncompressed", []string{"-noI", "-noD", "-noF", "-always-use-fragments"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			img := filepath.Join(t.TempDir(), "x.squashfs")
			fstest.Run(t, "mksquashfs", append([]string{dir, img, "-noappend", "-no-progress", "-quiet"}, c.args...)...)
			w, err := fstest.OpenImage(t, img, Probe, NewWalker)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := fstest.Walk(t, w)
			fstest.Equal(t, got, want)
		})
	}
}

func TestHostile(t *testing.T) {
	for _, name := range seeds(t) {
		img, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		fstest.Hostile(t, img, NewWalker)
		// Truncated: the last bytes the walk needs are missing.
		fstest.MustFail(t, name, img, fstest.LastData(img)-1, NewWalker)
		// A zeroed superblock is not squashfs.
		z := bytes.Clone(img)
		clear(z[:superblockSize])
		if _, err := NewWalker(bytes.NewReader(z), int64(len(z))); err == nil {
			t.Error("zeroed superblock accepted")
		}
	}
}

// A directory listing whose entry points back at the root is a loop.
func TestLoop(t *testing.T) {
	img, err := os.ReadFile(filepath.Join("testdata", "loop.squashfs"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWalker(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	for {
		_, err := w.Next()
		if err == io.EOF {
			t.Fatal("walked a looping directory to its end")
		}
		if err != nil {
			var ce *archive.CorruptError
			if !errorsAs(err, &ce) {
				t.Fatalf("got %v, want a CorruptError", err)
			}
			return
		}
	}
}

func seeds(t testing.TB) []string { return fstest.Seeds(t, "*.squashfs") }

func FuzzWalker(f *testing.F) { fstest.FuzzWalker(f, seeds(f), NewWalker) }

func errorsAs(err error, target any) bool { return errors.As(err, target) }
