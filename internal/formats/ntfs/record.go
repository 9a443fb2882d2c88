package ntfs

import (
	"encoding/binary"
	"fmt"
	"unicode/utf16"
)

// Attribute types.
const (
	attrStandardInfo = 0x10
	attrList         = 0x20
	attrFileName     = 0x30
	attrData         = 0x80
	attrReparse      = 0xc0
	attrEnd          = 0xffffffff
)

// Attribute flags.
const (
	flagCompressed = 0x0001
	flagEncrypted  = 0x4000
	flagSparse     = 0x8000
)

// MFT record flags.
const (
	recordInUse = 0x01
	recordDir   = 0x02
)

// record is one MFT record, its update sequence applied.
type record struct {
	num   uint64
	flags uint16
	seq   uint16
	base  uint64 // base record reference, 0 for a base record
	attrs []attribute
}

// attribute is one attribute of a record.
type attribute struct {
	typ      uint32
	name     string
	flags    uint16
	resident bool
	value    []byte // resident value
	// non-resident
	startVCN, lastVCN uint64
	runs              []run
	compUnit          uint16
	allocSize         uint64
	dataSize          uint64
	initSize          uint64
}

// parseRecord checks and decodes an MFT record in place (buf is
// modified by the update sequence fixups).
func parseRecord(buf []byte, num uint64, sectorSize int) (*record, error) {
	le := binary.LittleEndian
	if string(buf[0:4]) != "FILE" {
		if string(buf[0:4]) == "BAAD" {
			return nil, fmt.Errorf("MFT record %d is marked BAAD (a torn write)", num)
		}
		return nil, fmt.Errorf("MFT record %d has no FILE signature", num)
	}
	if err := fixup(buf, sectorSize); err != nil {
		return nil, fmt.Errorf("MFT record %d: %w", num, err)
	}
	r := &record{num: num, seq: le.Uint16(buf[16:]), flags: le.Uint16(buf[22:]), base: le.Uint64(buf[32:]) & 0xffffffffffff}
	used := int(le.Uint32(buf[24:]))
	off := int(le.Uint16(buf[20:]))
	if used > len(buf) || used < 0 {
		used = len(buf)
	}
	for n := 0; off+8 <= used; n++ {
		if n > 512 {
			return nil, fmt.Errorf("MFT record %d: too many attributes", num)
		}
		typ := le.Uint32(buf[off:])
		if typ == attrEnd {
			break
		}
		length := int(le.Uint32(buf[off+4:]))
		if length < 24 || off+length > used || length%8 != 0 && length < 16 {
			return nil, fmt.Errorf("MFT record %d: attribute at %d of %d bytes overruns the record", num, off, length)
		}
		a, err := parseAttribute(buf[off : off+length])
		if err != nil {
			return nil, fmt.Errorf("MFT record %d: attribute type %#x: %w", num, typ, err)
		}
		r.attrs = append(r.attrs, a)
		off += length
	}
	return r, nil
}

// fixup applies the update sequence array: the last two bytes of every
// sector were replaced by a check value when the record was written.
func fixup(buf []byte, sectorSize int) error {
	le := binary.LittleEndian
	usaOff, usaCount := int(le.Uint16(buf[4:])), int(le.Uint16(buf[6:]))
	if usaCount == 0 {
		return fmt.Errorf("no update sequence")
	}
	if usaOff+2*usaCount > len(buf) || (usaCount-1)*sectorSize > len(buf) {
		return fmt.Errorf("update sequence of %d entries at %d does not fit", usaCount, usaOff)
	}
	check := buf[usaOff : usaOff+2]
	for i := 1; i < usaCount; i++ {
		end := i*sectorSize - 2
		if buf[end] != check[0] || buf[end+1] != check[1] {
			return fmt.Errorf("update sequence mismatch in sector %d (a torn write)", i-1)
		}
		buf[end], buf[end+1] = buf[usaOff+2*i], buf[usaOff+2*i+1]
	}
	return nil
}

