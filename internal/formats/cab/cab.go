// Package cab walks Microsoft cabinet files (.cab, and the .msu Windows
// updates that are cabinets): every file of every folder, stored or
// MSZIP-compressed, decoded here in Go with each block's checksum checked.
// Folders compressed with LZX or Quantum are handed to cabextract (Debian
// package cabextract) when it is installed, or fail with
// archive.ErrUnsupportedMethod. The Authenticode signature Microsoft puts
// after the last folder (announced in the header's reserved area) is
// skipped.
//
// Why not a library: no Go cabinet reader was measured here; MSZIP is
// DEFLATE blocks sharing a window (compress/flate does the inflating),
// and LZX and Quantum go to cabextract, so what is left to write is the
// header walk.
package cab

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hashr-dev/hashr/internal/formats/archive"
)

// Magic starts every cabinet.
const Magic = "MSCF"

const (
	headerSize = 36

	flagPrevCabinet    = 0x0001
	flagNextCabinet    = 0x0002
	flagReservePresent = 0x0004

	attrNameIsUTF8 = 0x80

	// Folder compression types (the low four bits of typeCompress).
	compNone    = 0
	compMSZIP   = 1
	compQuantum = 2
	compLZX     = 3

	maxBlock       = 32768 // uncompressed bytes of one data block
	mszipWindow    = 32768
	folderFromPrev = 0xfffd // iFolder values of files spanning cabinets
)

func corrupt(offset int64, reason string) error { return archive.Corrupt("cab", offset, reason) }

// folder is one CFFOLDER: a run of data blocks compressed as one stream.
type folder struct {
	dataOffset int64
	blocks     int
	comp       uint16 // typeCompress
}

func (f *folder) method() string {
	switch f.comp & 0x0f {
	case compNone:
		return "none"
	case compMSZIP:
		return "MSZIP"
	case compQuantum:
		return "Quantum"
	case compLZX:
		return "LZX"
	}
	return fmt.Sprintf("method %d", f.comp&0x0f)
}

// file is one CFFILE.
type file struct {
	name   string
	size   int64
	offset int64 // in its folder's uncompressed data
	folder int
	mtime  time.Time
}

// Cabinet is a cabinet's directory.
type Cabinet struct {
	ra          io.ReaderAt
	size        int64
	folders     []folder
	files       []file
	dataReserve int // bytes reserved in each data block header
	// Methods lists the compression methods of the folders, for messages.
	Methods []string
}

