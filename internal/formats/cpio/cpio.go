// Package cpio walks cpio archives: the "new" ASCII format (070701) and
// its checksummed variant (070702), the portable ASCII format (070707),
// the old binary format in either byte order, and the stripped format
// (07070X) RPM uses for packages with files over 4 GiB, whose headers
// carry only the index of the file in the RPM header.
//
// Why not a library: not measured against cavaliergopher/cpio; the
// stripped format (07070X) is RPM's own and needs the RPM header's file
// table, which no cpio library takes.
package cpio

import (
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/hashr-dev/hashr/internal/formats/archive"
)

const (
	magicNewc     = "070701"
	magicCRC      = "070702"
	magicODC      = "070707"
	magicStripped = "07070X"
	trailer       = "TRAILER!!!"

	// maxNameSize bounds a member name; real ones are under PATH_MAX.
	maxNameSize = 64 << 10
)

// Unix file types, the top bits of st_mode.
const (
	typeMask    = 0o170000
	typeRegular = 0o100000
	typeDir     = 0o040000
	typeSymlink = 0o120000
)

// StrippedLookup describes the file at index in the RPM header, for a
// stripped (07070X) member: its entry, and how many bytes of it the
// archive holds (0 for all but the last name of a set of hard links).
type StrippedLookup func(index uint32) (e *archive.Entry, stored int64, err error)

// Walker reads a cpio stream member by member.
type Walker struct {
	r        io.Reader
	offset   int64
	align    int64 // data alignment of the current member's format
	left     int64 // bytes of the current member's data not yet read
	cur      *archive.Entry
	stripped StrippedLookup

	// Hard links of the newc formats: every name but the last of a set is
	// stored with no data; they are held back until the one with data has
	// been walked, then come out as Hardlink entries naming it.
	waiting map[linkKey][]*archive.Entry
	// In stripped archives the RPM header names the member with the data.
	waitingFor map[string][]*archive.Entry
	ready      []*archive.Entry
	done       bool
}

type linkKey struct{ dev, ino uint64 }

// NewWalker walks the cpio archive r.
func NewWalker(r io.Reader) *Walker {
	return &Walker{r: r, waiting: map[linkKey][]*archive.Entry{}, waitingFor: map[string][]*archive.Entry{}}
}

// SetStripped lets the walker read RPM's stripped headers.
func (w *Walker) SetStripped(lookup StrippedLookup) { w.stripped = lookup }

func (w *Walker) corrupt(at int64, reason string) error {
	return archive.Corrupt("cpio", at, reason)
}

// header is what every format's header says.
type header struct {
	mode, nlink, mtime, size uint64
	dev, ino                 uint64
	name                     string
	align                    int64
	hasLinks                 bool // the format stores hard-link data once
}

// Next implements archive.Walker.
func (w *Walker) Next() (*archive.Entry, error) {
	for {
		if len(w.ready) > 0 {
			e := w.ready[0]
			w.ready = w.ready[1:]
			w.cur = e
			return e, nil
		}
		if w.done {
			return nil, io.EOF
		}
		if err := w.skipRest(); err != nil {
			return nil, err
		}
		start := w.offset
		var magic [6]byte
		if err := w.read(magic[:]); err != nil {
			return nil, err
		}
		var h *header
		var err error
		switch string(magic[:]) {
		case magicNewc, magicCRC:
			h, err = w.readNewc()
		case magicODC:
			h, err = w.readODC()
		case magicStripped:
			e, err := w.readStripped(start)
			if err != nil {
				return nil, err
			}
			if e == nil {
				continue
			}
			return e, nil
		default:
			switch {
			case magic[0] == 0xc7 && magic[1] == 0x71:
				h, err = w.readBinary(magic[:], binary.LittleEndian)
			case magic[0] == 0x71 && magic[1] == 0xc7:
				h, err = w.readBinary(magic[:], binary.BigEndian)
			default:
				return nil, w.corrupt(start, "bad header magic")
			}
		}
		if err != nil {
			return nil, err
		}
		if h.name == trailer {
			w.done = true
			w.flushWaiting()
			continue
		}
		w.left, w.align = int64(h.size), h.align
		e := &archive.Entry{
			Name:      h.name,
			Size:      int64(h.size),
			Mode:      archive.UnixMode(h.mode),
			ModeKnown: true,
			ModTime:   time.Unix(int64(h.mtime), 0),
		}
		switch h.mode & typeMask {
		case typeRegular:
			e.Type = archive.Regular
			key := linkKey{h.dev, h.ino}
			if h.hasLinks && h.nlink > 1 {
				if h.size == 0 {
					w.waiting[key] = append(w.waiting[key], e)
					continue
				}
				for _, l := range w.waiting[key] {
					l.Type, l.Linkname, l.Size = archive.Hardlink, e.Name, -1
					w.ready = append(w.ready, l)
				}
				delete(w.waiting, key)
			}
		case typeDir:
			e.Type = archive.Dir
		case typeSymlink:
			e.Type = archive.Symlink
			if h.size > 4096 {
				return nil, w.corrupt(start, "symlink target too long")
			}
			target := make([]byte, h.size)
			if err := w.readData(target); err != nil {
				return nil, err
			}
			e.Linkname = string(target)
		default:
			e.Type = archive.Other
		}
		w.cur = e
		return e, nil
	}
}

