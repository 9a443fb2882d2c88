// Package tar walks tar archives (ustar, GNU, PAX; long names, sparse
// files, hard links) for hashr-extract. Compression around the archive is
// the caller's business (internal/formats/decompress).
package tar

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"io/fs"

	"github.com/hashr-dev/hashr/internal/formats/archive"
)

// Walker reads a tar stream entry by entry.
type Walker struct {
	tr     *tar.Reader
	cur    *tar.Header
	offset *countingReader
	holes  archive.Meter
}

// NewWalker walks the uncompressed tar stream r.
func NewWalker(r io.Reader) *Walker {
	cr := &countingReader{r: r}
	return &Walker{tr: tar.NewReader(cr), offset: cr}
}

// NewMeteredWalker walks r and tells holes of every byte of a sparse
// member's holes as it is read: bytes the archive does not hold, so that
// the caller counts them as expanded, like a decompressor's output (GNU
// tar -S stores a 10 GiB file of zeros in 10 KiB).
func NewMeteredWalker(r io.Reader, holes archive.Meter) *Walker {
	w := NewWalker(r)
	w.holes = holes
	return w
}

// Next implements archive.Walker.
func (w *Walker) Next() (*archive.Entry, error) {
	hdr, err := w.tr.Next()
	if err == io.EOF {
		// archive/tar takes an archive cut at a member boundary for a
		// complete one; a real end has at least one zero block.
		if w.offset.n > 0 && w.offset.trailingZeros < blockSize {
			return nil, archive.Corrupt("tar", w.offset.n, "truncated: no end-of-archive blocks")
		}
		return nil, io.EOF
	}
	if err != nil {
		if errors.Is(err, tar.ErrHeader) {
			return nil, archive.Corrupt("tar", w.offset.n, "invalid header")
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, archive.Corrupt("tar", w.offset.n, "truncated")
		}
		return nil, archive.Corrupt("tar", w.offset.n, err.Error())
	}
	w.cur = hdr
	e := &archive.Entry{
		Name:      hdr.Name,
		Size:      hdr.Size,
		Mode:      hdr.FileInfo().Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky),
		ModeKnown: true,
		ModTime:   hdr.ModTime,
		Linkname:  hdr.Linkname,
	}
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeCont, tar.TypeGNUSparse: // archive/tar reports a legacy TypeRegA file as TypeReg
		e.Type = archive.Regular
	case tar.TypeLink:
		e.Type = archive.Hardlink
		e.Size = -1
	case tar.TypeSymlink:
		e.Type = archive.Symlink
	case tar.TypeDir:
		e.Type = archive.Dir
	default:
		e.Type = archive.Other
	}
	return e, nil
}

// Open implements archive.Walker.
func (w *Walker) Open() (io.Reader, error) {
	if w.cur == nil {
		return nil, archive.ErrNotRegular
	}
	var r io.Reader = truncationReader{w.tr, w.offset}
	if w.holes != nil {
		r = &holeMeter{r: r, offset: w.offset, m: w.holes}
	}
	return r, nil
}

// holeMeter reports the bytes a member's reads return beyond what they
// took from the archive: a sparse member's holes. archive/tar reads a
// member's data straight from the stream, so for any other member the two
// are equal.
type holeMeter struct {
	r      io.Reader
	offset *countingReader
	m      archive.Meter
	err    error
}

func (h *holeMeter) Read(p []byte) (int, error) {
	if h.err != nil {
		return 0, h.err
	}
	before := h.offset.n
	n, err := h.r.Read(p)
	if holes := int64(n) - (h.offset.n - before); holes > 0 {
		if merr := h.m.Expand(holes); merr != nil {
			h.err = merr
			return n, merr
		}
	}
	return n, err
}

// truncationReader reports an archive that ends inside a member as a
// truncated tar rather than a bare unexpected EOF.
type truncationReader struct {
	r      io.Reader
	offset *countingReader
}

func (t truncationReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && err != io.EOF {
		err = archive.Truncated("tar", t.offset.n, err)
	}
	return n, err
}

const blockSize = 512

// countingReader counts the bytes read so far, to say where an archive is
// broken, and how many zero bytes the bytes read end with.
type countingReader struct {
	r             io.Reader
	n             int64
	trailingZeros int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if n > 0 {
		last := bytes.LastIndexFunc(p[:n], func(r rune) bool { return r != 0 })
		if last < 0 {
			c.trailingZeros += int64(n)
		} else {
			c.trailingZeros = int64(n - 1 - last)
		}
	}
	return n, err
}
