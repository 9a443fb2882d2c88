// Package ole walks OLE compound files ([MS-CFB]): Windows Installer
// packages and patches (.msi, .msp, .mst) and other structured storage.
// Every stream is an entry, named by its storages' path; MSI's packed
// stream names are decoded as 7-Zip shows them ("!File",
// "[5]SummaryInformation", "Binary.…"), so the names match HashR's. The
// cabinets an MSI embeds are streams like any other: hashr-extract finds
// them by their content and walks them.
//
// Why not a library: richardlehane/mscfb, a generic compound-file reader,
// was not measured here; the decoding of MSI's packed stream names, which
// the names above depend on, is MSI's and would live here either way.
package ole

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/hashr-dev/hashr/internal/formats/archive"
)

// Magic starts every compound file.
const Magic = "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

const (
	headerSize = 512
	dirEntry   = 128

	freeSect   = 0xffffffff
	endOfChain = 0xfffffffe
	maxRegSect = 0xfffffffa
	noStream   = 0xffffffff

	typeStorage = 1
	typeStream  = 2
	typeRoot    = 5

	maxEntries  = 1 << 20 // directory entries
	maxFATBytes = 1 << 30 // the FAT of a 128 GiB file at 4 KiB sectors
)

// The CLSIDs of Windows Installer's root storages: package, patch and
// transform, whose stream names are packed.
var msiCLSIDs = []string{
	"\x84\x10\x0c\x00\x00\x00\x00\x00\xc0\x00\x00\x00\x00\x00\x00\x46",
	"\x86\x10\x0c\x00\x00\x00\x00\x00\xc0\x00\x00\x00\x00\x00\x00\x46",
	"\x82\x10\x0c\x00\x00\x00\x00\x00\xc0\x00\x00\x00\x00\x00\x00\x46",
}

func corrupt(offset int64, reason string) error { return archive.Corrupt("ole", offset, reason) }

// File is an open compound file.
type File struct {
	ra          io.ReaderAt
	size        int64
	sectorShift uint
	miniShift   uint
	miniCutoff  int64
	fat         []uint32
	miniFAT     []uint32
	miniChain   []uint32 // the sectors of the mini stream, in order
	entries     []entry
	msi         bool
}

type entry struct {
	name               string
	nameUnits          []uint16 // the name as stored, for MSI's packing
	typ                uint8
	left, right, child uint32
	clsid              string
	mtime              time.Time
	start              uint32
	size               int64
}