// flushWaiting hands out hard links whose data never came: a set whose
// every name is empty is a set of empty files.
func (w *Walker) flushWaiting() {
	for _, links := range w.waiting {
		w.ready = append(w.ready, links...)
	}
	for _, links := range w.waitingFor {
		w.ready = append(w.ready, links...) // hard links to a missing file
	}
	clear(w.waiting)
	clear(w.waitingFor)
	sortByName(w.ready)
}

// Open implements archive.Walker.
func (w *Walker) Open() (io.Reader, error) {
	if w.cur == nil || w.cur.Type != archive.Regular {
		return nil, archive.ErrNotRegular
	}
	return dataReader{w}, nil
}

type dataReader struct{ w *Walker }

func (d dataReader) Read(p []byte) (int, error) {
	w := d.w
	if w.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > w.left {
		p = p[:w.left]
	}
	n, err := w.r.Read(p)
	w.left -= int64(n)
	w.offset += int64(n)
	if err == io.EOF && w.left > 0 {
		return n, w.corrupt(w.offset, "truncated")
	}
	if err != nil && err != io.EOF {
		return n, archive.Truncated("cpio", w.offset, err)
	}
	if w.left == 0 {
		return n, io.EOF
	}
	return n, nil
}

func (w *Walker) readData(buf []byte) error {
	n, err := io.ReadFull(dataReader{w}, buf)
	if err != nil && n < len(buf) {
		return archive.Truncated("cpio", w.offset, err)
	}
	return nil
}

// skipRest moves past the rest of the current member's data and the
// padding after it.
func (w *Walker) skipRest() error {
	if w.left > 0 {
		if _, err := io.CopyN(io.Discard, dataReader{w}, w.left); err != nil {
			return archive.Truncated("cpio", w.offset, err)
		}
	}
	w.cur = nil
	return w.pad(w.align)
}

// pad skips to the next multiple of align.
func (w *Walker) pad(align int64) error {
	if align <= 1 {
		return nil
	}
	if rem := w.offset % align; rem != 0 {
		var buf [8]byte
		return w.read(buf[:align-rem])
	}
	return nil
}

func (w *Walker) read(buf []byte) error {
	n, err := io.ReadFull(w.r, buf)
	w.offset += int64(n)
	if err != nil {
		if err == io.EOF && n == 0 && len(buf) == 6 && !w.done {
			return w.corrupt(w.offset, "truncated: no trailer")
		}
		return archive.Truncated("cpio", w.offset, err)
	}
	return nil
}

func (w *Walker) readName(size uint64, hasNUL bool) (string, error) {
	if size == 0 || size > maxNameSize {
		return "", w.corrupt(w.offset, fmt.Sprintf("bad name size %d", size))
	}
	buf := make([]byte, size)
	if err := w.read(buf); err != nil {
		return "", err
	}
	if hasNUL {
		if buf[size-1] != 0 {
			return "", w.corrupt(w.offset, "name not NUL-terminated")
		}
		buf = buf[:size-1]
	}
	return string(buf), nil
}

