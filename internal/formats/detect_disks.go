package formats

import (
	"encoding/binary"
	"hash/crc32"
)

// Checks for raw disk images: a partition table (GPT, MBR) or a bare file
// system. 0x55AA at byte 510 alone proves nothing (every FAT and NTFS boot
// sector and many boot loaders carry it), so each check validates the
// structure behind the signature.

func isDisk(h *Head) bool {
	return isGPT(h) || isMBR(h) || bareFileSystem(h) != nil
}

// bareFileSystem is the file system that fills h, when one of those that
// make a file a disk image (BareDisk) does: ext2/3/4, XFS, NTFS, exFAT,
// FAT. Their readers' probes are the one check, here as in disk images'
// volumes.
func bareFileSystem(h *Head) *Format {
	for i := range table {
		if f := &table[i]; f.BareDisk && f.Detect(h) {
			return f
		}
	}
	return nil
}

// isGPT finds a GPT header (at LBA 1 of 512- or 4096-byte sectors) whose
// CRC32 is right and which says it lives at LBA 1.
func isGPT(h *Head) bool {
	for _, sector := range []int{512, 4096} {
		g := At(h.Head, sector, 92)
		if g == nil || string(g[:8]) != "EFI PART" {
			continue
		}
		size := int(binary.LittleEndian.Uint32(g[12:]))
		hdr := At(h.Head, sector, size)
		if size < 92 || size > sector || hdr == nil {
			continue
		}
		want := binary.LittleEndian.Uint32(hdr[16:])
		c := crc32.NewIEEE()
		c.Write(hdr[:16])
		c.Write([]byte{0, 0, 0, 0})
		c.Write(hdr[20:])
		if c.Sum32() == want && binary.LittleEndian.Uint64(hdr[24:]) == 1 {
			return true
		}
	}
	return false
}

type mbrPartition struct{ start, count uint64 }

// isMBR validates an MBR partition table: boot flags 0x00 or 0x80, at least
// one partition, each starting after the MBR, non-empty, inside the image
// (when its size is known) and not overlapping another.
func isMBR(h *Head) bool {
	b := At(h.Head, 0, 512)
	if b == nil || b[510] != 0x55 || b[511] != 0xaa {
		return false
	}
	var parts []mbrPartition
	for i := range 4 {
		e := b[446+16*i : 446+16*(i+1)]
		if e[0] != 0 && e[0] != 0x80 {
			return false
		}
		typ := e[4]
		start := uint64(binary.LittleEndian.Uint32(e[8:]))
		count := uint64(binary.LittleEndian.Uint32(e[12:]))
		if typ == 0 {
			if start != 0 || count != 0 {
				return false
			}
			continue
		}
		if start == 0 || count == 0 {
			return false
		}
		// A protective MBR (type 0xEE) may claim the largest size it can.
		if typ != 0xee && h.Size >= 0 && start+count > uint64(h.Size)/512 {
			return false
		}
		for _, p := range parts {
			if start < p.start+p.count && p.start < start+count {
				return false
			}
		}
		parts = append(parts, mbrPartition{start, count})
	}
	return len(parts) > 0
}