// Open reads the header, the FAT and the directory of the compound file
// in the size bytes of ra.
func Open(ra io.ReaderAt, size int64) (*File, error) {
	var h [headerSize]byte
	if _, err := ra.ReadAt(h[:], 0); err != nil {
		return nil, archive.Truncated("ole", 0, err)
	}
	if string(h[:8]) != Magic {
		return nil, corrupt(0, "no compound file signature")
	}
	if binary.LittleEndian.Uint16(h[28:]) != 0xfffe {
		return nil, corrupt(28, "byte order mark is not little-endian")
	}
	f := &File{ra: ra, size: size,
		sectorShift: uint(binary.LittleEndian.Uint16(h[30:])),
		miniShift:   uint(binary.LittleEndian.Uint16(h[32:])),
		miniCutoff:  int64(binary.LittleEndian.Uint32(h[56:])),
	}
	if f.sectorShift != 9 && f.sectorShift != 12 {
		return nil, corrupt(30, fmt.Sprintf("sector size 2^%d", f.sectorShift))
	}
	if f.miniShift != 6 {
		return nil, corrupt(32, fmt.Sprintf("mini sector size 2^%d", f.miniShift))
	}
	nFAT := int64(binary.LittleEndian.Uint32(h[44:]))
	firstDir := binary.LittleEndian.Uint32(h[48:])
	firstMiniFAT := binary.LittleEndian.Uint32(h[60:])
	firstDIFAT := binary.LittleEndian.Uint32(h[68:])
	nDIFAT := int64(binary.LittleEndian.Uint32(h[72:]))
	ss := int64(1) << f.sectorShift
	if nFAT*ss > maxFATBytes || nFAT*ss > size {
		return nil, corrupt(44, fmt.Sprintf("%d FAT sectors in a file of %d bytes", nFAT, size))
	}

	// The FAT's sectors: 109 in the header, the rest in the DIFAT chain.
	var fatSects []uint32
	for i := 0; i < 109 && int64(len(fatSects)) < nFAT; i++ {
		fatSects = append(fatSects, binary.LittleEndian.Uint32(h[76+4*i:]))
	}
	per := int(ss/4) - 1
	sect := firstDIFAT
	for d := int64(0); d < nDIFAT && int64(len(fatSects)) < nFAT; d++ {
		if sect > maxRegSect {
			return nil, corrupt(68, "DIFAT chain ends early")
		}
		b, err := f.sector(sect)
		if err != nil {
			return nil, err
		}
		for i := 0; i < per && int64(len(fatSects)) < nFAT; i++ {
			fatSects = append(fatSects, binary.LittleEndian.Uint32(b[4*i:]))
		}
		sect = binary.LittleEndian.Uint32(b[4*per:])
	}
	if int64(len(fatSects)) < nFAT {
		return nil, corrupt(72, fmt.Sprintf("%d FAT sectors listed, %d announced", len(fatSects), nFAT))
	}
	for _, s := range fatSects {
		b, err := f.sector(s)
		if err != nil {
			return nil, fmt.Errorf("reading the FAT: %w", err)
		}
		for i := 0; i+4 <= len(b); i += 4 {
			f.fat = append(f.fat, binary.LittleEndian.Uint32(b[i:]))
		}
	}

	dir, err := f.readChain(firstDir, -1)
	if err != nil {
		return nil, fmt.Errorf("reading the directory: %w", err)
	}
	if len(dir)/dirEntry > maxEntries {
		return nil, corrupt(48, fmt.Sprintf("%d directory entries", len(dir)/dirEntry))
	}
	for i := 0; i+dirEntry <= len(dir); i += dirEntry {
		f.entries = append(f.entries, parseEntry(dir[i:i+dirEntry], f.sectorShift == 9))
	}
	if len(f.entries) == 0 || f.entries[0].typ != typeRoot {
		return nil, corrupt(48, "no root entry")
	}
	root := f.entries[0]
	for _, c := range msiCLSIDs {
		f.msi = f.msi || root.clsid == c
	}
	if firstMiniFAT <= maxRegSect {
		mf, err := f.readChain(firstMiniFAT, -1)
		if err != nil {
			return nil, fmt.Errorf("reading the mini FAT: %w", err)
		}
		for i := 0; i+4 <= len(mf); i += 4 {
			f.miniFAT = append(f.miniFAT, binary.LittleEndian.Uint32(mf[i:]))
		}
	}
	if root.start <= maxRegSect && root.size > 0 {
		if f.miniChain, err = f.chain(root.start, root.size); err != nil {
			return nil, fmt.Errorf("reading the mini stream: %w", err)
		}
	}
	return f, nil
}

func parseEntry(b []byte, v3 bool) entry {
	nameLen := int(binary.LittleEndian.Uint16(b[64:]))
	if nameLen > 64 {
		nameLen = 64
	}
	u := make([]uint16, 0, 32)
	for i := 0; i+1 < nameLen; i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	e := entry{
		typ:   b[66],
		left:  binary.LittleEndian.Uint32(b[68:]),
		right: binary.LittleEndian.Uint32(b[72:]),
		child: binary.LittleEndian.Uint32(b[76:]),
		clsid: string(b[80:96]),
		mtime: filetime(binary.LittleEndian.Uint64(b[108:])),
		start: binary.LittleEndian.Uint32(b[116:]),
		size:  int64(binary.LittleEndian.Uint64(b[120:])),
	}
	if v3 {
		e.size &= 0xffffffff // version 3 files may leave junk in the high half
	}
	e.name = string(utf16.Decode(u))
	e.nameUnits = u
	return e
}

// sector reads sector n.
func (f *File) sector(n uint32) ([]byte, error) {
	ss := int64(1) << f.sectorShift
	off := (int64(n) + 1) * ss
	if n > maxRegSect || off+ss > f.size+ss { // the last sector may be short
		return nil, corrupt(off, fmt.Sprintf("sector %d is beyond the file's end", n))
	}
	b := make([]byte, ss)
	got, err := f.ra.ReadAt(b, off)
	if err != nil && err != io.EOF {
		return nil, err
	}
	if got == 0 {
		return nil, corrupt(off, fmt.Sprintf("sector %d is beyond the file's end", n))
	}
	return b, nil
}

// chain lists the sectors of the chain from start, enough for size bytes
// (or to its end when size < 0), refusing loops.
func (f *File) chain(start uint32, size int64) ([]uint32, error) {
	ss := int64(1) << f.sectorShift
	limit := int64(len(f.fat))
	var want int64 = -1
	if size >= 0 {
		want = (size + ss - 1) / ss
		if want > limit {
			return nil, corrupt(-1, fmt.Sprintf("a stream of %d bytes in a file of %d sectors", size, limit))
		}
	}
	var out []uint32
	for s := start; s != endOfChain; {
		if want >= 0 && int64(len(out)) == want {
			break
		}
		if s > maxRegSect || int64(s) >= limit {
			return nil, corrupt(-1, fmt.Sprintf("sector chain reaches sector %#x", s))
		}
		if int64(len(out)) >= limit {
			return nil, corrupt(-1, "sector chain loops")
		}
		out = append(out, s)
		s = f.fat[s]
	}
	if want >= 0 && int64(len(out)) < want {
		return nil, corrupt(-1, fmt.Sprintf("sector chain of %d sectors for %d bytes", len(out), size))
	}
	return out, nil
}

