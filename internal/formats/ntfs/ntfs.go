// Package ntfs walks NTFS volumes read at random through an io.ReaderAt,
// without mounting: every allocated file of the MFT with its path, its
// unnamed data stream as the file, its alternate data streams as extra
// entries named "path:stream", hard links as Hardlink entries, resident,
// non-resident, sparse and LZNT1-compressed data. NTFS's own metafiles
// ($MFT, $LogFile, $Secure, $Extend/…) are entries marked System.
//
// The walk goes through the MFT in record order rather than through the
// directory B+ trees: one sequential read of the MFT gives every file's
// names and parents, so a damaged index loses no file, and the order of
// reads over the image is the order of the records.
//
// Why not a library: go-diskfs (v1.7.0) has no NTFS reader. Velocidex's
// go-ntfs was not measured here; the reasons recorded are the MFT-order
// walk above (one sequential pass, no file lost to a damaged index) and
// this package's LZNT1 decoder, tested on compression units written as
// Windows writes them (generate_test.go).
package ntfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/hashr-dev/hashr/internal/formats/archive"
)

const (
	rootRecord     = 5
	firstUser      = 16 // records 0-15 are NTFS's own
	maxRecords     = 1 << 26
	maxDepth       = 512
	maxAttrList    = 1 << 20
	maxStreams     = 4096 // named data streams of one file
	orphanDir      = "$OrphanFiles"
	chunkRecords   = 256 // MFT records read at once
	reparseSymlink = 0xa000000c
	reparseMount   = 0xa0000003
)

func corrupt(offset int64, reason string) error { return archive.Corrupt("ntfs", offset, reason) }

type boot struct {
	sectorSize  int
	clusterSize int64
	sectors     uint64
	mftLCN      int64
	recordSize  int
}

// Probe says whether r holds an NTFS boot sector.
func Probe(r io.ReaderAt, size int64) bool {
	_, err := readBoot(r, size)
	return err == nil
}

func readBoot(r io.ReaderAt, size int64) (*boot, error) {
	var b [512]byte
	if _, err := r.ReadAt(b[:], 0); err != nil {
		return nil, errors.New("ntfs: not an NTFS volume: no boot sector")
	}
	if string(b[3:11]) != "NTFS    " {
		return nil, errors.New("ntfs: not an NTFS volume (no NTFS OEM id in the boot sector)")
	}
	le := binary.LittleEndian
	bt := &boot{sectorSize: int(le.Uint16(b[11:])), sectors: le.Uint64(b[40:]), mftLCN: int64(le.Uint64(b[48:]))}
	if bt.sectorSize < 256 || bt.sectorSize > 4096 || bt.sectorSize&(bt.sectorSize-1) != 0 {
		return nil, corrupt(11, fmt.Sprintf("sector size %d", bt.sectorSize))
	}
	spc := int64(b[13])
	if spc > 0x80 { // a negative power of two, for clusters over 64 KiB
		spc = 1 << (256 - spc)
	}
	bt.clusterSize = spc * int64(bt.sectorSize)
	if spc == 0 || spc&(spc-1) != 0 || bt.clusterSize > 2<<20 {
		return nil, corrupt(13, fmt.Sprintf("%d sectors per cluster", spc))
	}
	if c := int8(b[64]); c > 0 {
		bt.recordSize = int(c) * int(bt.clusterSize)
	} else if c < 0 && c > -31 {
		bt.recordSize = 1 << uint(-c)
	}
	if bt.recordSize < 256 || bt.recordSize > 64<<10 || bt.recordSize < bt.sectorSize {
		return nil, corrupt(64, fmt.Sprintf("MFT record size %d", bt.recordSize))
	}
	if bt.mftLCN <= 0 || bt.mftLCN*bt.clusterSize >= size {
		return nil, corrupt(48, fmt.Sprintf("the MFT at cluster %d is outside the volume of %d bytes", bt.mftLCN, size))
	}
	return bt, nil
}

// names is what the first pass keeps of each record.
type names struct {
	flags uint16
	seq   uint16
	links []fileName // POSIX/Win32 names (DOS names only when no other)
	dos   []fileName
}

// Walker walks an NTFS volume.
type Walker struct {
	r     io.ReaderAt
	size  int64
	boot  *boot
	mft   *stream // the MFT's own data
	count uint64  // records in the MFT
	recs  []names
	dirs  map[uint64]string // resolved directory paths
	chunk []byte            // MFT records read at once
	first uint64            // record number at chunk[0]
	nrec  int               // records in chunk
	next  uint64            // next record of the second pass
	queue []*pending
	lost  *archive.PartError // a name of the record just loaded whose parents loop
	cur   *pending
}