func (w *Walker) readNewc() (*header, error) {
	var f [13 * 8]byte
	if err := w.read(f[:]); err != nil {
		return nil, err
	}
	field := func(i int) (uint64, error) {
		v, err := strconv.ParseUint(string(f[i*8:i*8+8]), 16, 32)
		if err != nil {
			return 0, w.corrupt(w.offset, "bad header field")
		}
		return v, nil
	}
	var v [13]uint64
	for i := range v {
		var err error
		if v[i], err = field(i); err != nil {
			return nil, err
		}
	}
	// ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor namesize check
	h := &header{ino: v[0], mode: v[1], nlink: v[4], mtime: v[5], size: v[6],
		dev: v[7]<<32 | v[8], align: 4, hasLinks: true}
	name, err := w.readName(v[11], true)
	if err != nil {
		return nil, err
	}
	h.name = name
	return h, w.pad(4)
}

func (w *Walker) readODC() (*header, error) {
	// dev ino mode uid gid nlink rdev (6 each) mtime (11) namesize (6) filesize (11)
	var f [70]byte
	if err := w.read(f[:]); err != nil {
		return nil, err
	}
	widths := []int{6, 6, 6, 6, 6, 6, 6, 11, 6, 11}
	var v [10]uint64
	p := 0
	for i, n := range widths {
		x, err := strconv.ParseUint(string(f[p:p+n]), 8, 64)
		if err != nil {
			return nil, w.corrupt(w.offset, "bad header field")
		}
		v[i] = x
		p += n
	}
	h := &header{dev: v[0], ino: v[1], mode: v[2], nlink: v[5], mtime: v[7], size: v[9], align: 1}
	name, err := w.readName(v[8], true)
	if err != nil {
		return nil, err
	}
	h.name = name
	return h, nil
}

func (w *Walker) readBinary(magic []byte, order binary.ByteOrder) (*header, error) {
	var f [26]byte
	copy(f[:], magic)
	if err := w.read(f[6:]); err != nil {
		return nil, err
	}
	u16 := func(i int) uint64 { return uint64(order.Uint16(f[i:])) }
	h := &header{dev: u16(2), ino: u16(4), mode: u16(6), nlink: u16(12),
		mtime: u16(16)<<16 | u16(18), size: u16(22)<<16 | u16(24), align: 2}
	name, err := w.readName(u16(20), true)
	if err != nil {
		return nil, err
	}
	h.name = name
	return h, w.pad(2)
}

// readStripped reads a 07070X header, whose only field is the index of the
// file in the RPM header. It returns nil for a hard link it has put on hold
// until the member with the data has been walked.
func (w *Walker) readStripped(start int64) (*archive.Entry, error) {
	if w.stripped == nil {
		return nil, w.corrupt(start, "stripped RPM header outside an RPM")
	}
	var f [8]byte
	if err := w.read(f[:]); err != nil {
		return nil, err
	}
	index, err := strconv.ParseUint(string(f[:]), 16, 32)
	if err != nil {
		return nil, w.corrupt(start, "bad file index")
	}
	if err := w.pad(4); err != nil {
		return nil, err
	}
	e, stored, err := w.stripped(uint32(index))
	if err != nil {
		return nil, w.corrupt(start, err.Error())
	}
	w.left, w.align = stored, 4
	if e.Type == archive.Hardlink {
		w.waitingFor[e.Linkname] = append(w.waitingFor[e.Linkname], e)
		return nil, nil
	}
	w.ready = append(w.ready, w.waitingFor[e.Name]...)
	delete(w.waitingFor, e.Name)
	w.cur = e
	return e, nil
}

func sortByName(es []*archive.Entry) {
	// insertion sort: these lists are short, and the order must not
	// depend on map iteration
	for i := 1; i < len(es); i++ {
		for j := i; j > 0 && es[j].Name < es[j-1].Name; j-- {
			es[j], es[j-1] = es[j-1], es[j]
		}
	}
}