// Open reads the directory of the cabinet in the size bytes of ra.
func Open(ra io.ReaderAt, size int64) (*Cabinet, error) {
	var h [headerSize]byte
	if _, err := ra.ReadAt(h[:], 0); err != nil {
		return nil, archive.Truncated("cab", 0, err)
	}
	if string(h[:4]) != Magic {
		return nil, corrupt(0, "no MSCF signature")
	}
	if h[25] != 1 || h[24] != 3 {
		return nil, corrupt(24, fmt.Sprintf("version %d.%d, not 1.3", h[25], h[24]))
	}
	coffFiles := int64(binary.LittleEndian.Uint32(h[16:]))
	nFolders := int(binary.LittleEndian.Uint16(h[26:]))
	nFiles := int(binary.LittleEndian.Uint16(h[28:]))
	flags := binary.LittleEndian.Uint16(h[30:])
	c := &Cabinet{ra: ra, size: size}
	off := int64(headerSize)
	folderReserve := 0
	if flags&flagReservePresent != 0 {
		var r [4]byte
		if _, err := ra.ReadAt(r[:], off); err != nil {
			return nil, archive.Truncated("cab", off, err)
		}
		// The header's reserved bytes hold, in signed cabinets, where the
		// Authenticode signature is: nothing to read for the files.
		off += 4 + int64(binary.LittleEndian.Uint16(r[0:]))
		folderReserve = int(r[2])
		c.dataReserve = int(r[3])
	}
	br := &byteReader{ra: ra, off: off, size: size}
	if flags&flagPrevCabinet != 0 {
		br.cstring()
		br.cstring()
	}
	if flags&flagNextCabinet != 0 {
		br.cstring()
		br.cstring()
	}
	if br.err != nil {
		return nil, br.err
	}
	for i := 0; i < nFolders; i++ {
		var fb [8]byte
		if err := br.read(fb[:]); err != nil {
			return nil, err
		}
		br.off += int64(folderReserve)
		c.folders = append(c.folders, folder{
			dataOffset: int64(binary.LittleEndian.Uint32(fb[0:])),
			blocks:     int(binary.LittleEndian.Uint16(fb[4:])),
			comp:       binary.LittleEndian.Uint16(fb[6:]),
		})
		c.Methods = append(c.Methods, c.folders[i].method())
	}
	br.off = coffFiles
	for i := 0; i < nFiles; i++ {
		var fb [16]byte
		if err := br.read(fb[:]); err != nil {
			return nil, err
		}
		raw := br.cstring()
		if br.err != nil {
			return nil, br.err
		}
		attrs := binary.LittleEndian.Uint16(fb[14:])
		c.files = append(c.files, file{
			name:   decodeName(raw, attrs&attrNameIsUTF8 != 0),
			size:   int64(binary.LittleEndian.Uint32(fb[0:])),
			offset: int64(binary.LittleEndian.Uint32(fb[4:])),
			folder: int(binary.LittleEndian.Uint16(fb[8:])),
			mtime:  dosTime(binary.LittleEndian.Uint16(fb[10:]), binary.LittleEndian.Uint16(fb[12:])),
		})
	}
	return c, nil
}

