package formats

import (
	"bytes"
	"encoding/binary"
)

// Checks for optical discs, VM images, WIM and squashfs.

// Volume descriptors start at byte 32768 (sector 16 of 2048 bytes), one a
// sector; the identifier is at byte 1 of each.
const (
	volumeDescriptorsStart = 32768
	volumeDescriptorSize   = 2048
)

// volumeDescriptorIDs lists the identifiers of the volume recognition
// sequence (ECMA-119 and ECMA-167) in order, up to the first sector that
// holds none of them.
func volumeDescriptorIDs(head []byte) []string {
	var ids []string
	for off := volumeDescriptorsStart; ; off += volumeDescriptorSize {
		id := At(head, off+1, 5)
		if id == nil {
			return ids
		}
		switch s := string(id); s {
		case "CD001", "BEA01", "NSR02", "NSR03", "TEA01", "BOOT2", "CDW02":
			ids = append(ids, s)
		default:
			return ids
		}
	}
}

// isUDF finds a UDF volume recognition sequence: BEA01, then NSR02 or
// NSR03. A UDF bridge disc, which also has ISO 9660 descriptors, is UDF.
func isUDF(h *Head) bool {
	extended := false
	for _, id := range volumeDescriptorIDs(h.Head) {
		switch id {
		case "BEA01":
			extended = true
		case "NSR02", "NSR03":
			if extended {
				return true
			}
		case "TEA01":
			extended = false
		}
	}
	return false
}

func isISO9660(h *Head) bool {
	d := At(h.Head, volumeDescriptorsStart, 7)
	if d == nil || string(d[1:6]) != "CD001" || d[6] != 1 {
		return false
	}
	// Descriptor types: boot record 0, primary 1, supplementary 2,
	// partition 3, terminator 255.
	return d[0] <= 3 || d[0] == 255
}

func isQCOW2(h *Head) bool {
	b := At(h.Head, 0, 8)
	if b == nil || string(b[:4]) != "QFI\xfb" {
		return false
	}
	v := binary.BigEndian.Uint32(b[4:])
	return v >= 1 && v <= 3
}

func isVHDX(h *Head) bool { return HasAt(h.Head, 0, "vhdxfile") }

// isVMDK accepts a sparse extent ("KDMV", monolithicSparse and
// streamOptimized alike), an old ESX sparse extent ("COWD") and a text
// descriptor.
func isVMDK(h *Head) bool {
	if b := At(h.Head, 0, 8); b != nil {
		v := binary.LittleEndian.Uint32(b[4:])
		switch string(b[:4]) {
		case "KDMV":
			return v >= 1 && v <= 3
		case "COWD":
			return v == 1
		}
	}
	return HasAt(h.Head, 0, "# Disk DescriptorFile")
}

// isVHD finds a VHD footer with a valid checksum: at the end of the file
// (512 bytes, or 511 in images made by old Microsoft tools), or, for a
// dynamic disk, its copy at the start.
func isVHD(h *Head) bool {
	if n := len(h.Tail); n == tailSize {
		if validVHDFooter(h.Tail) || validVHDFooter(h.Tail[1:]) {
			return true
		}
	}
	return validVHDFooter(At(h.Head, 0, 512))
}

func validVHDFooter(f []byte) bool {
	if len(f) < 511 || string(f[:8]) != "conectix" {
		return false
	}
	var sum uint32
	for i, c := range f {
		if i < 64 || i >= 68 {
			sum += uint32(c)
		}
	}
	diskType := binary.BigEndian.Uint32(f[60:])
	return ^sum == binary.BigEndian.Uint32(f[64:]) && diskType >= 2 && diskType <= 4
}

// isWIM accepts WIM and ESD files ("MSWIM") and wimlib's pipable WIMs.
func isWIM(h *Head) bool {
	return HasAt(h.Head, 0, "MSWIM\x00\x00\x00") || HasAt(h.Head, 0, "WLPWM\x00\x00\x00")
}

// isSquashfs accepts little-endian ("hsqs", every version 4 image) and
// big-endian ("sqsh", versions 1 to 3 on big-endian machines) superblocks.
func isSquashfs(h *Head) bool {
	b := At(h.Head, 0, 32)
	if b == nil {
		return false
	}
	var major uint16
	switch {
	case bytes.Equal(b[:4], []byte("hsqs")):
		major = binary.LittleEndian.Uint16(b[28:])
	case bytes.Equal(b[:4], []byte("sqsh")):
		major = binary.BigEndian.Uint16(b[28:])
	default:
		return false
	}
	return major >= 1 && major <= 4
}
