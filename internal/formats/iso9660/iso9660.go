// Package iso9660 walks ISO 9660 images (CD and DVD images, install
// media) with their Rock Ridge (POSIX names, modes, symlinks, deep
// directories) and Joliet (Unicode names) extensions, and files of
// several extents (over 4 GiB). Rock Ridge names win when present, then
// Joliet, then the plain ISO names without their ";1" version.
//
// Why not a library: go-diskfs's iso9660 reader (v1.7.0) listed
// testdata/hostile/loop.iso (a directory record pointing back at an
// ancestor) as 2 entries without an error, where this reader reports the
// loop; kdomanski/iso9660 was not tried. Measured in a throwaway module
// on 2026-12-06.
package iso9660

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/hashr-dev/hashr/internal/formats/archive"
)

const (
	sectorSize = 2048
	// firstDescriptor is the sector of the first volume descriptor.
	firstDescriptor = 16

	maxDescriptors = 64       // volume descriptors before the terminator
	maxDirSize     = 64 << 20 // one directory's records
	maxDepth       = 256      // directory nesting
	maxCE          = 32       // Rock Ridge continuation areas per record
)

// Magic is at byte 1 of each volume descriptor, from byte 32769 on.
const Magic = "CD001"

// MagicOffset is where the first descriptor's Magic is.
const MagicOffset = firstDescriptor*sectorSize + 1

var errNotISO = errors.New("not an ISO 9660 image")

func corrupt(offset int64, reason string) error { return archive.Corrupt("iso9660", offset, reason) }

// Walker walks an ISO 9660 image depth first, directories before their
// contents, records in stored order.
type Walker struct {
	r       io.ReaderAt
	size    int64
	joliet  bool
	rr      bool // the tree walked has Rock Ridge entries
	skip    int  // SUSP bytes to skip at the start of each system use area
	stack   []*dirState
	visited map[uint32]bool
	cur     *record
}

type dirState struct {
	path    string
	records []*record
	next    int
	depth   int
}

// record is one directory record, with what Rock Ridge says about it.
type record struct {
	name     string
	extents  []extent // more than one for a multi-extent file
	dir      bool
	more     bool // multi-extent: the next record continues this file
	mtime    time.Time
	mode     uint32 // Rock Ridge PX mode, with file type bits
	hasMode  bool
	symlink  string
	isLink   bool
	relocDir uint32 // Rock Ridge CL: the directory's real extent
	hidden   bool   // Rock Ridge RE: relocated here, listed elsewhere
}

type extent struct {
	lba  uint32
	size uint32
}

// NewWalker reads the volume descriptors of the image r of size bytes.
func NewWalker(r io.ReaderAt, size int64) (*Walker, error) {
	w := &Walker{r: r, size: size, visited: map[uint32]bool{}}
	var pvdRoot, jolietRoot []byte
	buf := make([]byte, sectorSize)
	for i := range maxDescriptors {
		off := int64(firstDescriptor+i) * sectorSize
		if _, err := r.ReadAt(buf, off); err != nil {
			if i == 0 {
				return nil, archive.Truncated("iso9660", off, err)
			}
			return nil, corrupt(off, "truncated volume descriptors")
		}
		if string(buf[1:6]) != Magic {
			if i == 0 {
				return nil, errNotISO
			}
			return nil, corrupt(off, "bad volume descriptor")
		}
		typ := buf[0]
		if typ == 255 {
			break
		}
		switch typ {
		case 1:
			if pvdRoot == nil {
				pvdRoot = bytes.Clone(buf[156 : 156+34])
			}
		case 2:
			esc := buf[88:91]
			if esc[0] == '%' && esc[1] == '/' && (esc[2] == '@' || esc[2] == 'C' || esc[2] == 'E') && jolietRoot == nil {
				jolietRoot = bytes.Clone(buf[156 : 156+34])
			}
		}
	}
	if pvdRoot == nil {
		return nil, corrupt(firstDescriptor*sectorSize, "no primary volume descriptor")
	}
	root, err := w.parseRecord(pvdRoot, 0)
	if err != nil {
		return nil, err
	}
	// Rock Ridge announces itself with an SP entry in the root's "." record.
	w.detectRockRidge(root.extents[0])
	if !w.rr && jolietRoot != nil {
		w.joliet = true
		if root, err = w.parseRecord(jolietRoot, 0); err != nil {
			return nil, err
		}
	}
	recs, err := w.readDir(root.extents[0], 0)
	if err != nil {
		return nil, err
	}
	w.visited[root.extents[0].lba] = true
	w.stack = []*dirState{{records: recs}}
	return w, nil
}

