// Package fstest helps the file-system readers' ground-truth tests: it
// builds a directory of real files (a few real Debian packages unpacked,
// plus the awkward cases: empty, sparse, multi-block, hard-linked, long
// and non-ASCII names), sums it, and compares a walk of an image built
// from it by the file system's own Debian tools with that directory.
package fstest

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/archive"
	"github.com/hashr-dev/hashr/internal/formats/archive/archivetest"
	"github.com/hashr-dev/hashr/internal/testcorpus"
)

// NeedTool fails the test in CI (which installs .ci/install-deps.txt)
// and skips it elsewhere when a tool is missing.
func NeedTool(t testing.TB, tools ...string) {
	t.Helper()
	testcorpus.NeedTools(t, tools...)
}

// Unavailable fails in CI and skips elsewhere.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	testcorpus.Unavailable(t, format, args...)
}

// Run runs a tool and fails the test with its output if it fails.
func Run(t testing.TB, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// Options shapes the tree to what a file system can hold.
type Options struct {
	// NoSymlinks drops symlinks (FAT and exFAT have none).
	NoSymlinks bool
	// NoHardlinks adds no hard link.
	NoHardlinks bool
	// Packages are the corpus packages to unpack, by name prefix;
	// default a few small ones.
	Packages []string
}

var defaultPackages = []string{"gzip_", "sed_", "less_", "file_"}

// Tree builds the directory and returns its path.
func Tree(t testing.TB, o Options) string {
	t.Helper()
	NeedTool(t, "dpkg-deb")
	debs := corpus(t)
	dir := filepath.Join(t.TempDir(), "tree")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	pkgs := o.Packages
	if pkgs == nil {
		pkgs = defaultPackages
	}
	for _, p := range pkgs {
		found := false
		for _, d := range debs {
			if strings.HasPrefix(filepath.Base(d), p) {
				Run(t, "dpkg-deb", "-x", d, dir)
				found = true
				break
			}
		}
		if !found {
			Unavailable(t, "no %s*.deb in the corpus", p)
		}
	}
	extra := filepath.Join(dir, "extra")
	must(t, os.MkdirAll(filepath.Join(extra, "deep", "a", "b", "c", "d"), 0o755))
	must(t, os.WriteFile(filepath.Join(extra, "empty"), nil, 0o644))
	must(t, os.WriteFile(filepath.Join(extra, "deep", "a", "b", "c", "d", "leaf.txt"), []byte("deep\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(extra, "Grüße aus Köln — ein recht langer Dateiname.txt"), []byte("unicode name\n"), 0o644))
	big := make([]byte, 700_001) // several blocks and clusters, an odd tail
	_, _ = rand.Read(big)
	must(t, os.WriteFile(filepath.Join(extra, "random.bin"), big, 0o644))
	// A sparse file: data, a 3 MiB hole, data.
	sp, err := os.Create(filepath.Join(extra, "sparse.bin"))
	must(t, err)
	_, err = sp.Write([]byte("start of a sparse file\n"))
	must(t, err)
	_, err = sp.WriteAt([]byte("end of a sparse file\n"), 3<<20+12345)
	must(t, err)
	must(t, sp.Close())
	if !o.NoHardlinks {
		must(t, os.Link(filepath.Join(extra, "random.bin"), filepath.Join(extra, "random-hardlink.bin")))
	}
	if o.NoSymlinks {
		must(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Type()&fs.ModeSymlink != 0 {
				return os.Remove(p)
			}
			return err
		}))
	}
	return dir
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// corpus returns the Debian packages of scripts/corpus.sh, fetching them
// first when needed (as internal/extract's ground-truth tests do).
func corpus(t testing.TB) []string {
	t.Helper()
	return testcorpus.Files(t, "deb", ".deb")
}

// Sums is the sha256 of every regular file under dir, by slash path
// relative to dir (hard links under each of their names).
func Sums(t testing.TB, dir string) map[string]string {
	t.Helper()
	sums := map[string]string{}
	must(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return err
		}
		sums[filepath.ToSlash(rel)] = hex.EncodeToString(h.Sum(nil))
		return nil
	}))
	return sums
}

