package ntfs

// The generators here edit images that mkntfs and ntfscp made, for the
// cases no unprivileged Debian tool writes: a compressed file (ntfs-3g
// compresses only through a mount with the compression option) and a
// directory loop. They write what Windows writes: LZNT1 compression units
// of 16 clusters, each stored compressed when that saves a cluster, else
// as it is, all-zero units as sparse runs; the record's update sequence
// is reapplied. The freed clusters stay marked used in $Bitmap, which
// chkdsk would fix and a reader never looks at.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
)

// rawRecord is where an MFT record lies in the image.
type rawRecord struct {
	off int64
	rec *record
	buf []byte // fixed-up copy
}

// findRecord finds the base record whose first name is p (slash path)
// in an image held in memory, reading the MFT through the reader.
func findRecord(img []byte, p string) (*rawRecord, *Walker, error) {
	wk, err := NewWalker(readerAt(img), int64(len(img)))
	if err != nil {
		return nil, nil, err
	}
	w := wk.(*Walker)
	if len(w.mft.runs) == 0 || w.mft.runs[0].lcn < 0 {
		return nil, nil, errors.New("MFT without a first run")
	}
	rs := int64(w.boot.recordSize)
	first := w.mft.runs[0]
	for num := uint64(firstUser); num < w.count && int64(num)*rs < first.length*w.boot.clusterSize; num++ {
		ns := w.recs[num].names()
		if len(ns) == 0 {
			continue
		}
		parent, err := w.dirPath(ns[0].parent, ns[0].parentSeq, 0)
		if err != nil {
			return nil, nil, err
		}
		if joinName(parent, ns[0].name) != p {
			continue
		}
		off := first.lcn*w.boot.clusterSize + int64(num)*rs
		buf := append([]byte(nil), img[off:off+rs]...)
		rec, err := parseRecord(append([]byte(nil), buf...), num, w.boot.sectorSize)
		if err != nil {
			return nil, nil, err
		}
		if err := fixup(buf, w.boot.sectorSize); err != nil {
			return nil, nil, err
		}
		return &rawRecord{off: off, rec: rec, buf: buf}, w, nil
	}
	return nil, nil, fmt.Errorf("%s not found in the MFT", p)
}

type readerAt []byte

func (b readerAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(b)) {
		return 0, errors.New("EOF")
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, errors.New("EOF")
	}
	return n, nil
}

// writeRecord puts the update sequence back into a fixed-up record and
// writes it into the image.
func writeRecord(img []byte, r *rawRecord, sectorSize int) {
	le := binary.LittleEndian
	buf := r.buf
	usaOff, usaCount := int(le.Uint16(buf[4:])), int(le.Uint16(buf[6:]))
	check := le.Uint16(buf[usaOff:]) + 1
	if check == 0 {
		check = 1
	}
	le.PutUint16(buf[usaOff:], check)
	for i := 1; i < usaCount; i++ {
		end := i*sectorSize - 2
		copy(buf[usaOff+2*i:], buf[end:end+2])
		le.PutUint16(buf[end:], check)
	}
	copy(img[r.off:], buf)
}

// attrOffset returns the offset in a record of its first attribute of
// type typ with no name, and that attribute's length.
func attrOffset(buf []byte, typ uint32) (int, int) {
	le := binary.LittleEndian
	for off := int(le.Uint16(buf[20:])); off+8 <= len(buf); {
		t := le.Uint32(buf[off:])
		if t == attrEnd {
			break
		}
		n := int(le.Uint32(buf[off+4:]))
		if t == typ && buf[off+9] == 0 {
			return off, n
		}
		off += n
	}
	return -1, 0
}

