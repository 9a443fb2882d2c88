// Package disktest builds the ground truth of the disk-image tests: a
// directory of real files (a few Debian packages unpacked, plus the odd
// cases file systems store specially: hard links, a sparse file, tiny
// files, symlinks), and the multiset of (path, sha256) of its regular
// files, to compare with what a reader finds in an image built from it.
package disktest

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/archive"
	"github.com/hashr-dev/hashr/internal/testcorpus"
)

// NeedTool fails the test in CI when a tool is missing, and skips it
// elsewhere.
func NeedTool(t testing.TB, tools ...string) {
	t.Helper()
	testcorpus.NeedTools(t, tools...)
}

// Unavailable fails in CI and skips elsewhere.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	testcorpus.Unavailable(t, format, args...)
}

// Run runs a tool and fails the test with its output when it fails.
func Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// packages are the real Debian packages the tree is made of: small ones,
// with binaries, scripts, man pages, locales and symlinks among them.
var packages = []string{"grep_", "sed_", "gzip_", "less_", "nano_", "file_", "findutils_"}

// debs returns the corpus's .deb files, fetching them when needed.
func debs(t testing.TB) []string {
	t.Helper()
	files := testcorpus.Files(t, "deb", ".deb")
	var picked []string
	for _, f := range files {
		for _, p := range packages {
			if strings.HasPrefix(filepath.Base(f), p) {
				picked = append(picked, f)
			}
		}
	}
	if len(picked) < 3 {
		Unavailable(t, "too few of the packages %v in %s", packages, filepath.Join(testcorpus.Root(), "deb"))
	}
	return picked
}