// OpenImage opens the image file img, which probe must recognise, and
// returns open's walker of it (or open's error); the file is closed when
// the test ends.
func OpenImage(t testing.TB, img string, probe func(r io.ReaderAt, size int64) bool,
	open func(r io.ReaderAt, size int64) (archive.Walker, error)) (archive.Walker, error) {
	t.Helper()
	f, size := archivetest.OpenFile(t, img)
	if !probe(f, size) {
		t.Fatal("Probe says no")
	}
	return open(f, size)
}

// Walk walks w to its end and returns the sha256 of every Regular entry
// and of every Hardlink (its target's), by cleaned name; entries marked
// System are left out and returned by name apart.
func Walk(t testing.TB, w archive.Walker) (files map[string]string, system []string) {
	t.Helper()
	defer archive.Close(w)
	files = map[string]string{}
	links := map[string]string{}
	for {
		e, err := w.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("walking: %v", err)
		}
		name := clean(e.Name)
		if e.System {
			system = append(system, name)
			continue
		}
		switch e.Type {
		case archive.Regular:
			r, err := w.Open()
			if err != nil {
				t.Fatalf("opening %s: %v", name, err)
			}
			h := sha256.New()
			n, err := io.Copy(h, r)
			if err != nil {
				t.Fatalf("reading %s: %v", name, err)
			}
			if e.Size >= 0 && n != e.Size {
				t.Errorf("%s: entry says %d bytes, read %d", name, e.Size, n)
			}
			if _, dup := files[name]; dup {
				t.Errorf("%s walked twice", name)
			}
			files[name] = hex.EncodeToString(h.Sum(nil))
		case archive.Hardlink:
			links[name] = clean(e.Linkname)
		}
	}
	for name, target := range links {
		sum, ok := files[target]
		if !ok {
			t.Errorf("hard link %s to %s, which is not a file walked before", name, target)
		}
		files[name] = sum
	}
	return files, system
}

func clean(name string) string {
	return path.Clean(strings.TrimLeft(name, "/"))
}

// Equal reports every difference between two path → sha256 maps.
func Equal(t testing.TB, got, want map[string]string) {
	t.Helper()
	bad := 0
	for name, sum := range want {
		g, ok := got[name]
		switch {
		case !ok:
			t.Errorf("%s missing", name)
			bad++
		case g != sum:
			t.Errorf("%s has sha256 %s, want %s", name, g, sum)
			bad++
		}
		if bad > 20 {
			t.Fatal("too many differences")
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("unexpected %s", name)
		}
	}
	if len(got) == len(want) && !t.Failed() {
		t.Logf("%d files match the directory the image was built from", len(want))
	}
}

// Hostile runs the corrupt-image checks every reader must pass: the image
// truncated at several points, read short of the size it is said to
// have, and random bytes flipped. open builds a walker; each must fail or
// walk without a panic, allocating at most maxAlloc bytes per image
// (walks are bounded to 5000 entries and 4 MiB of each).
func Hostile(t *testing.T, img []byte, open func(r io.ReaderAt, size int64) (archive.Walker, error)) {
	t.Helper()
	const maxAlloc = 256 << 20
	var ms runtime.MemStats
	try := func(what string, data []byte) {
		runtime.ReadMemStats(&ms)
		before := ms.TotalAlloc
		w, err := open(readerAt(data), int64(len(data)))
		if err == nil {
			_ = exercise(w)
		}
		runtime.ReadMemStats(&ms)
		if n := ms.TotalAlloc - before; n > maxAlloc {
			t.Errorf("%s image of %d bytes: walking it allocated %d MiB", what, len(data), n>>20)
		}
	}
	for _, frac := range []int{1, 2, 4, 8, 16, 32, 64} {
		n := len(img) * frac / 128
		try("truncated", img[:n])
	}
	// Same size as claimed, but the tail missing: size says more than
	// the reader has.
	for _, frac := range []int{16, 64, 100} {
		n := len(img) * frac / 128
		data := img[:n]
		w, err := open(readerAt(data), int64(len(img)))
		if err == nil {
			_ = exercise(w)
		}
	}
	mut := make([]byte, len(img))
	var seed [8]byte
	for i := range 30 {
		copy(mut, img)
		_, _ = rand.Read(seed[:])
		for j := range 64 {
			k := (int(seed[j%8])<<16 | int(seed[(j+3)%8])<<8 | i*977 + j*7919) % len(mut)
			mut[k] ^= seed[(j+1)%8] | 1
		}
		try("mutated", mut)
	}
}