// compressFile rewrites the unnamed data of file p as a compressed
// stream, in the image file img.
func compressFile(imgPath, p string) error {
	img, err := os.ReadFile(imgPath)
	if err != nil {
		return err
	}
	r, w, err := findRecord(img, p)
	if err != nil {
		return err
	}
	s, err := w.openStream(r.rec, nil, "")
	if err != nil || s == nil || s.resident != nil || len(s.runs) != 1 {
		return fmt.Errorf("%s: want one run of non-resident data (%v)", p, err)
	}
	data := make([]byte, s.size)
	if _, err := s.ReadAt(data, 0); err != nil {
		return err
	}
	cs := w.boot.clusterSize
	const unit = 16
	unitBytes := int(unit * cs)
	lcn0, have := s.runs[0].lcn, s.runs[0].length
	var runs []run
	next := lcn0 // where the next stored cluster goes
	vcn := int64(0)
	for u := 0; u*unitBytes < len(data); u++ {
		part := data[u*unitBytes : min(len(data), (u+1)*unitBytes)]
		var stored []byte
		switch {
		case allZero(part):
			runs = append(runs, run{vcn: vcn, lcn: -1, length: unit})
			vcn += unit
			continue
		default:
			c := compressLZNT1(part)
			if n := (int64(len(c)) + cs - 1) / cs; n < unit {
				stored = make([]byte, n*cs)
				copy(stored, c)
			} else {
				stored = make([]byte, unitBytes)
				copy(stored, part)
			}
		}
		n := int64(len(stored)) / cs
		if next+n > lcn0+have {
			return errors.New("compressed data does not fit in the file's clusters")
		}
		copy(img[next*cs:], stored)
		runs = append(runs, run{vcn: vcn, lcn: next, length: n})
		if n < unit {
			runs = append(runs, run{vcn: vcn + n, lcn: -1, length: unit - n})
		}
		next += n
		vcn += unit
	}
	allocated := (next - lcn0) * cs
	// The new attribute: a non-resident header with the compressed size,
	// then the run list.
	off, length := attrOffset(r.buf, attrData)
	if off < 0 {
		return errors.New("no data attribute")
	}
	le := binary.LittleEndian
	old := r.buf[off : off+length]
	rl := encodeRuns(runs)
	attr := make([]byte, 72+len(rl))
	copy(attr[:16], old[:16])
	attr[8] = 1
	le.PutUint16(attr[10:], 72) // name offset (no name)
	le.PutUint16(attr[12:], flagCompressed)
	le.PutUint64(attr[16:], 0)
	le.PutUint64(attr[24:], uint64(vcn-1))
	le.PutUint16(attr[32:], 72)
	le.PutUint16(attr[34:], 4)
	le.PutUint64(attr[40:], uint64(vcn*cs))
	le.PutUint64(attr[48:], uint64(s.size))
	le.PutUint64(attr[56:], uint64(s.size))
	le.PutUint64(attr[64:], uint64(allocated))
	copy(attr[72:], rl)
	for len(attr)%8 != 0 {
		attr = append(attr, 0)
	}
	le.PutUint32(attr[4:], uint32(len(attr)))
	rest := append([]byte(nil), r.buf[off+length:le.Uint32(r.buf[24:])]...)
	if !strings.HasPrefix(string(rest), "\xff\xff\xff\xff") {
		return errors.New("the data attribute is not the record's last")
	}
	nb := append(append(append([]byte(nil), r.buf[:off]...), attr...), 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0)
	if len(nb) > len(r.buf)-8 {
		return errors.New("the compressed attribute does not fit in the record")
	}
	copy(r.buf, nb)
	clear(r.buf[len(nb):])
	le.PutUint32(r.buf[24:], uint32(len(nb)))
	writeRecord(img, r, w.boot.sectorSize)
	return os.WriteFile(imgPath, img, 0o644)
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// encodeRuns writes a mapping-pairs run list.
func encodeRuns(runs []run) []byte {
	var out []byte
	prev := int64(0)
	for _, r := range runs {
		l := signedBytes(r.length)
		var o []byte
		if r.lcn >= 0 {
			o = signedBytes(r.lcn - prev)
			prev = r.lcn
		}
		out = append(out, byte(len(o))<<4|byte(len(l)))
		out = append(out, l...)
		out = append(out, o...)
	}
	return append(out, 0)
}

func signedBytes(v int64) []byte {
	var b []byte
	for {
		b = append(b, byte(v))
		v >>= 8
		if (v == 0 && b[len(b)-1]&0x80 == 0) || (v == -1 && b[len(b)-1]&0x80 != 0) {
			return b
		}
	}
}

// compressLZNT1 compresses data (at most a compression unit) as LZNT1
// chunks of 4 KiB, each stored as it is when compressing does not help.
func compressLZNT1(data []byte) []byte {
	var out []byte
	for start := 0; start < len(data); start += chunkSize {
		chunk := data[start:min(len(data), start+chunkSize)]
		c := compressChunk(chunk)
		if len(c) < len(chunk) {
			out = binary.LittleEndian.AppendUint16(out, uint16(0xb000|(len(c)-1)))
			out = append(out, c...)
		} else {
			out = binary.LittleEndian.AppendUint16(out, uint16(0x3000|(len(chunk)-1)))
			out = append(out, chunk...)
		}
	}
	return out
}

// compressChunk is a greedy LZ77 over one chunk, with the last position
// of each 3-byte prefix as the only candidate.
func compressChunk(src []byte) []byte {
	var out []byte
	last := map[[3]byte]int{}
	flagPos, bit := -1, 8
	for pos := 0; pos < len(src); {
		if bit == 8 {
			flagPos, bit = len(out), 0
			out = append(out, 0)
		}
		bestLen, bestDisp := 0, 0
		if pos > 0 && pos+3 <= len(src) {
			lengthBits := 12
			for i := pos - 1; i >= 0x10; i >>= 1 {
				lengthBits--
			}
			maxDisp, maxLen := 1<<(16-lengthBits), 1<<lengthBits-1+3
			if cand, ok := last[[3]byte(src[pos:pos+3])]; ok && pos-cand <= maxDisp {
				n := 0
				for pos+n < len(src) && n < maxLen && src[cand+n] == src[pos+n] {
					n++
				}
				if n >= 3 {
					bestLen, bestDisp = n, pos-cand
				}
			}
			if bestLen > 0 {
				tok := (bestDisp-1)<<lengthBits | (bestLen - 3)
				out = binary.LittleEndian.AppendUint16(out, uint16(tok))
				out[flagPos] |= 1 << bit
			}
		}
		if bestLen == 0 {
			out = append(out, src[pos])
			bestLen = 1
		}
		for k := pos; k < pos+bestLen && k+3 <= len(src); k++ {
			last[[3]byte(src[k:k+3])] = k
		}
		pos += bestLen
		bit++
	}
	return out
}

// makeLoop makes directory dir the child of its own subdirectory
// dir/sub, editing dir's $FILE_NAME in an image held in memory.
func makeLoop(img []byte, dir, sub string) error {
	r, _, err := findRecord(img, dir)
	if err != nil {
		return err
	}
	s, w, err := findRecord(img, path.Join(dir, sub))
	if err != nil {
		return err
	}
	le := binary.LittleEndian
	found := false
	for off := int(le.Uint16(r.buf[20:])); off+8 <= len(r.buf); off += int(le.Uint32(r.buf[off+4:])) {
		t := le.Uint32(r.buf[off:])
		if t == attrEnd || le.Uint32(r.buf[off+4:]) == 0 {
			break
		}
		if t == attrFileName {
			voff := off + int(le.Uint16(r.buf[off+20:]))
			le.PutUint64(r.buf[voff:], s.rec.num|uint64(s.rec.seq)<<48)
			found = true
		}
	}
	if !found {
		return errors.New("no file name")
	}
	writeRecord(img, r, w.boot.sectorSize)
	return nil
}
