// Package archivetest helps the format readers' tests: it walks a reader
// to a summary that can be compared with what the fixtures were built
// from (testdata/extract, scripts/fixtures-extract.sh).
package archivetest

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/archive"
)

// Dir is the repository's testdata directory.
func Dir(t testing.TB) string {
	_, here, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(here), "..", "..", "..", "..", "testdata")
}

// Fixture is the path of a file under testdata/extract.
func Fixture(t testing.TB, name string) string {
	return filepath.Join(Dir(t), "extract", name)
}

// Open opens a fixture.
func Open(t testing.TB, name string) (*os.File, int64) {
	t.Helper()
	return OpenFile(t, Fixture(t, name))
}

// OpenFile opens the file at path, closed when the test ends, and
// returns it with its size.
func OpenFile(t testing.TB, path string) (*os.File, int64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return f, st.Size()
}

// Tree is the sha256 of every regular file of the tree the fixtures hold,
// by path, as sha256sum computed it from the tree itself.
func Tree(t testing.TB) map[string]string {
	t.Helper()
	f, err := os.Open(Fixture(t, "tree.sha256"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sums := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("bad line in tree.sha256: %q", sc.Text())
		}
		sums[name] = sum
	}
	return sums
}

// Walked is what a walk found.
type Walked struct {
	// Files maps the cleaned name of each Regular entry to its sha256.
	Files map[string]string
	// Links maps each Hardlink's cleaned name to its cleaned target.
	Links map[string]string
	// Symlinks maps each Symlink's cleaned name to its target.
	Symlinks map[string]string
	Entries  map[string]*archive.Entry
	// Order lists the names in walk order.
	Order []string
}

// Walk walks w to the end and fails the test on any error.
func Walk(t testing.TB, w archive.Walker) *Walked {
	t.Helper()
	got, err := WalkErr(w)
	if err != nil {
		t.Fatalf("walking: %v", err)
	}
	return got
}

// WalkErr walks w, stopping at the first error, which it returns with
// what was walked until then.
func WalkErr(w archive.Walker) (*Walked, error) {
	defer archive.Close(w)
	got := &Walked{Files: map[string]string{}, Links: map[string]string{}, Symlinks: map[string]string{}, Entries: map[string]*archive.Entry{}}
	for {
		e, err := w.Next()
		if err == io.EOF {
			return got, nil
		}
		if err != nil {
			return got, err
		}
		name := Clean(e.Name)
		got.Order = append(got.Order, name)
		got.Entries[name] = e
		switch e.Type {
		case archive.Regular:
			r, err := w.Open()
			if err != nil {
				return got, err
			}
			h := sha256.New()
			n, err := io.Copy(h, r)
			if err != nil {
				return got, err
			}
			if e.Size >= 0 && n != e.Size {
				return got, &sizeError{name, e.Size, n}
			}
			got.Files[name] = hex.EncodeToString(h.Sum(nil))
		case archive.Hardlink:
			got.Links[name] = Clean(e.Linkname)
		case archive.Symlink:
			got.Symlinks[name] = e.Linkname
		}
	}
}

type sizeError struct {
	name      string
	want, got int64
}

func (e *sizeError) Error() string {
	return e.name + ": header says " + itoa(e.want) + " bytes, read " + itoa(e.got)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// Clean drops a leading "./" or "/" and cleans the name.
func Clean(name string) string {
	name = strings.TrimLeft(name, "/")
	if name == "" {
		return "."
	}
	return path.Clean(name)
}

// Resolved is Files with every hard link given its target's sum.
func (w *Walked) Resolved() map[string]string {
	out := map[string]string{}
	for k, v := range w.Files {
		out[k] = v
	}
	for k, target := range w.Links {
		if sum, ok := w.Files[target]; ok {
			out[k] = sum
		}
	}
	return out
}

// Equal compares two name → sum maps and reports every difference.
func Equal(t testing.TB, what string, got, want map[string]string) {
	t.Helper()
	for name, sum := range want {
		if g, ok := got[name]; !ok {
			t.Errorf("%s: %s missing", what, name)
		} else if g != sum {
			t.Errorf("%s: %s has sha256 %s, want %s", what, name, g, sum)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s: unexpected %s", what, name)
		}
	}
}

// Subset is the part of m whose names pass keep.
func Subset(m map[string]string, keep func(string) bool) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		if keep(k) {
			out[k] = v
		}
	}
	return out
}

// Exercise walks w the way a fuzz target should: every entry, at most
// maxBytes of each member, at most maxEntries entries. It returns the
// first error; it must never panic or hang.
func Exercise(w archive.Walker, maxBytes int64, maxEntries int) error {
	defer archive.Close(w)
	for range maxEntries {
		e, err := w.Next()
		if err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		if e.Type != archive.Regular {
			continue
		}
		if ra, ok := w.(archive.RandomAccess); ok {
			exerciseOpenAt(ra, maxBytes)
		}
		r, err := w.Open()
		if err != nil {
			continue
		}
		if _, err := io.CopyN(io.Discard, r, maxBytes); err != nil && err != io.EOF {
			continue
		}
	}
	return nil
}

// exerciseOpenAt reads the current file through OpenAt at its start, its
// middle, across its end and past it, at most maxBytes in all.
func exerciseOpenAt(w archive.RandomAccess, maxBytes int64) {
	ra, size, err := w.OpenAt()
	if err != nil {
		return
	}
	buf := make([]byte, min(maxBytes/4, 4096))
	for _, off := range []int64{0, size / 2, size - int64(len(buf))/2, size, size + 1} {
		if off >= 0 {
			ra.ReadAt(buf, off)
		}
	}
}

// Seeds adds the fixtures named to a fuzz target's corpus, cut to at most
// max bytes each (the start of a file is where the structure is).
func Seeds(f *testing.F, max int, names ...string) {
	for _, name := range names {
		data, err := os.ReadFile(Fixture(f, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data[:min(len(data), max)])
	}
}