// pending is an entry of the current record waiting to be returned.
type pending struct {
	e    *archive.Entry
	data *stream
}

// NewWalker reads the boot sector and the MFT's names.
func NewWalker(r io.ReaderAt, size int64) (archive.Walker, error) {
	bt, err := readBoot(r, size)
	if err != nil {
		return nil, err
	}
	w := &Walker{r: r, size: size, boot: bt, dirs: map[uint64]string{rootRecord: ""}}
	// Record 0 is the MFT itself: its data runs say where the others are.
	buf := make([]byte, bt.recordSize)
	off := bt.mftLCN * bt.clusterSize
	if _, err := r.ReadAt(buf, off); err != nil {
		return nil, archive.Truncated("ntfs", off, err)
	}
	rec0, err := parseRecord(buf, 0, bt.sectorSize)
	if err != nil {
		return nil, corrupt(off, err.Error())
	}
	w.mft, err = w.openStream(rec0, nil, "")
	if err != nil {
		return nil, fmt.Errorf("ntfs: the MFT's data: %w", err)
	}
	if w.mft == nil || w.mft.resident != nil || w.mft.unit > 0 || w.mft.encrypted {
		return nil, corrupt(off, "the MFT has no plain non-resident data")
	}
	w.count = uint64(w.mft.size) / uint64(bt.recordSize)
	if hasAttrList(rec0) {
		// A fragmented MFT lists the rest of its runs in extension
		// records, which its first runs reach.
		attrs, err := w.allAttributes(rec0)
		if err != nil {
			return nil, fmt.Errorf("ntfs: the MFT's attribute list: %w", err)
		}
		w.chunk, w.nrec = nil, 0
		if w.mft, err = w.openStream(rec0, attrs, ""); err != nil {
			return nil, fmt.Errorf("ntfs: the MFT's data: %w", err)
		}
		w.count = uint64(w.mft.size) / uint64(bt.recordSize)
	}
	if w.mft.size > size || w.count > maxRecords {
		return nil, corrupt(off, fmt.Sprintf("an MFT of %d bytes in a volume of %d", w.mft.size, size))
	}
	if err := w.readNames(); err != nil {
		return nil, err
	}
	if w.count <= rootRecord || w.recs[rootRecord].flags&recordDir == 0 {
		return nil, corrupt(off, "no root directory (MFT record 5)")
	}
	return w, nil
}

// record returns MFT record num, parsed, reading the MFT a chunk at a
// time. A record that is not in use or cannot be parsed is nil, with the
// parse error.
func (w *Walker) record(num uint64) (*record, error) {
	rs := uint64(w.boot.recordSize)
	if num < w.first || num >= w.first+uint64(w.nrec) {
		n := min(uint64(chunkRecords), w.count-num)
		if w.chunk == nil {
			w.chunk = make([]byte, chunkRecords*rs)
		}
		got, err := w.mft.ReadAt(w.chunk[:n*rs], int64(num*rs))
		if err != nil && got < int(n*rs) {
			return nil, err
		}
		w.first, w.nrec = num, int(n)
	}
	buf := w.chunk[(num-w.first)*rs : (num-w.first+1)*rs]
	if string(buf[:4]) == "\x00\x00\x00\x00" {
		return nil, nil // never used
	}
	tmp := make([]byte, len(buf))
	copy(tmp, buf)
	return parseRecord(tmp, num, w.boot.sectorSize)
}

// readNames is the first pass: every record's flags and names.
func (w *Walker) readNames() error {
	w.recs = make([]names, w.count)
	for num := uint64(0); num < w.count; num++ {
		rec, err := w.record(num)
		if err != nil {
			var ce *archive.CorruptError
			if errors.As(err, &ce) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				return fmt.Errorf("ntfs: reading MFT record %d: %w", num, archive.Truncated("ntfs", -1, err))
			}
			if num < firstUser {
				return corrupt(-1, err.Error())
			}
			continue // a damaged record of a file: that file is lost
		}
		if rec == nil || rec.flags&recordInUse == 0 {
			continue
		}
		owner := num
		if rec.base != 0 {
			if rec.base >= w.count {
				continue
			}
			owner = rec.base
		} else {
			w.recs[num].flags, w.recs[num].seq = rec.flags, rec.seq
		}
		for _, a := range rec.attrs {
			if a.typ != attrFileName || !a.resident {
				continue
			}
			fn, ok := parseFileName(a.value)
			if !ok {
				continue
			}
			if fn.namespace == 2 {
				w.recs[owner].dos = append(w.recs[owner].dos, fn)
			} else if len(w.recs[owner].links) < 1024 {
				w.recs[owner].links = append(w.recs[owner].links, fn)
			}
		}
	}
	return nil
}

