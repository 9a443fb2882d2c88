// Package ar walks Unix ar archives: the container of Debian packages and
// of static libraries, in the common (System V / GNU) and BSD variants.
//
// Why not a library: none was measured; the format is a 60-byte text
// header per member and the GNU and BSD long-name schemes, about 200
// lines here.
package ar

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/hashr-dev/hashr/internal/formats/archive"
)

// Magic starts every ar archive.
const Magic = "!<arch>\n"

const headerSize = 60

// maxNameTable bounds the GNU long-name table kept in memory.
const maxNameTable = 16 << 20

// Walker reads an ar stream member by member.
type Walker struct {
	r         io.Reader
	offset    int64
	started   bool
	remaining int64 // bytes of the current member not yet read
	pad       int64 // padding byte after the current member
	names     []byte
	cur       *archive.Entry
}

// NewWalker walks the ar archive r.
func NewWalker(r io.Reader) *Walker { return &Walker{r: r} }

func (w *Walker) corrupt(reason string) error { return archive.Corrupt("ar", w.offset, reason) }

// Next implements archive.Walker.
func (w *Walker) Next() (*archive.Entry, error) {
	if !w.started {
		w.started = true
		var magic [len(Magic)]byte
		if _, err := io.ReadFull(w.r, magic[:]); err != nil {
			return nil, archive.Truncated("ar", 0, err)
		}
		w.offset = int64(len(magic))
		if string(magic[:]) != Magic {
			return nil, w.corrupt("not an ar archive")
		}
	}
	for {
		if err := w.skipRest(); err != nil {
			return nil, err
		}
		var h [headerSize]byte
		n, err := io.ReadFull(w.r, h[:])
		if err == io.EOF {
			return nil, io.EOF
		}
		if err != nil {
			return nil, archive.Truncated("ar", w.offset+int64(n), err)
		}
		start := w.offset
		w.offset += headerSize
		if h[58] != '`' || h[59] != '\n' {
			return nil, archive.Corrupt("ar", start, "bad member header")
		}
		size, err := parseDecimal(h[48:58])
		if err != nil {
			return nil, archive.Corrupt("ar", start, "bad member size")
		}
		w.remaining, w.pad = size, size&1
		name := strings.TrimRight(string(h[0:16]), " ")
		switch {
		case name == "//": // GNU long-name table
			if size > maxNameTable {
				return nil, archive.Corrupt("ar", start, "long-name table too large")
			}
			w.names = make([]byte, size)
			if err := w.readFull(w.names); err != nil {
				return nil, err
			}
			continue
		case name == "/" || name == "/SYM64/" || name == "__.SYMDEF" || name == "__.SYMDEF SORTED":
			continue // symbol tables
		case strings.HasPrefix(name, "#1/"): // BSD: the name follows the header
			n, err := strconv.ParseInt(name[3:], 10, 64)
			if err != nil || n < 0 || n > size || n > 4096 {
				return nil, archive.Corrupt("ar", start, "bad BSD name length")
			}
			buf := make([]byte, n)
			if err := w.readFull(buf); err != nil {
				return nil, err
			}
			name = string(bytes.TrimRight(buf, "\x00"))
		case len(name) > 1 && name[0] == '/' && isDigits(name[1:]): // GNU: offset into the table
			off, _ := strconv.ParseInt(name[1:], 10, 64)
			if off >= int64(len(w.names)) {
				return nil, archive.Corrupt("ar", start, "long name outside the name table")
			}
			rest := w.names[off:]
			end := bytes.Index(rest, []byte("/\n"))
			if end < 0 {
				end = bytes.IndexByte(rest, '\n')
			}
			if end < 0 {
				return nil, archive.Corrupt("ar", start, "unterminated long name")
			}
			name = string(rest[:end])
		default:
			name = strings.TrimSuffix(name, "/") // GNU ends short names with '/'
		}
		if name == "" {
			return nil, archive.Corrupt("ar", start, "empty member name")
		}
		e := &archive.Entry{Name: name, Type: archive.Regular, Size: w.remaining}
		if mode, err := strconv.ParseUint(strings.TrimSpace(string(h[40:48])), 8, 32); err == nil {
			e.Mode = archive.UnixMode(mode)
			e.ModeKnown = true
		}
		if mtime, err := strconv.ParseInt(strings.TrimSpace(string(h[16:28])), 10, 64); err == nil {
			e.ModTime = time.Unix(mtime, 0)
		}
		w.cur = e
		return e, nil
	}
}

// Open implements archive.Walker.
func (w *Walker) Open() (io.Reader, error) {
	if w.cur == nil {
		return nil, archive.ErrNotRegular
	}
	return &memberReader{w: w}, nil
}

// memberReader reads the current member and keeps the walker's count of
// what is left of it.
type memberReader struct{ w *Walker }

func (m *memberReader) Read(p []byte) (int, error) {
	w := m.w
	if w.remaining == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > w.remaining {
		p = p[:w.remaining]
	}
	n, err := w.r.Read(p)
	w.remaining -= int64(n)
	w.offset += int64(n)
	if err == io.EOF && w.remaining > 0 {
		err = archive.Corrupt("ar", w.offset, "truncated")
	}
	if err == nil && w.remaining == 0 {
		err = io.EOF
	}
	return n, err
}

// skipRest moves past what is left of the current member and its padding.
func (w *Walker) skipRest() error {
	skip := w.remaining + w.pad
	w.remaining, w.pad = 0, 0
	if skip == 0 {
		return nil
	}
	n, err := io.CopyN(io.Discard, w.r, skip)
	w.offset += n
	if err == io.EOF && n == skip-1 && skip&1 == 1 {
		return nil // a missing final padding byte is common and harmless
	}
	if err != nil {
		return archive.Truncated("ar", w.offset, err)
	}
	return nil
}

func (w *Walker) readFull(buf []byte) error {
	n, err := io.ReadFull(w.r, buf)
	w.offset += int64(n)
	w.remaining -= int64(n)
	if err != nil {
		return archive.Truncated("ar", w.offset, err)
	}
	return nil
}

func parseDecimal(field []byte) (int64, error) {
	s := strings.TrimSpace(string(field))
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad number %q", s)
	}
	return n, nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
