// Package zip walks zip archives and the formats built on them (jar, whl,
// egg, apk, nupkg, docx, …), zip64 included. Members are walked in
// central-directory order; an encrypted member or one compressed with a
// method hashr cannot decode is an error for that member only.
package zip

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"

	"github.com/klauspost/compress/zip"

	"github.com/hashr-dev/hashr/internal/formats/archive"
	"github.com/hashr-dev/hashr/internal/formats/decompress"
)

// Compression methods beyond store and deflate that zip tools write.
const (
	methodBzip2 = 12
	methodZstd  = 93
	methodXZ    = 95
	methodAES   = 99 // WinZip AES encryption
)

// Host systems in the "version made by" field whose external attributes
// carry a Unix mode.
const (
	hostUnix = 3
	hostOSX  = 19
)

// Walker walks a zip archive.
type Walker struct {
	zr   *zip.Reader
	next int
	cur  *zip.File
	open io.ReadCloser
}

// NewWalker reads the central directory of the zip archive r of size
// bytes.
func NewWalker(r io.ReaderAt, size int64) (*Walker, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, archive.Corrupt("zip", -1, strings.TrimPrefix(err.Error(), "zip: "))
	}
	// The same decoders, and limits, as everywhere else in hashr.
	for method, m := range map[uint16]decompress.Method{methodBzip2: decompress.Bzip2, methodZstd: decompress.Zstd, methodXZ: decompress.XZ} {
		zr.RegisterDecompressor(method, func(r io.Reader) io.ReadCloser {
			d, err := decompress.NewReader(m, r)
			if err != nil {
				return errorReader{err}
			}
			return d
		})
	}
	return &Walker{zr: zr}, nil
}

type errorReader struct{ err error }

func (e errorReader) Read([]byte) (int, error) { return 0, e.err }
func (e errorReader) Close() error             { return nil }

// Len is the number of members the central directory lists.
func (w *Walker) Len() int { return len(w.zr.File) }

// Next implements archive.Walker.
func (w *Walker) Next() (*archive.Entry, error) {
	w.closeMember()
	if w.next >= len(w.zr.File) {
		return nil, io.EOF
	}
	f := w.zr.File[w.next]
	w.next++
	w.cur = f
	name := f.Name
	host := f.CreatorVersion >> 8
	if host != hostUnix && host != hostOSX && strings.Contains(name, `\`) {
		name = strings.ReplaceAll(name, `\`, "/") // written on Windows
	}
	e := &archive.Entry{
		Name:    name,
		Size:    int64(f.UncompressedSize64),
		ModTime: f.Modified,
	}
	if e.Size < 0 {
		e.Size = -1
	}
	mode := f.Mode()
	if host == hostUnix || host == hostOSX {
		e.Mode = mode & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
		e.ModeKnown = f.ExternalAttrs>>16 != 0
	}
	switch {
	case strings.HasSuffix(f.Name, "/") && f.UncompressedSize64 > 0:
		// A directory's name, and bytes: Open says they cannot be read,
		// so that they are reported rather than dropped with the
		// directory.
		e.Type = archive.Regular
	case strings.HasSuffix(f.Name, "/") || mode.IsDir():
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
func (w *Walker) Open() (io.Reader, error) {
	f := w.cur
	if f == nil {
		return nil, archive.ErrNotRegular
	}
	if f.Flags&0x1 != 0 || f.Method == methodAES {
		return nil, archive.ErrEncrypted
	}
	if strings.HasSuffix(f.Name, "/") {
		return nil, fmt.Errorf("%w: a directory entry (its name ends in \"/\") that holds %d bytes: they are not extracted", archive.ErrNotRegular, f.UncompressedSize64)
	}
	rc, err := f.Open()
	if err != nil {
		if errors.Is(err, zip.ErrAlgorithm) {
			return nil, &methodError{method: f.Method}
		}
		return nil, archive.Corrupt("zip", -1, strings.TrimPrefix(err.Error(), "zip: "))
	}
	w.open = rc
	return memberReader{rc}, nil
}

// memberReader names zip's own errors (a bad checksum) as corruption.
type memberReader struct{ r io.Reader }

func (m memberReader) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	if err != nil && err != io.EOF {
		if errors.Is(err, zip.ErrChecksum) {
			err = archive.Corrupt("zip", -1, "checksum mismatch")
		} else {
			err = archive.Truncated("zip", -1, err)
		}
	}
	return n, err
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

// methodError is a member compressed with a method not supported.
type methodError struct{ method uint16 }

func (e *methodError) Error() string {
	name := map[uint16]string{9: "Deflate64", 14: "LZMA", 97: "WavPack", 98: "PPMd"}[e.method]
	if name == "" {
		name = "method " + strconv.Itoa(int(e.method))
	}
	return archive.ErrUnsupportedMethod.Error() + ": " + name
}

func (e *methodError) Unwrap() error { return archive.ErrUnsupportedMethod }
