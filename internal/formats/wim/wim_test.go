package wim

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/archive"
	wimtest "github.com/hashr-dev/hashr/internal/formats/archive/archivetest"
)

// The ground truth: WIMs captured by wimlib-imagex from a directory of
// files unpacked from real Debian packages must walk to that directory's
// (path, sha256) multiset, image by image.

func walkAll(t *testing.T, w archive.Walker) (map[string]string, map[string]string) {
	t.Helper()
	files := map[string]string{}
	images := map[string]string{}
	for {
		e, err := w.Next()
		if err == io.EOF {
			return files, images
		}
		if err != nil {
			t.Fatalf("walking: %v", err)
		}
		if e.Type == archive.Dir && !strings.Contains(e.Name, "/") {
			images[e.Name] = e.Image
		}
		if e.Type != archive.Regular {
			continue
		}
		r, err := w.Open()
		if err != nil {
			t.Fatalf("opening %s: %v", e.Name, err)
		}
		h := sha256.New()
		n, err := io.Copy(h, r)
		if err != nil {
			t.Fatalf("reading %s: %v", e.Name, err)
		}
		if e.Size >= 0 && n != e.Size {
			t.Errorf("%s: %d bytes, entry says %d", e.Name, n, e.Size)
		}
		files[e.Name] = hex.EncodeToString(h.Sum(nil))
	}
}

func openWIM(t *testing.T, name string) (*Walker, error) {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return NewWalker(bytes.NewReader(data), int64(len(data)))
}

func TestGroundTruthCompressions(t *testing.T) {
	src := wimtest.SourceTree(t)
	want := wimtest.TreeSums(t, src, "1/")
	dir := t.TempDir()
	cases := []struct {
		name      string
		args      []string
		needsConv bool
	}{
		{"none", []string{"--compress=none"}, false},
		{"xpress", []string{"--compress=XPRESS"}, false},
		{"lzx", []string{"--compress=LZX"}, false},
		{"lzms", []string{"--compress=LZMS"}, true},
		{"solid-lzms", []string{"--solid"}, true},
		{"solid-xpress", []string{"--compress=XPRESS", "--solid", "--solid-compress=XPRESS"}, false},
		{"solid-lzx", []string{"--compress=LZX", "--solid", "--solid-compress=LZX", "--solid-chunk-size=32768"}, false},
		{"lzx-64k", []string{"--compress=LZX", "--chunk-size=65536"}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(dir, c.name+".wim")
			wimtest.Run(t, "wimlib-imagex", append([]string{"capture", src, out, "Debian files", "--flags=Professional"}, c.args...)...)
			w, err := openWIM(t, out)
			if c.needsConv {
				if !errors.Is(err, ErrNeedsWimlib) {
					t.Fatalf("opening: %v, want ErrNeedsWimlib", err)
				}
				conv := filepath.Join(dir, c.name+".conv.wim")
				if err := Convert(t.Context(), out, conv); err != nil {
					t.Fatal(err)
				}
				w, err = openWIM(t, conv)
			}
			if err != nil {
				t.Fatal(err)
			}
			got, images := walkAll(t, w)
			wimtest.Compare(t, got, want)
			if images["1"] != "Debian files (Professional)" {
				t.Errorf("image label %q", images["1"])
			}
		})
	}
}

func TestTwoImages(t *testing.T) {
	src := wimtest.SourceTree(t)
	second := t.TempDir()
	// A second, different tree: the first's files under another name plus
	// one of its own.
	wimtest.Run(t, "cp", "-a", src+"/.", second)
	if err := os.WriteFile(filepath.Join(second, "second-image-only.txt"), []byte("only in image 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "two.wim")
	wimtest.Run(t, "wimlib-imagex", "capture", src, out, "First", "--compress=LZX")
	wimtest.Run(t, "wimlib-imagex", "append", second, out, "Second", "--flags=ServerStandard")
	w, err := openWIM(t, out)
	if err != nil {
		t.Fatal(err)
	}
	got, images := walkAll(t, w)
	want := wimtest.TreeSums(t, src, "1/")
	for k, v := range wimtest.TreeSums(t, second, "2/") {
		want[k] = v
	}
	wimtest.Compare(t, got, want)
	if images["1"] != "First" || images["2"] != "Second (ServerStandard)" {
		t.Errorf("image labels %q", images)
	}
	if n := len(w.Reader().Images); n != 2 {
		t.Errorf("%d images", n)
	}
}

func TestSplitWIMIsAnError(t *testing.T) {
	src := wimtest.SourceTree(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "x.wim")
	wimtest.Run(t, "wimlib-imagex", "capture", src, out, "x", "--compress=LZX")
	wimtest.Run(t, "wimlib-imagex", "split", out, filepath.Join(dir, "x.swm"), "1")
	parts, _ := filepath.Glob(filepath.Join(dir, "x*.swm"))
	if len(parts) < 2 {
		t.Fatalf("split made %d parts", len(parts))
	}
	_, err := openWIM(t, parts[0])
	if !errors.Is(err, ErrSplit) {
		t.Fatalf("opening a split part: %v, want ErrSplit", err)
	}
}

// TestCorrupt damages a real WIM in many places: every walk ends in an
// error or EOF, never a panic.
func TestCorrupt(t *testing.T) {
	src := wimtest.SourceTree(t)
	out := filepath.Join(t.TempDir(), "x.wim")
	wimtest.Run(t, "wimlib-imagex", "capture", src, out, "x", "--compress=XPRESS")
	good, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var errs int
	for _, cut := range []int{0, 8, 100, 207, 208, 4096, len(good) / 2, len(good) - 1} {
		if exercise(good[:cut]) != nil {
			errs++
		}
	}
	for i := 0; i < 200; i++ {
		bad := bytes.Clone(good)
		pos := (i*7919 + 13) % len(bad)
		if i%2 == 0 {
			pos = len(bad) - 1 - (i*131)%min(len(bad), 1<<16) // the tables are at the end
		}
		bad[pos] ^= 0x5a
		if exercise(bad) != nil {
			errs++
		}
	}
	if errs == 0 {
		t.Error("no damage was noticed")
	}
}

func exercise(data []byte) error {
	w, err := NewWalker(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return err
	}
	return walkExercise(w)
}

// walkExercise walks w to its end, reading every regular file (up to 64
// MiB each), and returns the first error.
func walkExercise(w *Walker) error {
	var firstErr error
	for range 100000 {
		e, err := w.Next()
		if err == io.EOF {
			return firstErr
		}
		if err != nil {
			return err
		}
		if e.Type != archive.Regular {
			continue
		}
		r, err := w.Open()
		if err == nil {
			_, err = io.Copy(io.Discard, io.LimitReader(r, 64<<20))
		}
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return errors.New("too many entries")
}