// decodeName turns a stored name into a '/'-separated one. Names not
// marked UTF-8 are in the code page of the machine that made the
// cabinet; bytes above 0x7f are read as Latin-1, the usual guess.
func decodeName(raw []byte, isUTF8 bool) string {
	var s string
	if isUTF8 || utf8.Valid(raw) {
		s = string(raw)
	} else {
		r := make([]rune, len(raw))
		for i, b := range raw {
			r[i] = rune(b)
		}
		s = string(r)
	}
	return strings.ReplaceAll(s, `\`, "/")
}

// dosTime decodes an MS-DOS date and time, local time stored as UTC.
func dosTime(d, t uint16) time.Time {
	if d == 0 {
		return time.Time{}
	}
	return time.Date(int(d>>9)+1980, time.Month(d>>5&15), int(d&31), int(t>>11), int(t>>5&63), int(t&31)*2, 0, time.UTC)
}

// byteReader reads a cabinet's tables sequentially, remembering the
// first error.
type byteReader struct {
	ra   io.ReaderAt
	off  int64
	size int64
	err  error
}

func (b *byteReader) read(p []byte) error {
	if b.err != nil {
		return b.err
	}
	if _, err := b.ra.ReadAt(p, b.off); err != nil {
		b.err = archive.Truncated("cab", b.off, err)
		return b.err
	}
	b.off += int64(len(p))
	return nil
}

// cstring reads a NUL-terminated string of at most 256 bytes.
func (b *byteReader) cstring() []byte {
	if b.err != nil {
		return nil
	}
	var buf [257]byte
	n, err := b.ra.ReadAt(buf[:], b.off)
	if i := bytes.IndexByte(buf[:n], 0); i >= 0 {
		b.off += int64(i) + 1
		return append([]byte(nil), buf[:i]...)
	}
	if err != nil && n < len(buf) {
		b.err = corrupt(b.off, "truncated in a name")
	} else {
		b.err = corrupt(b.off, "name longer than 256 bytes")
	}
	return nil
}

// blockReader decodes one folder's data blocks as a stream.
type blockReader struct {
	c       *Cabinet
	f       *folder
	index   int   // of the next block
	off     int64 // of the next block header
	out     []byte
	pending []byte // decoded bytes not read yet
	window  []byte // the last 32 KiB of output, MSZIP's dictionary
	in      []byte
	meter   archive.Meter
}

func newBlockReader(c *Cabinet, f *folder) *blockReader {
	return &blockReader{c: c, f: f, off: f.dataOffset, out: make([]byte, 0, maxBlock)}
}

func (r *blockReader) Read(p []byte) (int, error) {
	for len(r.pending) == 0 {
		if r.index >= r.f.blocks {
			return 0, io.EOF
		}
		if err := r.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, r.pending)
	r.pending = r.pending[n:]
	return n, nil
}

// next decodes the next data block.
func (r *blockReader) next() error {
	var h [8]byte
	if _, err := r.c.ra.ReadAt(h[:], r.off); err != nil {
		return archive.Truncated("cab", r.off, err)
	}
	sum := binary.LittleEndian.Uint32(h[0:])
	cbData := int(binary.LittleEndian.Uint16(h[4:]))
	cbUncomp := int(binary.LittleEndian.Uint16(h[6:]))
	dataAt := r.off + 8 + int64(r.c.dataReserve)
	if cbUncomp > maxBlock || cbUncomp == 0 && r.index+1 < r.f.blocks {
		return corrupt(r.off, fmt.Sprintf("data block of %d bytes", cbUncomp))
	}
	if cap(r.in) < cbData {
		r.in = make([]byte, cbData)
	}
	in := r.in[:cbData]
	if _, err := r.c.ra.ReadAt(in, dataAt); err != nil {
		return archive.Truncated("cab", dataAt, err)
	}
	if sum != 0 {
		if got := checksum(h[4:8], checksum(in, 0)); got != sum {
			return corrupt(r.off, fmt.Sprintf("data block %d: checksum %08x, header says %08x", r.index, got, sum))
		}
	}
	out := r.out[:cbUncomp]
	switch r.f.comp & 0x0f {
	case compNone:
		if cbData != cbUncomp {
			return corrupt(r.off, "stored data block of two sizes")
		}
		copy(out, in)
	case compMSZIP:
		if err := r.inflate(in, out); err != nil {
			return corrupt(r.off, fmt.Sprintf("MSZIP data block %d: %v", r.index, err))
		}
	default:
		return fmt.Errorf("cab: %w: %s", archive.ErrUnsupportedMethod, r.f.method())
	}
	if r.meter != nil {
		if err := r.meter.Expand(int64(len(out))); err != nil {
			return err
		}
	}
	r.pending = out
	r.index++
	r.off = dataAt + int64(cbData)
	return nil
}

// inflate decodes an MSZIP block: "CK", then a deflate stream whose
// matches may reach back into the previous blocks' output.
func (r *blockReader) inflate(in, out []byte) error {
	if len(in) < 2 || in[0] != 'C' || in[1] != 'K' {
		return errors.New("no CK signature")
	}
	fr := flate.NewReaderDict(bytes.NewReader(in[2:]), r.window)
	defer fr.Close()
	if _, err := io.ReadFull(fr, out); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return errors.New("decodes to fewer bytes than the block says")
		}
		return err
	}
	// The window for the next block: the last 32 KiB of everything so far.
	r.window = append(r.window, out...)
	if len(r.window) > mszipWindow {
		r.window = append(r.window[:0], r.window[len(r.window)-mszipWindow:]...)
	}
	return nil
}

// checksum is the cabinet data block checksum: the XOR of the data as
// little-endian 32-bit words, the last partial word taken big-end first.
func checksum(data []byte, seed uint32) uint32 {
	sum := seed
	n := len(data) / 4
	for i := 0; i < n; i++ {
		sum ^= binary.LittleEndian.Uint32(data[4*i:])
	}
	var ul uint32
	rest := data[4*n:]
	switch len(rest) {
	case 3:
		ul = uint32(rest[0])<<16 | uint32(rest[1])<<8 | uint32(rest[2])
	case 2:
		ul = uint32(rest[0])<<8 | uint32(rest[1])
	case 1:
		ul = uint32(rest[0])
	}
	return sum ^ ul
}