// readChain reads a whole chain into memory: the directory, the mini FAT.
func (f *File) readChain(start uint32, size int64) ([]byte, error) {
	sects, err := f.chain(start, size)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	for _, s := range sects {
		b, err := f.sector(s)
		if err != nil {
			return nil, err
		}
		buf.Write(b)
	}
	return buf.Bytes(), nil
}

// open returns a reader of the stream of entry e.
func (f *File) open(e *entry) (io.Reader, error) {
	if e.size == 0 {
		return bytes.NewReader(nil), nil
	}
	if e.size < f.miniCutoff {
		return f.openMini(e)
	}
	sects, err := f.chain(e.start, e.size)
	if err != nil {
		return nil, err
	}
	return &sectorReader{ra: f.ra, sects: sects, shift: f.sectorShift, left: e.size, base: 1}, nil
}

// openMini reads a small stream out of the mini stream.
func (f *File) openMini(e *entry) (io.Reader, error) {
	ms := int64(1) << f.miniShift
	want := (e.size + ms - 1) / ms
	var minis []uint32
	for s := e.start; int64(len(minis)) < want; {
		if s > maxRegSect || int(s) >= len(f.miniFAT) || int64(len(minis)) > int64(len(f.miniFAT)) {
			return nil, corrupt(-1, fmt.Sprintf("mini sector chain reaches %#x", s))
		}
		minis = append(minis, s)
		s = f.miniFAT[s]
	}
	// A mini sector's place in the file: through the mini stream's chain.
	perSector := uint32(1) << (f.sectorShift - f.miniShift)
	var out bytes.Buffer
	for _, m := range minis {
		idx := m / perSector
		if int(idx) >= len(f.miniChain) {
			return nil, corrupt(-1, fmt.Sprintf("mini sector %d is beyond the mini stream", m))
		}
		off := (int64(f.miniChain[idx])+1)<<f.sectorShift + int64(m%perSector)*ms
		b := make([]byte, ms)
		if _, err := f.ra.ReadAt(b, off); err != nil && err != io.EOF {
			return nil, err
		}
		out.Write(b)
	}
	out.Truncate(int(e.size))
	return &out, nil
}

// sectorReader reads a stream sector by sector.
type sectorReader struct {
	ra    io.ReaderAt
	sects []uint32
	shift uint
	left  int64
	pos   int64 // within the current sector
	base  int64
}

func (r *sectorReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	ss := int64(1) << r.shift
	if r.pos == ss {
		r.sects, r.pos = r.sects[1:], 0
	}
	n := min(int64(len(p)), ss-r.pos, r.left)
	off := (int64(r.sects[0])+r.base)<<r.shift + r.pos
	got, err := r.ra.ReadAt(p[:n], off)
	r.pos += int64(got)
	r.left -= int64(got)
	if err == io.EOF && int64(got) == n {
		err = nil
	}
	if err == io.EOF {
		err = corrupt(off, "truncated")
	}
	return got, err
}

// streamName is how a stream or storage is shown: MSI's packed names
// decoded, control characters as "[N]" (7-Zip's way), '/' kept out of
// the path.
func (f *File) streamName(e *entry) string {
	var sb strings.Builder
	for _, c := range e.nameUnits {
		switch {
		case f.msi && c >= 0x3800 && c < 0x4800:
			c -= 0x3800
			sb.WriteByte(msiChar(c & 0x3f))
			sb.WriteByte(msiChar(c >> 6 & 0x3f))
		case f.msi && c >= 0x4800 && c < 0x4840:
			sb.WriteByte(msiChar(c - 0x4800))
		case f.msi && c == 0x4840:
			sb.WriteByte('!') // a table's stream
		case c < 0x20:
			sb.WriteString("[" + strconv.Itoa(int(c)) + "]")
		case c == '/':
			sb.WriteByte('_')
		default:
			sb.WriteString(string(utf16.Decode([]uint16{c})))
		}
	}
	return sb.String()
}

// msiChar is one of the 64 characters MSI packs into stream names.
func msiChar(c uint16) byte {
	const set = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz._"
	return set[c&0x3f]
}

func filetime(v uint64) time.Time {
	const ticksTo1970 = 116444736000000000
	if v <= ticksTo1970 {
		return time.Time{}
	}
	v -= ticksTo1970
	return time.Unix(int64(v/1e7), int64(v%1e7)*100).UTC()
}