type readerAt []byte

func (b readerAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, io.ErrUnexpectedEOF
	}
	if off >= int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// exercise walks at most 5000 entries, reading at most 4 MiB of each.
func exercise(w archive.Walker) error { return archivetest.Exercise(w, 4<<20, 5000) }

// WalkToCorrupt walks w, an image whose directories loop, and requires the
// walk to stop with a CorruptError rather than end or go on for ever.
func WalkToCorrupt(t testing.TB, w archive.Walker) {
	t.Helper()
	for {
		_, err := w.Next()
		if err == io.EOF {
			t.Fatal("walked a directory loop to its end")
		}
		if err != nil {
			var ce *archive.CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want a CorruptError", err)
			}
			return
		}
	}
}

// StripISOBridge turns a UDF bridge image into a UDF-only one: the ISO 9660
// descriptors at sector 16 on make way for the UDF recognition sequence
// (BEA01, NSR02, TEA01), which is where mkudffs puts it.
func StripISOBridge(t testing.TB, img string) {
	t.Helper()
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	var vrs [][]byte
	for s := 16; s < 64; s++ {
		d := b[s*2048 : (s+1)*2048]
		switch string(d[1:6]) {
		case "BEA01", "NSR02", "NSR03", "TEA01":
			vrs = append(vrs, bytes.Clone(d))
		}
		if string(d[1:6]) == "TEA01" {
			break
		}
	}
	if len(vrs) != 3 {
		t.Fatalf("found %d UDF recognition descriptors", len(vrs))
	}
	for s := 16; s < 64 && string(b[s*2048+1:s*2048+6]) != "\x00\x00\x00\x00\x00"; s++ {
		clear(b[s*2048 : (s+1)*2048])
	}
	for i, d := range vrs {
		copy(b[(16+i)*2048:], d)
	}
	if err := os.WriteFile(img, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// MustFail walks img truncated to cut bytes and fails the test unless an
// error comes out somewhere: from the walker, an Open or a Read. cut
// should be before bytes the walk needs (a file's data, the last
// metadata) or the file system's own idea of its size.
func MustFail(t *testing.T, what string, img []byte, cut int, open func(r io.ReaderAt, size int64) (archive.Walker, error)) {
	t.Helper()
	w, err := open(readerAt(img[:cut]), int64(cut))
	if err != nil {
		return
	}
	defer archive.Close(w)
	for range 100000 {
		e, err := w.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return
		}
		if e.Type == archive.Regular {
			r, err := w.Open()
			if err != nil {
				return
			}
			if _, err := io.Copy(io.Discard, r); err != nil {
				return
			}
		}
	}
	t.Errorf("%s: cut at byte %d of %d, walked without an error", what, cut, len(img))
}

// LastData is the offset just past the last non-zero byte of img.
func LastData(img []byte) int {
	n := len(img)
	for n > 0 && img[n-1] == 0 {
		n--
	}
	return n
}

// Seeds returns the images in testdata matching pattern, which
// scripts/mkfsseeds.sh makes; none is an error.
func Seeds(t testing.TB, pattern string) []string {
	t.Helper()
	names, _ := filepath.Glob(filepath.Join("testdata", pattern))
	if len(names) == 0 {
		t.Fatal("no seed images in testdata (scripts/mkfsseeds.sh)")
	}
	return names
}

// FuzzWalker fuzzes a file system reader from the seed images named:
// every input that open accepts is walked and its files read, within
// archivetest.Exercise's bounds; a panic or a hang fails.
func FuzzWalker(f *testing.F, seeds []string, open func(r io.ReaderAt, size int64) (archive.Walker, error)) {
	for _, name := range seeds {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		w, err := open(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		_ = archivetest.Exercise(w, 1<<20, 2000)
	})
}
