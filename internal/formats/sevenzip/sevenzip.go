// Package sevenzip walks 7z archives with github.com/bodgit/sevenzip.
// Members come in the archive's order, which is the order of the solid
// blocks, so each block is decoded once.
package sevenzip

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/bodgit/sevenzip"

	"github.com/hashr-dev/hashr/internal/formats/archive"
)

// Magic starts every 7z archive.
var Magic = []byte{'7', 'z', 0xbc, 0xaf, 0x27, 0x1c}

// Walker walks a 7z archive.
type Walker struct {
	zr   *sevenzip.Reader
	next int
	cur  *sevenzip.File
	open io.ReadCloser
}

// NewWalker reads the header of the 7z archive r of size bytes.
func NewWalker(r io.ReaderAt, size int64) (w *Walker, err error) {
	defer func() {
		// The library trusts some header fields; a hostile header must be
		// an error for this archive, not the end of the process.
		if p := recover(); p != nil {
			w, err = nil, archive.Corrupt("7z", -1, fmt.Sprint("bad header: ", p))
		}
	}()
	if err := checkHeader(r, size); err != nil {
		return nil, archive.Corrupt("7z", -1, err.Error())
	}
	zr, err := sevenzip.NewReader(r, size)
	if err != nil {
		var re *sevenzip.ReadError
		if errors.As(err, &re) && re.Encrypted {
			return nil, archive.Corrupt("7z", -1, "encrypted header: "+archive.ErrEncrypted.Error())
		}
		return nil, archive.Corrupt("7z", -1, strings.TrimPrefix(err.Error(), "sevenzip: "))
	}
	return &Walker{zr: zr}, nil
}

// Next implements archive.Walker.
func (w *Walker) Next() (*archive.Entry, error) {
	w.closeMember()
	if w.next >= len(w.zr.File) {
		return nil, io.EOF
	}
	f := w.zr.File[w.next]
	w.next++
	w.cur = f
	mode := f.Mode()
	e := &archive.Entry{
		Name:    strings.ReplaceAll(f.Name, `\`, "/"),
		Size:    int64(f.UncompressedSize),
		ModTime: f.Modified,
	}
	if e.Size < 0 {
		return nil, archive.Corrupt("7z", -1, "negative size")
	}
	if f.Attributes&0xf0000000 != 0 { // a Unix mode is stored
		e.Mode = mode & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
		e.ModeKnown = true
	}
	switch {
	case mode.IsDir():
		e.Type = archive.Dir
	case mode&fs.ModeSymlink != 0:
		e.Type = archive.Symlink
	case mode.IsRegular():
		e.Type = archive.Regular
	default:
		e.Type = archive.Other
	}
	return e, nil
}

// Open implements archive.Walker.
func (w *Walker) Open() (r io.Reader, err error) {
	if w.cur == nil {
		return nil, archive.ErrNotRegular
	}
	defer func() {
		if p := recover(); p != nil {
			r, err = nil, archive.Corrupt("7z", -1, fmt.Sprint("bad block: ", p))
		}
	}()
	rc, err := w.cur.Open()
	if err != nil {
		return nil, memberError(err)
	}
	w.open = rc
	return memberReader{rc}, nil
}

type memberReader struct{ r io.Reader }

func (m memberReader) Read(p []byte) (n int, err error) {
	defer func() {
		if r := recover(); r != nil {
			n, err = 0, archive.Corrupt("7z", -1, fmt.Sprint("bad block: ", r))
		}
	}()
	n, err = m.r.Read(p)
	if err != nil && err != io.EOF {
		err = memberError(err)
	}
	return n, err
}

func memberError(err error) error {
	var re *sevenzip.ReadError
	if errors.As(err, &re) && re.Encrypted {
		return archive.ErrEncrypted
	}
	msg := strings.TrimPrefix(err.Error(), "sevenzip: ")
	if strings.Contains(msg, "unsupported compression method") || strings.Contains(msg, "unsupported method") {
		return fmt.Errorf("%w: %s", archive.ErrUnsupportedMethod, msg)
	}
	return archive.Truncated("7z", -1, err)
}

func (w *Walker) closeMember() {
	if w.open != nil {
		_ = w.open.Close()
		w.open = nil
	}
	w.cur = nil
}

// Close implements archive.Closer.
func (w *Walker) Close() error {
	w.closeMember()
	return nil
}