// Tree builds the directory of real files in a temporary directory and
// returns its path.
func Tree(t testing.TB) string {
	t.Helper()
	NeedTool(t, "dpkg-deb")
	dir := filepath.Join(t.TempDir(), "tree")
	for _, d := range debs(t) {
		Run(t, "dpkg-deb", "-x", d, dir)
	}
	extra := filepath.Join(dir, "hashr-test")
	must(t, os.MkdirAll(filepath.Join(extra, "deep", "er", "and", "deeper"), 0o755))
	// Tiny files (inline data in ext4, short form in XFS), an empty one.
	must(t, os.WriteFile(filepath.Join(extra, "tiny"), []byte("hello\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(extra, "small-100"), []byte(strings.Repeat("x", 100)), 0o644))
	must(t, os.WriteFile(filepath.Join(extra, "empty"), nil, 0o644))
	must(t, os.WriteFile(filepath.Join(extra, "deep", "er", "and", "deeper", strings.Repeat("long-name-", 20)), []byte("deep\n"), 0o600))
	// A sparse file: holes at the start, in the middle and at the end.
	sparse, err := os.Create(filepath.Join(extra, "sparse"))
	must(t, err)
	for _, off := range []int64{3 << 20, 9 << 20} {
		_, err := sparse.WriteAt([]byte(strings.Repeat("data in the middle of holes ", 200)), off)
		must(t, err)
	}
	must(t, sparse.Truncate(16<<20))
	must(t, sparse.Close())
	// Hundreds of extents: an ext4 extent tree below the inode, an XFS
	// extent B+tree.
	frag, err := os.Create(filepath.Join(extra, "fragmented"))
	must(t, err)
	for i := range int64(400) {
		_, err := frag.WriteAt([]byte(fmt.Sprintf("%4096d", i)), i*64<<10)
		must(t, err)
	}
	must(t, frag.Close())
	// A directory of many entries: ext4 hash trees, XFS leaf and node
	// directories.
	many := filepath.Join(extra, "many")
	must(t, os.MkdirAll(many, 0o755))
	for i := range 3000 {
		must(t, os.WriteFile(filepath.Join(many, fmt.Sprintf("file-with-a-longer-name-%05d", i)), []byte(fmt.Sprintf("%d\n", i)), 0o644))
	}
	// Hard links and a symlink.
	grep := filepath.Join(dir, "bin", "grep")
	if _, err := os.Stat(grep); err != nil {
		grep = filepath.Join(extra, "tiny")
	}
	must(t, os.Link(grep, filepath.Join(extra, "hardlink-1")))
	must(t, os.Link(grep, filepath.Join(extra, "hardlink-2")))
	must(t, os.Symlink("../tiny", filepath.Join(extra, "deep", "symlink")))
	return dir
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Sums is a multiset of "path sha256" lines.
type Sums map[string]int

// DirSums returns the sums of dir's regular files, paths relative to dir,
// each name of a hard-linked file counted.
func DirSums(t testing.TB, dir string) Sums {
	t.Helper()
	out := Sums{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
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
		out[filepath.ToSlash(rel)+" "+hex.EncodeToString(h.Sum(nil))]++
		return nil
	})
	must(t, err)
	return out
}

// WalkSums walks w and returns the sums of its regular files and hard
// links (a link has its target's sum), with prefix added to the paths it
// keeps, and the part errors met. System files are left out.
func WalkSums(w archive.Walker) (Sums, []error, error) {
	out := Sums{}
	byPath := map[string]string{}
	var parts []error
	for {
		e, err := w.Next()
		if err == io.EOF {
			return out, parts, nil
		}
		var pe *archive.PartError
		if errors.As(err, &pe) {
			parts = append(parts, err)
			continue
		}
		if err != nil {
			return out, parts, err
		}
		if e.System {
			continue
		}
		switch e.Type {
		case archive.Regular:
			r, err := w.Open()
			if err != nil {
				parts = append(parts, fmt.Errorf("%s: %w", e.Name, err))
				continue
			}
			h := sha256.New()
			n, err := io.Copy(h, r)
			if err != nil {
				parts = append(parts, fmt.Errorf("%s: %w", e.Name, err))
				continue
			}
			if e.Size >= 0 && n != e.Size {
				parts = append(parts, fmt.Errorf("%s: read %d bytes, entry says %d", e.Name, n, e.Size))
			}
			sum := hex.EncodeToString(h.Sum(nil))
			byPath[e.Name] = sum
			out[e.Name+" "+sum]++
		case archive.Hardlink:
			sum, ok := byPath[e.Linkname]
			if !ok {
				parts = append(parts, fmt.Errorf("%s: hard link to %q, not seen before", e.Name, e.Linkname))
				continue
			}
			byPath[e.Name] = sum
			out[e.Name+" "+sum]++
		}
	}
}

// Prefixed returns s with prefix before every path.
func (s Sums) Prefixed(prefix string) Sums {
	out := Sums{}
	for k, v := range s {
		out[prefix+k] += v
	}
	return out
}

// Add adds o's members to s.
func (s Sums) Add(o Sums) {
	for k, v := range o {
		s[k] += v
	}
}

// Compare fails t with the differences between want and got, and when
// want is too small to be the tree of real files.
func Compare(t testing.TB, want, got Sums) {
	t.Helper()
	Equal(t, want, got)
	if count(want) < 100 {
		t.Errorf("only %d files in the tree: is the corpus complete?", count(want))
	}
}

// Equal fails t with the differences between want and got.
func Equal(t testing.TB, want, got Sums) {
	t.Helper()
	var missing, extra []string
	for k, v := range want {
		for range v - got[k] {
			missing = append(missing, k)
		}
	}
	for k, v := range got {
		for range v - want[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing)+len(extra) > 0 {
		t.Errorf("%d of %d files missing or different, %d extra:\nmissing: %s\nextra: %s", len(missing), count(want), len(extra),
			strings.Join(first(missing, 10), "\n  "), strings.Join(first(extra, 10), "\n  "))
	}
}

func count(s Sums) int {
	n := 0
	for _, v := range s {
		n += v
	}
	return n
}

func first(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], fmt.Sprintf("… and %d more", len(s)-n))
	}
	return s
}

// Protofile writes an mkfs.xfs protofile describing dir: regular files,
// directories and symlinks (hard links become copies: protofiles have
// none).
func Protofile(t testing.TB, dir string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("/dev/null\n0 0\nd--755 0 0\n")
	var walk func(d string, depth int)
	walk = func(d string, depth int) {
		entries, err := os.ReadDir(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			p := filepath.Join(d, e.Name())
			info, err := os.Lstat(p)
			if err != nil {
				t.Fatal(err)
			}
			perm := fmt.Sprintf("%03o", info.Mode().Perm())
			ind := strings.Repeat(" ", depth)
			switch {
			case info.Mode().IsRegular():
				fmt.Fprintf(&b, "%s%s ---%s 0 0 %s\n", ind, e.Name(), perm, p)
			case info.IsDir():
				fmt.Fprintf(&b, "%s%s d--%s 0 0\n", ind, e.Name(), perm)
				walk(p, depth+1)
				fmt.Fprintf(&b, "%s$\n", ind)
			case info.Mode()&fs.ModeSymlink != 0:
				target, _ := os.Readlink(p)
				fmt.Fprintf(&b, "%s%s l--777 0 0 %s\n", ind, e.Name(), target)
			}
		}
	}
	walk(dir, 1)
	b.WriteString("$\n")
	proto := filepath.Join(t.TempDir(), "proto")
	if err := os.WriteFile(proto, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return proto
}

// Ext4 builds a file system image of dir with mke2fs -d and the options.
func Ext4(t testing.TB, dir string, size string, args ...string) string {
	t.Helper()
	NeedTool(t, "mke2fs")
	img := filepath.Join(t.TempDir(), "ext.img")
	all := append([]string{"-q", "-F", "-d", dir}, args...)
	Run(t, "mke2fs", append(all, img, size)...)
	return img
}

// XFS builds an XFS image of dir, of size bytes, with mkfs.xfs -p.
func XFS(t testing.TB, dir string, size int64, args ...string) string {
	t.Helper()
	NeedTool(t, "mkfs.xfs")
	img := filepath.Join(t.TempDir(), "xfs.img")
	f, err := os.Create(img)
	must(t, err)
	must(t, f.Truncate(size))
	must(t, f.Close())
	Run(t, "mkfs.xfs", append(append([]string{"-q", "-f", "-p", Protofile(t, dir)}, args...), img)...)
	return img
}

// Fuzz inputs describe an image sparsely, so that a seed of a 300 MiB XFS
// file system is a few KiB: a header of the image's size (8 bytes, little
// endian), then runs of (offset in 512-byte sectors: 4 bytes, length in
// bytes: 2 bytes, the bytes). What no run covers reads as zeros.

// EncodeSparse turns an image into a fuzz input.
func EncodeSparse(img []byte) []byte {
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(img)))
	zero := make([]byte, 512)
	for s := 0; s < len(img); s += 512 {
		sec := img[s:min(s+512, len(img))]
		if bytes.Equal(sec, zero[:len(sec)]) {
			continue
		}
		out = binary.LittleEndian.AppendUint32(out, uint32(s/512))
		out = binary.LittleEndian.AppendUint16(out, uint16(len(sec)))
		out = append(out, sec...)
	}
	return out
}

