package formats

import "encoding/binary"

// OLE compound files ([MS-CFB]): Windows Installer packages (.msi, .msp,
// .mst) are told apart from other structured storage (.doc, .xls, …) by
// the CLSID of their root storage.

const oleMagic = "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

// msiCLSIDSuffix is all but the first two bytes of the CLSIDs of an MSI package
// ({000C1084-…}), patch ({000C1086-…}) and transform ({000C1082-…});
// the rest is the same for all three.
var msiCLSIDSuffix = "\x0c\x00\x00\x00\x00\x00\xc0\x00\x00\x00\x00\x00\x00\x46"

// oleRootCLSID returns the root storage's CLSID when the header is a
// sound compound file header and the first directory sector is within
// the head; ok is false when it is no compound file.
func oleRootCLSID(h *Head) (clsid []byte, ok bool) {
	b := At(h.Head, 0, 512)
	if b == nil || string(b[:8]) != oleMagic || binary.LittleEndian.Uint16(b[28:]) != 0xfffe {
		return nil, false
	}
	shift := binary.LittleEndian.Uint16(b[30:])
	if (shift != 9 && shift != 12) || binary.LittleEndian.Uint16(b[32:]) != 6 {
		return nil, false
	}
	dir := int64(binary.LittleEndian.Uint32(b[48:]))
	off := (dir + 1) << shift
	if off+128 > int64(len(h.Head)) {
		return nil, true
	}
	root := h.Head[off : off+128]
	if root[66] != 5 { // not a root storage entry
		return nil, true
	}
	return root[80:96], true
}

func isMSI(h *Head) bool {
	c, ok := oleRootCLSID(h)
	if !ok || c == nil {
		return false
	}
	return (c[0] == 0x84 || c[0] == 0x86 || c[0] == 0x82) && c[1] == 0x10 && string(c[2:]) == msiCLSIDSuffix
}

func isOLE(h *Head) bool {
	_, ok := oleRootCLSID(h)
	return ok
}