func parseAttribute(b []byte) (attribute, error) {
	le := binary.LittleEndian
	a := attribute{typ: le.Uint32(b[0:]), resident: b[8] == 0, flags: le.Uint16(b[12:])}
	nameLen, nameOff := int(b[9]), int(le.Uint16(b[10:]))
	if nameLen > 0 {
		if nameOff+2*nameLen > len(b) {
			return a, fmt.Errorf("name outside the attribute")
		}
		a.name = utf16String(b[nameOff : nameOff+2*nameLen])
	}
	if a.resident {
		vlen, voff := int(le.Uint32(b[16:])), int(le.Uint16(b[20:]))
		if voff+vlen > len(b) || vlen < 0 {
			return a, fmt.Errorf("resident value outside the attribute")
		}
		a.value = b[voff : voff+vlen]
		a.dataSize, a.initSize = uint64(vlen), uint64(vlen)
		return a, nil
	}
	if len(b) < 64 {
		return a, fmt.Errorf("non-resident attribute header too short")
	}
	a.startVCN, a.lastVCN = le.Uint64(b[16:]), le.Uint64(b[24:])
	runOff := int(le.Uint16(b[32:]))
	a.compUnit = le.Uint16(b[34:])
	a.allocSize, a.dataSize, a.initSize = le.Uint64(b[40:]), le.Uint64(b[48:]), le.Uint64(b[56:])
	if runOff > len(b) {
		return a, fmt.Errorf("run list outside the attribute")
	}
	runs, err := decodeRuns(b[runOff:], a.startVCN)
	if err != nil {
		return a, err
	}
	a.runs = runs
	return a, nil
}

func utf16String(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

// fileName is a $FILE_NAME attribute's value.
type fileName struct {
	parent    uint64 // record number
	parentSeq uint16
	namespace uint8 // 0 POSIX, 1 Win32, 2 DOS, 3 Win32 and DOS
	name      string
	mtime     uint64
}

func parseFileName(v []byte) (fileName, bool) {
	if len(v) < 66 {
		return fileName{}, false
	}
	le := binary.LittleEndian
	ref := le.Uint64(v[0:])
	n := int(v[64])
	if 66+2*n > len(v) {
		return fileName{}, false
	}
	return fileName{parent: ref & 0xffffffffffff, parentSeq: uint16(ref >> 48), namespace: v[65],
		name: utf16String(v[66 : 66+2*n]), mtime: le.Uint64(v[16:])}, true
}

// run is one extent of a non-resident attribute: length clusters from
// vcn on, at lcn, or sparse (lcn < 0).
type run struct {
	vcn, lcn, length int64
}

// decodeRuns decodes a mapping-pairs run list.
func decodeRuns(b []byte, startVCN uint64) ([]run, error) {
	var runs []run
	vcn := int64(startVCN)
	lcn := int64(0)
	for i := 0; i < len(b); {
		h := b[i]
		if h == 0 {
			return runs, nil
		}
		lenBytes, offBytes := int(h&0x0f), int(h>>4)
		if lenBytes == 0 || lenBytes > 8 || offBytes > 8 || i+1+lenBytes+offBytes > len(b) {
			return nil, fmt.Errorf("bad run list header %#x", h)
		}
		length := signed(b[i+1 : i+1+lenBytes])
		if length <= 0 {
			return nil, fmt.Errorf("run of %d clusters", length)
		}
		r := run{vcn: vcn, length: length, lcn: -1}
		if offBytes > 0 {
			lcn += signed(b[i+1+lenBytes : i+1+lenBytes+offBytes])
			if lcn < 0 {
				return nil, fmt.Errorf("run at negative cluster %d", lcn)
			}
			r.lcn = lcn
		}
		runs = append(runs, r)
		if vcn+length < vcn {
			return nil, fmt.Errorf("run list overflows")
		}
		vcn += length
		i += 1 + lenBytes + offBytes
	}
	return nil, fmt.Errorf("run list without its end")
}

// signed decodes a little-endian two's complement integer of 1 to 8 bytes.
func signed(b []byte) int64 {
	var v int64
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | int64(b[i])
	}
	shift := 64 - 8*uint(len(b))
	return v << shift >> shift
}