// links returns the names of record num, DOS 8.3 names only if it has
// no other.
func (n *names) names() []fileName {
	if len(n.links) > 0 {
		return n.links
	}
	return n.dos
}

// dirPath returns the path of directory record num ("" for the root).
func (w *Walker) dirPath(num uint64, seq uint16, depth int) (string, error) {
	if p, ok := w.dirs[num]; ok && (num == rootRecord || seq == 0 || w.recs[num].seq == seq) {
		return p, nil
	}
	if num >= w.count || w.recs[num].flags&(recordInUse|recordDir) != recordInUse|recordDir ||
		(seq != 0 && w.recs[num].seq != seq) {
		return orphanDir, nil // the parent is gone: the file is an orphan
	}
	if depth > maxDepth {
		return "", corrupt(-1, fmt.Sprintf("directory of MFT record %d is nested deeper than %d, or in a loop", num, maxDepth))
	}
	ns := w.recs[num].names()
	if len(ns) == 0 {
		return orphanDir, nil
	}
	fn := ns[0]
	if fn.parent == num {
		return "", corrupt(-1, fmt.Sprintf("directory of MFT record %d is its own parent", num))
	}
	parent, err := w.dirPath(fn.parent, fn.parentSeq, depth+1)
	if err != nil {
		return "", err
	}
	p := joinName(parent, fn.name)
	w.dirs[num] = p
	return p, nil
}