// detectRockRidge looks for the SP entry at the start of the system use
// area of the root directory's first record.
func (w *Walker) detectRockRidge(root extent) {
	buf := make([]byte, sectorSize)
	if _, err := w.r.ReadAt(buf, int64(root.lba)*sectorSize); err != nil {
		return
	}
	n := int(buf[0])
	if n < 34 || n > len(buf) {
		return
	}
	su := systemUse(buf[:n])
	if len(su) >= 7 && su[0] == 'S' && su[1] == 'P' && su[4] == 0xbe && su[5] == 0xef {
		w.rr = true
		w.skip = int(su[6])
	}
}

// systemUse is the part of a directory record after its name.
func systemUse(rec []byte) []byte {
	nameLen := int(rec[32])
	start := 33 + nameLen
	if nameLen%2 == 0 {
		start++
	}
	if start > len(rec) {
		return nil
	}
	return rec[start:]
}

// readDir reads the records of the directory at e, without "." and "..",
// joining the parts of multi-extent files.
func (w *Walker) readDir(e extent, depth int) ([]*record, error) {
	if e.size > maxDirSize {
		return nil, corrupt(int64(e.lba)*sectorSize, "directory too large")
	}
	off := int64(e.lba) * sectorSize
	if off+int64(e.size) > w.size {
		return nil, corrupt(off, "directory beyond the end of the image")
	}
	data := make([]byte, e.size)
	if _, err := w.r.ReadAt(data, off); err != nil {
		return nil, archive.Truncated("iso9660", off, err)
	}
	var recs []*record
	for pos := 0; pos < len(data); {
		n := int(data[pos])
		if n == 0 { // records do not cross sectors: go to the next one
			pos = (pos/sectorSize + 1) * sectorSize
			continue
		}
		if n < 34 || pos+n > len(data) {
			return nil, corrupt(off+int64(pos), "bad directory record")
		}
		raw := data[pos : pos+n]
		pos += n
		if raw[32] == 1 && (raw[33] == 0 || raw[33] == 1) {
			continue // "." and ".."
		}
		if raw[25]&0x04 != 0 {
			continue // an associated file (a Mac resource fork), not a file of its own
		}
		rec, err := w.parseRecord(raw, depth)
		if err != nil {
			return nil, err
		}
		if last := len(recs) - 1; last >= 0 && recs[last].more && recs[last].name == rec.name {
			recs[last].extents = append(recs[last].extents, rec.extents...)
			recs[last].more = rec.more
			continue
		}
		recs = append(recs, rec)
	}
	return recs, nil
}

// parseRecord decodes one directory record.
func (w *Walker) parseRecord(raw []byte, depth int) (*record, error) {
	if len(raw) < 34 || int(raw[0]) > len(raw) || int(raw[0]) < 33+int(raw[32]) {
		return nil, corrupt(-1, "bad directory record")
	}
	raw = raw[:raw[0]]
	flags := raw[25]
	rec := &record{
		extents: []extent{{lba: binary.LittleEndian.Uint32(raw[2:6]), size: binary.LittleEndian.Uint32(raw[10:14])}},
		dir:     flags&0x02 != 0,
		mtime:   recordTime(raw[18:25]),
	}
	rec.more = flags&0x80 != 0
	name := raw[33 : 33+int(raw[32])]
	if w.joliet {
		rec.name = ucs2(name)
	} else {
		rec.name = string(name)
	}
	if !rec.dir {
		if i := strings.LastIndexByte(rec.name, ';'); i >= 0 {
			rec.name = rec.name[:i]
		}
		if !w.joliet {
			rec.name = strings.TrimSuffix(rec.name, ".")
		}
	}
	if w.rr {
		if err := w.rockRidge(rec, systemUse(raw)); err != nil {
			return nil, err
		}
	}
	return rec, nil
}

// recordTime decodes the 7-byte time of a directory record.
func recordTime(b []byte) time.Time {
	if b[0] == 0 && b[1] == 0 && b[2] == 0 {
		return time.Time{}
	}
	zone := time.FixedZone("", int(int8(b[6]))*15*60)
	return time.Date(1900+int(b[0]), time.Month(b[1]), int(b[2]), int(b[3]), int(b[4]), int(b[5]), 0, zone)
}

