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
}

// NewWalker walks the uncompressed tar stream r.
func NewWalker(r io.Reader) *Walker {
	cr := &countingReader{r: r}
	return &Walker{tr: tar.NewReader(cr), offset: cr}
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
	case tar.TypeReg, tar.TypeRegA, tar.TypeCont, tar.TypeGNUSparse:
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
	return truncationReader{w.tr, w.offset}, nil
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