func joinName(dir, name string) string {
	name = strings.ReplaceAll(name, "/", "\uff0f") // a '/' in an NTFS name is not a separator
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// Next returns the next entry.
func (w *Walker) Next() (*archive.Entry, error) {
	w.cur = nil
	for len(w.queue) == 0 {
		if w.next >= w.count {
			return nil, io.EOF
		}
		num := w.next
		w.next++
		if err := w.load(num); err != nil {
			return nil, err
		}
		if lost := w.lost; lost != nil {
			w.lost = nil
			return nil, lost
		}
	}
	w.cur = w.queue[0]
	w.queue = w.queue[1:]
	return w.cur.e, nil
}

// load queues the entries of base record num.
func (w *Walker) load(num uint64) error {
	n := &w.recs[num]
	if n.flags&recordInUse == 0 || num == rootRecord {
		return nil
	}
	ns := n.names()
	if len(ns) == 0 {
		return nil
	}
	rec, err := w.record(num)
	if err != nil || rec == nil {
		return nil // the first pass read it: only a concurrent change gets here
	}
	if rec.base != 0 {
		return nil
	}
	attrs, err := w.allAttributes(rec)
	if err != nil {
		return err
	}
	var paths []string
	for _, fn := range ns {
		parent, err := w.dirPath(fn.parent, fn.parentSeq, 0)
		if err != nil {
			// A directory loop among its parents: an error for this name
			// alone (its other names, and the rest of the volume, are
			// walked: the policy of every file system reader,
			// internal/formats/fstree).
			if w.lost == nil {
				w.lost = &archive.PartError{Path: fn.name, Err: err}
			}
			continue
		}
		paths = append(paths, joinName(parent, fn.name))
	}
	if len(paths) == 0 {
		return nil
	}
	system := num < firstUser || paths[0] == "$Extend" || strings.HasPrefix(paths[0], "$Extend/")
	mtime := ntfsTime(ns[0].mtime)
	for _, a := range attrs {
		if a.typ == attrStandardInfo && a.resident && len(a.value) >= 32 {
			mtime = ntfsTime(binary.LittleEndian.Uint64(a.value[8:]))
		}
	}
	base := archive.Entry{ModTime: mtime, System: system, Size: -1}
	isDir := n.flags&recordDir != 0
	if isDir {
		e := base
		e.Name, e.Type = paths[0], archive.Dir
		w.queue = append(w.queue, &pending{e: &e})
	} else if target, ok := reparseTarget(attrs); ok {
		for _, p := range paths {
			e := base
			e.Name, e.Type, e.Linkname = p, archive.Symlink, target
			w.queue = append(w.queue, &pending{e: &e})
		}
		return nil
	} else {
		data, err := w.openStream(rec, attrs, "")
		if err != nil {
			return fmt.Errorf("ntfs: %s: %w", paths[0], err)
		}
		e := base
		e.Name, e.Type = paths[0], archive.Regular
		if data == nil {
			e.Size = 0
			data = &stream{resident: []byte{}}
		} else {
			e.Size = data.size
		}
		w.queue = append(w.queue, &pending{e: &e, data: data})
		for _, p := range paths[1:] {
			l := base
			l.Name, l.Type, l.Linkname = p, archive.Hardlink, paths[0]
			w.queue = append(w.queue, &pending{e: &l})
		}
	}
	// Alternate data streams, of files and directories alike.
	seen := map[string]bool{}
	for _, a := range attrs {
		if a.typ != attrData || a.name == "" || seen[a.name] {
			continue
		}
		seen[a.name] = true
		if len(seen) > maxStreams {
			return corrupt(-1, fmt.Sprintf("%s has more than %d data streams", paths[0], maxStreams))
		}
		data, err := w.openStream(rec, attrs, a.name)
		if err != nil {
			return fmt.Errorf("ntfs: %s:%s: %w", paths[0], a.name, err)
		}
		e := base
		e.Name, e.Type, e.Size = paths[0]+":"+a.name, archive.Regular, data.size
		w.queue = append(w.queue, &pending{e: &e, data: data})
	}
	return nil
}

// Open returns the bytes of the current regular entry.
func (w *Walker) Open() (io.Reader, error) {
	if w.cur == nil || w.cur.e.Type != archive.Regular {
		return nil, archive.ErrNotRegular
	}
	s := w.cur.data
	if s.encrypted {
		return nil, archive.ErrEncrypted
	}
	return io.NewSectionReader(s, 0, s.size), nil
}

// allAttributes returns rec's attributes and those of its extension
// records, which an $ATTRIBUTE_LIST names.
func (w *Walker) allAttributes(rec *record) ([]attribute, error) {
	var list *attribute
	for i := range rec.attrs {
		if rec.attrs[i].typ == attrList {
			list = &rec.attrs[i]
		}
	}
	if list == nil {
		return rec.attrs, nil
	}
	value := list.value
	if !list.resident {
		if list.dataSize > maxAttrList {
			return nil, corrupt(-1, fmt.Sprintf("MFT record %d: an attribute list of %d bytes", rec.num, list.dataSize))
		}
		s := &stream{w: w, runs: list.runs, size: int64(list.dataSize), init: int64(list.initSize)}
		value = make([]byte, list.dataSize)
		if _, err := s.ReadAt(value, 0); err != nil && err != io.EOF {
			return nil, fmt.Errorf("ntfs: reading the attribute list of MFT record %d: %w", rec.num, err)
		}
	}
	others := map[uint64]bool{}
	le := binary.LittleEndian
	for off := 0; off+26 <= len(value); {
		n := int(le.Uint16(value[off+4:]))
		if n < 26 {
			break
		}
		ref := le.Uint64(value[off+16:]) & 0xffffffffffff
		if ref != rec.num && ref < w.count {
			others[ref] = true
		}
		off += n
	}
	attrs := append([]attribute(nil), rec.attrs...)
	nums := make([]uint64, 0, len(others))
	for n := range others {
		nums = append(nums, n)
	}
	sort.Slice(nums, func(i, j int) bool { return nums[i] < nums[j] })
	for _, n := range nums {
		ext, err := w.record(n)
		if err != nil || ext == nil || ext.base != rec.num {
			continue
		}
		attrs = append(attrs, ext.attrs...)
	}
	return attrs, nil
}

func hasAttrList(rec *record) bool {
	for _, a := range rec.attrs {
		if a.typ == attrList {
			return true
		}
	}
	return false
}

func reparseTarget(attrs []attribute) (string, bool) {
	for _, a := range attrs {
		if a.typ != attrReparse || !a.resident || len(a.value) < 8 {
			continue
		}
		le := binary.LittleEndian
		tag := le.Uint32(a.value)
		buf := a.value[8:]
		var hdr int
		switch tag {
		case reparseSymlink:
			hdr = 12
		case reparseMount:
			hdr = 8
		default:
			return "", false
		}
		if len(buf) < hdr {
			return "", false
		}
		// Print name, else substitute name.
		subOff, subLen := int(le.Uint16(buf[0:])), int(le.Uint16(buf[2:]))
		prOff, prLen := int(le.Uint16(buf[4:])), int(le.Uint16(buf[6:]))
		names := buf[hdr:]
		if prLen > 0 && prOff+prLen <= len(names) {
			return strings.ReplaceAll(utf16String(names[prOff:prOff+prLen]), "\\", "/"), true
		}
		if subOff+subLen <= len(names) {
			return strings.ReplaceAll(utf16String(names[subOff:subOff+subLen]), "\\", "/"), true
		}
	}
	return "", false
}

// ntfsTime converts 100 ns intervals since 1601 to a time.
func ntfsTime(t uint64) time.Time {
	if t == 0 {
		return time.Time{}
	}
	const epochDiff = 116444736000000000 // 1601 to 1970 in 100 ns
	if t < epochDiff {
		return time.Time{}
	}
	t -= epochDiff
	return time.Unix(int64(t/1e7), int64(t%1e7)*100).UTC()
}