func ucs2(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.BigEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

// Next implements archive.Walker.
func (w *Walker) Next() (*archive.Entry, error) {
	w.cur = nil
	for len(w.stack) > 0 {
		d := w.stack[len(w.stack)-1]
		if d.next >= len(d.records) {
			w.stack = w.stack[:len(w.stack)-1]
			continue
		}
		rec := d.records[d.next]
		d.next++
		if rec.hidden || rec.name == "" {
			continue
		}
		name := rec.name
		if d.path != "" {
			name = d.path + "/" + rec.name
		}
		e := &archive.Entry{Name: name, ModTime: rec.mtime}
		if rec.hasMode {
			e.Mode, e.ModeKnown = archive.UnixMode(uint64(rec.mode)), true
		}
		switch {
		case rec.relocDir != 0 || rec.dir:
			e.Type = archive.Dir
			// A directory that loops, nests too deep or cannot be read
			// is an error for it alone: the walk goes on (the policy
			// of every file system reader, internal/formats/fstree).
			if err := w.enter(rec, name, d.depth+1); err != nil {
				return nil, &archive.PartError{Path: name, Err: err}
			}
		case rec.isLink:
			e.Type, e.Linkname = archive.Symlink, rec.symlink
		case rec.hasMode && rec.mode&0o170000 != 0o100000:
			e.Type = archive.Other
		default:
			e.Type = archive.Regular
			for _, x := range rec.extents {
				e.Size += int64(x.size)
			}
			w.cur = rec
		}
		return e, nil
	}
	return nil, io.EOF
}

// enter pushes a directory to walk next.
func (w *Walker) enter(rec *record, path string, depth int) error {
	ext := rec.extents[0]
	if rec.relocDir != 0 {
		// A Rock Ridge child link: the directory's records are elsewhere.
		buf := make([]byte, sectorSize)
		if _, err := w.r.ReadAt(buf, int64(rec.relocDir)*sectorSize); err != nil || buf[0] < 34 {
			return corrupt(int64(rec.relocDir)*sectorSize, "bad relocated directory")
		}
		ext = extent{lba: rec.relocDir, size: binary.LittleEndian.Uint32(buf[10:14])}
	}
	if depth > maxDepth {
		return corrupt(int64(ext.lba)*sectorSize, "directories nested too deep")
	}
	if w.visited[ext.lba] {
		return corrupt(int64(ext.lba)*sectorSize, fmt.Sprintf("directory %q loops back to an earlier one", path))
	}
	w.visited[ext.lba] = true
	recs, err := w.readDir(ext, depth)
	if err != nil {
		return err
	}
	w.stack = append(w.stack, &dirState{path: path, records: recs, depth: depth})
	return nil
}

// Open implements archive.Walker.
func (w *Walker) Open() (io.Reader, error) {
	if w.cur == nil {
		return nil, archive.ErrNotRegular
	}
	readers := make([]io.Reader, 0, len(w.cur.extents))
	for _, x := range w.cur.extents {
		off := int64(x.lba) * sectorSize
		if off+int64(x.size) > w.size {
			return nil, corrupt(off, "file beyond the end of the image")
		}
		readers = append(readers, io.NewSectionReader(w.r, off, int64(x.size)))
	}
	return io.MultiReader(readers...), nil
}

var _ archive.RandomAccess = (*Walker)(nil)

// OpenAt returns the current file's bytes for reading at random, and
// their length: what a WIM inside an install ISO is read with in place
// (its tables are at its end).
func (w *Walker) OpenAt() (io.ReaderAt, int64, error) {
	if w.cur == nil {
		return nil, 0, archive.ErrNotRegular
	}
	var x extentsReader
	for _, e := range w.cur.extents {
		off := int64(e.lba) * sectorSize
		if off+int64(e.size) > w.size {
			return nil, 0, corrupt(off, "file beyond the end of the image")
		}
		x.parts = append(x.parts, io.NewSectionReader(w.r, off, int64(e.size)))
		x.size += int64(e.size)
	}
	if len(x.parts) == 1 {
		return x.parts[0], x.size, nil
	}
	return &x, x.size, nil
}

// extentsReader reads the extents of a multi-extent file as one.
type extentsReader struct {
	parts []*io.SectionReader
	size  int64
}

func (x *extentsReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("iso9660: negative offset")
	}
	n := 0
	for _, part := range x.parts {
		if len(p) == 0 {
			break
		}
		if off >= part.Size() {
			off -= part.Size()
			continue
		}
		m, err := part.ReadAt(p[:min(int64(len(p)), part.Size()-off)], off)
		n += m
		if err != nil && err != io.EOF {
			return n, err
		}
		p, off = p[m:], 0
	}
	if len(p) > 0 {
		return n, io.EOF
	}
	return n, nil
}