// DecodeSparse returns the image a fuzz input describes, its size capped
// at max bytes.
func DecodeSparse(data []byte, max int64) (io.ReaderAt, int64) {
	if len(data) < 8 {
		return bytes.NewReader(data), int64(len(data))
	}
	size := int64(binary.LittleEndian.Uint64(data) % uint64(max+1))
	img := &sparseImage{size: size}
	for p := 8; p+6 <= len(data); {
		off := int64(binary.LittleEndian.Uint32(data[p:])) * 512
		n := int(binary.LittleEndian.Uint16(data[p+4:]))
		p += 6
		n = min(n, len(data)-p)
		if off < size {
			img.runs = append(img.runs, run{off, data[p : p+n]})
		}
		p += n
	}
	return img, size
}

type run struct {
	off  int64
	data []byte
}

type sparseImage struct {
	size int64
	runs []run
}

func (s *sparseImage) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= s.size {
		return 0, io.EOF
	}
	n := len(p)
	var err error
	if off+int64(n) > s.size {
		n, err = int(s.size-off), io.EOF
	}
	clear(p[:n])
	for _, r := range s.runs {
		lo, hi := max(r.off, off), min(r.off+int64(len(r.data)), off+int64(n))
		if lo < hi {
			copy(p[lo-off:hi-off], r.data[lo-r.off:hi-r.off])
		}
	}
	return n, err
}

// Exhaust walks w to its end the way hashr-extract does, reading at most
// limit bytes of each file and at most entries entries, and reports
// whether it panicked by panicking: fuzz targets call it.
func Exhaust(w archive.Walker, entries int, limit int64) {
	defer archive.Close(w)
	for range entries {
		e, err := w.Next()
		if err == io.EOF {
			return
		}
		var pe *archive.PartError
		if errors.As(err, &pe) {
			continue
		}
		if err != nil {
			return
		}
		if e.Type == archive.Regular {
			if r, err := w.Open(); err == nil {
				io.CopyN(io.Discard, r, limit)
			}
		}
	}
}

// SmallTree is a handful of files for fuzz seeds: tiny ones, a sparse
// one, a symlink, a hard link, nested directories.
func SmallTree(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "small")
	must(t, os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "tiny"), []byte("hi\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "a", "text"), []byte(strings.Repeat("some text, ", 600)), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "a", "b", "c"), []byte(strings.Repeat("x", 70)), 0o644))
	f, err := os.Create(filepath.Join(dir, "sparse"))
	must(t, err)
	f.WriteAt([]byte("middle"), 40<<10)
	f.Truncate(100 << 10)
	f.Close()
	must(t, os.Link(filepath.Join(dir, "tiny"), filepath.Join(dir, "a", "link")))
	must(t, os.Symlink("../tiny", filepath.Join(dir, "a", "sym")))
	for i := range 40 {
		must(t, os.WriteFile(filepath.Join(dir, "a", fmt.Sprintf("many-%02d", i)), []byte{byte(i)}, 0o644))
	}
	return dir
}

// WriteSeed writes data as a seed of the fuzz target in the package's
// testdata/fuzz, when HASHR_WRITE_SEEDS is set; seeds are committed, so
// this runs only when they are remade.
func WriteSeed(t testing.TB, target, name string, data []byte) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", target)
	must(t, os.MkdirAll(dir, 0o755))
	if len(data) > 512<<10 {
		t.Fatalf("seed %s of %d bytes: too big to commit", name, len(data))
	}
	must(t, os.WriteFile(filepath.Join(dir, name), []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)), 0o644))
}

// ReadFile reads a file or fails.
func ReadFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	must(t, err)
	return b
}
