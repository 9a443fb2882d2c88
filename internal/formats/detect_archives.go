package formats

import (
	"bytes"
	"encoding/binary"
	"strconv"
)

// Checks for packages and archives.

func isRPM(h *Head) bool {
	// The lead: magic, then the format's major version.
	b := At(h.Head, 0, 6)
	return b != nil && bytes.Equal(b[:4], []byte{0xed, 0xab, 0xee, 0xdb}) && (b[4] == 3 || b[4] == 4)
}

const arMagic = "!<arch>\n"

// arMemberName returns the name field of an ar archive's first member, or
// nil when the archive header or the member header is not there.
func arMemberName(h *Head) []byte {
	if !HasAt(h.Head, 0, arMagic) {
		return nil
	}
	m := At(h.Head, len(arMagic), 60)
	if m == nil || m[58] != '`' || m[59] != '\n' {
		return nil
	}
	return m[:16]
}

func isDeb(h *Head) bool {
	name := arMemberName(h)
	// GNU ar ends names with "/", BSD ar and dpkg-deb pad with spaces.
	return name != nil && (string(name) == "debian-binary   " || string(name) == "debian-binary/  ")
}

func isAr(h *Head) bool {
	return arMemberName(h) != nil || (HasAt(h.Head, 0, arMagic) && len(h.Head) == len(arMagic))
}

func isZip(h *Head) bool {
	switch {
	case HasAt(h.Head, 0, "PK\x03\x04"):
		// A local file header: the version needed is a small number.
		v := At(h.Head, 4, 2)
		return v != nil && binary.LittleEndian.Uint16(v) < 1000
	case HasAt(h.Head, 0, "PK\x05\x06"):
		// An empty archive is only its end-of-central-directory record.
		return len(h.Head) >= 22
	case HasAt(h.Head, 0, "PK\x07\x08"), HasAt(h.Head, 0, "PK00"):
		// A split or spanned archive's marker before the first entry.
		return HasAt(h.Head, 4, "PK\x03\x04")
	}
	return false
}

func is7z(h *Head) bool {
	return HasAt(h.Head, 0, "7z\xbc\xaf\x27\x1c") && len(h.Head) >= 32 && h.Head[6] == 0
}

func isCab(h *Head) bool {
	b := At(h.Head, 0, 36)
	if b == nil || string(b[:4]) != "MSCF" {
		return false
	}
	reserved := binary.LittleEndian.Uint32(b[4:])
	cabSize := binary.LittleEndian.Uint32(b[8:])
	minor, major := b[24], b[25]
	return reserved == 0 && cabSize >= 36 && major == 1 && minor == 3
}

// isCpio accepts the three ASCII headers (odc "070707", newc "070701",
// crc "070702"), whose numeric fields must be digits, and the old binary
// header, whose file name must be NUL-terminated where it says.
func isCpio(h *Head) bool {
	switch {
	case HasAt(h.Head, 0, "070707"):
		return allDigits(At(h.Head, 6, 70), 8)
	case HasAt(h.Head, 0, "070701"), HasAt(h.Head, 0, "070702"):
		return allDigits(At(h.Head, 6, 104), 16)
	}
	b := At(h.Head, 0, 26)
	if b == nil {
		return false
	}
	var order binary.ByteOrder
	switch {
	case b[0] == 0xc7 && b[1] == 0x71:
		order = binary.LittleEndian
	case b[0] == 0x71 && b[1] == 0xc7:
		order = binary.BigEndian
	default:
		return false
	}
	nameSize := int(order.Uint16(b[20:]))
	name := At(h.Head, 26, nameSize)
	if nameSize < 2 || name == nil || name[nameSize-1] != 0 {
		return false
	}
	return bytes.IndexByte(name[:nameSize-1], 0) < 0
}

func allDigits(b []byte, base int) bool {
	if b == nil {
		return false
	}
	for _, c := range b {
		if _, err := strconv.ParseUint(string(c), base, 8); err != nil {
			return false
		}
	}
	return true
}

// isTar accepts a header block whose checksum is right: ustar, GNU and the
// old v7 format (which has no magic at all) alike.
func isTar(h *Head) bool {
	return validTarHeader(At(h.Head, 0, 512))
}

func validTarHeader(b []byte) bool {
	if b == nil || b[0] == 0 {
		return false
	}
	want, ok := parseOctal(b[148:156])
	if !ok {
		return false
	}
	// The checksum sums the header with its own field read as spaces;
	// some old tars summed signed bytes.
	var unsigned, signed int64
	for i, c := range b {
		if i >= 148 && i < 156 {
			c = ' '
		}
		unsigned += int64(c)
		signed += int64(int8(c))
	}
	return want == unsigned || want == signed
}

// parseOctal reads a tar numeric field: octal digits, padded with spaces
// or NULs on either side.
func parseOctal(field []byte) (int64, bool) {
	s := bytes.Trim(field, " \x00")
	if len(s) == 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(string(s), 8, 64)
	return n, err == nil
}
