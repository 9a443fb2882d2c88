package apt

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/hashr-dev/hashr/internal/formats/decompress"
)

// Package is one stanza of a Packages index: what a .deb must be.
type Package struct {
	Package, Version, Architecture, Maintainer string
	Description                                string // its first line is the package's summary
	// Filename is the .deb's path relative to the mirror root.
	Filename string
	Size     int64
	SHA256   string // lowercase hex
}

// ParsePackages reads a Packages index (uncompressed).
func ParsePackages(r io.Reader) ([]Package, error) {
	var pkgs []Package
	err := readStanzas(r, func(s stanza) error {
		p, err := packageOf(s)
		if err != nil {
			return err
		}
		pkgs = append(pkgs, p)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("parsing Packages: %w", err)
	}
	return pkgs, nil
}

func packageOf(s stanza) (Package, error) {
	p := Package{
		Package: s["Package"], Version: s["Version"], Architecture: s["Architecture"],
		Maintainer: s["Maintainer"], Description: s["Description"], Filename: s["Filename"], SHA256: strings.ToLower(s["SHA256"]),
	}
	if p.Package == "" || p.Filename == "" {
		return p, fmt.Errorf("stanza %q: no Package or Filename field", truncate(p.Package))
	}
	if !isSHA256Hex(p.SHA256) {
		return p, fmt.Errorf("package %s: SHA256 %q is not 64 hex digits", p.Package, truncate(p.SHA256))
	}
	size, err := strconv.ParseInt(s["Size"], 10, 64)
	if err != nil || size < 0 {
		return p, fmt.Errorf("package %s: bad Size %q", p.Package, s["Size"])
	}
	p.Size = size
	if cleanRel(p.Filename) == "" {
		return p, fmt.Errorf("package %s: Filename %q leaves the mirror", p.Package, truncate(p.Filename))
	}
	return p, nil
}

// indexVariants are the forms of a Packages index, in the order they are
// preferred: the Release lists each that the mirror may hold.
var indexVariants = []string{"Packages.xz", "Packages.gz", "Packages"}

// PackageIndexes returns the Packages indexes the Release lists, one per
// component and architecture directory (main/binary-amd64), each as the
// variant that distDir holds, sorted.
func (rel *Release) PackageIndexes(distDir string) []string {
	return rel.PackageIndexesFS(os.DirFS(distDir))
}

// PackageIndexesFS is PackageIndexes of the suite at the top of fsys.
func (rel *Release) PackageIndexesFS(fsys fs.FS) []string {
	dirs := map[string]bool{}
	for p := range rel.Files {
		if base := path.Base(p); base == "Packages" || strings.HasPrefix(base, "Packages.") {
			dirs[path.Dir(p)] = true
		}
	}
	var out []string
	for dir := range dirs {
		for _, v := range indexVariants {
			p := path.Join(dir, v)
			if _, listed := rel.Files[p]; !listed {
				continue
			}
			if _, err := fs.Stat(fsys, p); err == nil {
				out = append(out, p)
				break
			}
		}
	}
	sort.Strings(out)
	return out
}

// ReadPackages reads the index at rel path p of distDir, checks its
// bytes against the Release, and parses it.
func (rel *Release) ReadPackages(distDir, p string) ([]Package, error) {
	return rel.ReadPackagesFS(os.DirFS(distDir), distDir, p)
}

// ReadPackagesFS is ReadPackages of the suite at the top of fsys, where
// naming it in messages.
func (rel *Release) ReadPackagesFS(fsys fs.FS, where, p string) ([]Package, error) {
	want, ok := rel.Files[p]
	if !ok {
		return nil, fmt.Errorf("index %s is not listed in the Release: it cannot be trusted", p)
	}
	file := path.Join(where, p)
	data, err := readExact(fsys, p, file, want.Size)
	if err != nil {
		return nil, err
	}
	if err := checkDigest(data, want); err != nil {
		return nil, fmt.Errorf("index %s: %w", file, err)
	}
	method, _ := decompress.ForSuffix(path.Ext(p))
	if path.Base(p) == "Packages" {
		method = decompress.None
	}
	r, err := decompress.NewReader(method, bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", file, err)
	}
	defer r.Close()
	pkgs, err := ParsePackages(r)
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", file, err)
	}
	return pkgs, nil
}

// readExact reads name from fsys, refusing one that is not the size the
// Release says before reading a byte of it (when its size is known) or
// past that size.
func readExact(fsys fs.FS, name, file string, size int64) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, fmt.Errorf("reading index: %w", err)
	}
	defer f.Close()
	if info, err := f.Stat(); err == nil && info.Size() >= 0 && info.Size() != size {
		return nil, fmt.Errorf("index %s: %d bytes, but the signed Release says %d (altered or stale)", file, info.Size(), size)
	}
	data, err := io.ReadAll(io.LimitReader(f, size+1))
	if err != nil {
		return nil, fmt.Errorf("reading index %s: %w", file, err)
	}
	return data, nil
}

// ErrMismatch is wrapped by every digest or size mismatch.
var ErrMismatch = errors.New("does not match its signed index")

func checkDigest(data []byte, want Digest) error {
	sum := sha256.Sum256(data)
	if int64(len(data)) != want.Size {
		return fmt.Errorf("%w: %d bytes, want %d", ErrMismatch, len(data), want.Size)
	}
	if got := hex.EncodeToString(sum[:]); got != want.SHA256 {
		return fmt.Errorf("%w: sha256 %s, want %s", ErrMismatch, got, want.SHA256)
	}
	return nil
}

// CheckDeb reads r to its end and checks its bytes against p's Size and
// SHA256.
func CheckDeb(p Package, r io.Reader) error {
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(r, p.Size+1))
	if err != nil {
		return fmt.Errorf("reading %s: %w", p.Filename, err)
	}
	if n > p.Size {
		return fmt.Errorf("%s %w: more than the %d bytes its index says", p.Filename, ErrMismatch, p.Size)
	}
	if n < p.Size {
		return fmt.Errorf("%s %w: %d bytes, want %d", p.Filename, ErrMismatch, n, p.Size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != p.SHA256 {
		return fmt.Errorf("%s %w: sha256 %s, want %s", p.Filename, ErrMismatch, got, p.SHA256)
	}
	return nil
}

// cleanRel returns the mirror-relative form of a Filename, "" when it
// leaves the mirror.
func cleanRel(name string) string {
	clean := path.Clean(name)
	if clean == ".." || strings.HasPrefix(clean, "../") || path.IsAbs(clean) {
		return ""
	}
	return clean
}
