package magic

import (
	"encoding/binary"
	"hash/crc32"
	"math/bits"
)

// Checks for raw disk images: a partition table (GPT, MBR) or a bare file
// system. 0x55AA at byte 510 alone proves nothing (every FAT and NTFS boot
// sector and many boot loaders carry it), so each check validates the
// structure behind the signature.

func isDisk(h *header) bool {
	return isGPT(h) || isMBR(h) || isExt(h) || isXFS(h) || isNTFS(h) || isExFAT(h) || isFAT(h)
}

// isGPT finds a GPT header (at LBA 1 of 512- or 4096-byte sectors) whose
// CRC32 is right and which says it lives at LBA 1.
func isGPT(h *header) bool {
	for _, sector := range []int{512, 4096} {
		g := at(h.head, sector, 92)
		if g == nil || string(g[:8]) != "EFI PART" {
			continue
		}
		size := int(binary.LittleEndian.Uint32(g[12:]))
		hdr := at(h.head, sector, size)
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
func isMBR(h *header) bool {
	b := at(h.head, 0, 512)
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
		if typ != 0xee && h.size >= 0 && start+count > uint64(h.size)/512 {
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

// isExt finds an ext2/3/4 superblock at byte 1024.
func isExt(h *header) bool {
	sb := at(h.head, 1024, 1024)
	if sb == nil || binary.LittleEndian.Uint16(sb[56:]) != 0xef53 {
		return false
	}
	inodes := binary.LittleEndian.Uint32(sb[0:])
	blocks := binary.LittleEndian.Uint32(sb[4:])
	logBlockSize := binary.LittleEndian.Uint32(sb[24:])
	revLevel := binary.LittleEndian.Uint32(sb[76:])
	return inodes > 0 && blocks > 0 && logBlockSize <= 6 && revLevel <= 1
}

// isXFS finds an XFS superblock with a sane block size.
func isXFS(h *header) bool {
	b := at(h.head, 0, 8)
	if b == nil || string(b[:4]) != "XFSB" {
		return false
	}
	return powerOfTwoIn(uint64(binary.BigEndian.Uint32(b[4:])), 512, 65536)
}

func isNTFS(h *header) bool {
	b := at(h.head, 0, 512)
	if b == nil || string(b[3:11]) != "NTFS    " || b[510] != 0x55 || b[511] != 0xaa {
		return false
	}
	return powerOfTwoIn(uint64(binary.LittleEndian.Uint16(b[11:])), 256, 4096) && b[13] != 0
}

func isExFAT(h *header) bool {
	b := at(h.head, 0, 512)
	if b == nil || string(b[3:11]) != "EXFAT   " || b[510] != 0x55 || b[511] != 0xaa {
		return false
	}
	// The old BPB area must be zero; sectors are 512 to 4096 bytes.
	for _, c := range b[11:64] {
		if c != 0 {
			return false
		}
	}
	return b[108] >= 9 && b[108] <= 12
}

// isFAT validates a FAT12/16/32 boot sector's BIOS parameter block.
func isFAT(h *header) bool {
	b := at(h.head, 0, 512)
	if b == nil || b[510] != 0x55 || b[511] != 0xaa {
		return false
	}
	if !(b[0] == 0xeb && b[2] == 0x90) && b[0] != 0xe9 {
		return false
	}
	bytesPerSector := uint64(binary.LittleEndian.Uint16(b[11:]))
	sectorsPerCluster := uint64(b[13])
	reserved := binary.LittleEndian.Uint16(b[14:])
	fats := b[16]
	media := b[21]
	total := uint64(binary.LittleEndian.Uint16(b[19:]))
	if total == 0 {
		total = uint64(binary.LittleEndian.Uint32(b[32:]))
	}
	return powerOfTwoIn(bytesPerSector, 512, 4096) && powerOfTwoIn(sectorsPerCluster, 1, 128) &&
		reserved > 0 && (fats == 1 || fats == 2) && (media == 0xf0 || media >= 0xf8) && total > 0
}

func powerOfTwoIn(n, lo, hi uint64) bool {
	return n >= lo && n <= hi && bits.OnesCount64(n) == 1
}
