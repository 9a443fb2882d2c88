// Package volume finds the volumes of a disk image: the partitions of a
// GPT or an MBR (extended partitions included), the logical volumes of
// LVM2 physical volumes, or the whole disk when it holds a bare file
// system. A volume that cannot be read (past the disk's end, overlapping
// another, an LVM layout hashr does not map) comes back with its Err set,
// so the caller reports it and reads the others.
//
// Why not a library: go-diskfs (v1.7.0) reads GPT and MBR partition
// tables (its partition/gpt and partition/mbr) but not LVM2.
package volume

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"sort"
)

// Volume is one volume of a disk.
type Volume struct {
	// Name is the volume's first path element: "p1" for the first
	// partition, "lvm/VG/LV" for a logical volume, "" for a bare file
	// system.
	Name string
	// Scheme is what the volume comes from: "gpt", "mbr", "lvm" or
	// "none".
	Scheme string
	// Type is the partition's type: a GPT type GUID, an MBR type byte in
	// hex ("0x83"), "" for the others.
	Type string
	// R holds the volume's bytes, Size of them.
	R    io.ReaderAt
	Size int64
	// Start is the volume's first byte on the disk (-1 for logical volumes).
	Start int64
	// Err, when set, says why the volume cannot be read.
	Err error
	// NoFiles marks a volume that holds no file system by design (BIOS
	// boot, swap, an LVM physical volume's own space): skipped.
	NoFiles bool
}

// Find returns the volumes of the disk in r, in table order. isFS says
// whether bytes hold a file system the caller can read: a disk whose
// first bytes are one is a bare file system, even when they look like an
// MBR too (FAT and NTFS boot sectors do).
func Find(r io.ReaderAt, size int64, isFS func(io.ReaderAt, int64) bool) ([]Volume, error) {
	if size < 512 {
		return nil, errors.New("disk image of fewer than 512 bytes")
	}
	var vols []Volume
	if g, err := readGPT(r, size); err != nil {
		return nil, err
	} else if g != nil {
		vols = g
	} else if isFS(r, size) {
		vols = []Volume{{Name: "", Scheme: "none", R: r, Size: size}}
	} else if m, err := readMBR(r, size); err != nil {
		return nil, err
	} else if m != nil {
		vols = m
	} else {
		vols = []Volume{{Name: "", Scheme: "none", R: r, Size: size}}
	}
	checkBounds(vols, size)
	return withLVM(vols), nil
}

// checkBounds marks volumes that end past the disk or overlap an earlier
// one.
func checkBounds(vols []Volume, size int64) {
	type span struct {
		start, end int64
		name       string
	}
	var seen []span
	for i := range vols {
		v := &vols[i]
		if v.Err != nil || v.Scheme == "none" {
			continue
		}
		end := v.Start + v.Size
		if end > size {
			v.Err = fmt.Errorf("%s partition %s ends at byte %d, past the end of the disk (%d bytes): truncated image?", v.Scheme, v.Name, end, size)
			continue
		}
		for _, s := range seen {
			if v.Start < s.end && s.start < end {
				v.Err = fmt.Errorf("%s partition %s (bytes %d-%d) overlaps partition %s: not read", v.Scheme, v.Name, v.Start, end, s.name)
				break
			}
		}
		if v.Err == nil {
			seen = append(seen, span{v.Start, end, v.Name})
		}
	}
}

func section(r io.ReaderAt, start, size int64) io.ReaderAt {
	return io.NewSectionReader(r, start, size)
}

// readFull reads len(p) bytes at off or fails.
func readFull(r io.ReaderAt, p []byte, off int64) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// GPT

const (
	gptBIOSBoot  = "21686148-6449-6E6F-744E-656564454649"
	gptLinuxSwap = "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F"
	maxGPTParts  = 1024
)

// readGPT returns the GPT's partitions, or nil when there is no valid
// GPT (primary or backup) at 512- or 4096-byte sectors.
func readGPT(r io.ReaderAt, size int64) ([]Volume, error) {
	for _, sector := range []int64{512, 4096} {
		for _, lba := range []int64{1, size/sector - 1} {
			if lba < 1 || (lba+1)*sector > size {
				continue
			}
			vols, ok := gptAt(r, size, sector, lba)
			if ok {
				return vols, nil
			}
		}
	}
	return nil, nil
}

func gptAt(r io.ReaderAt, size, sector, lba int64) ([]Volume, bool) {
	h := make([]byte, sector)
	if readFull(r, h, lba*sector) != nil || string(h[:8]) != "EFI PART" {
		return nil, false
	}
	le := binary.LittleEndian
	hsize := int64(le.Uint32(h[12:]))
	if hsize < 92 || hsize > sector {
		return nil, false
	}
	c := crc32.NewIEEE()
	c.Write(h[:16])
	c.Write([]byte{0, 0, 0, 0})
	c.Write(h[20:hsize])
	if c.Sum32() != le.Uint32(h[16:]) || int64(le.Uint64(h[24:])) != lba {
		return nil, false
	}
	entriesLBA := int64(le.Uint64(h[72:]))
	count := int64(le.Uint32(h[80:]))
	esize := int64(le.Uint32(h[84:]))
	if count > maxGPTParts || esize < 128 || esize > 4096 || esize%8 != 0 || entriesLBA < 0 ||
		entriesLBA > size/sector || (entriesLBA*sector)+count*esize > size {
		return nil, false
	}
	table := make([]byte, count*esize)
	if readFull(r, table, entriesLBA*sector) != nil || crc32.ChecksumIEEE(table) != le.Uint32(h[88:]) {
		return nil, false
	}
	var vols []Volume
	for i := range count {
		e := table[i*esize:]
		typ := guid(e[:16])
		if typ == "00000000-0000-0000-0000-000000000000" {
			continue
		}
		first, last := int64(le.Uint64(e[32:])), int64(le.Uint64(e[40:]))
		v := Volume{Name: fmt.Sprintf("p%d", i+1), Scheme: "gpt", Type: typ, Start: first * sector, Size: (last - first + 1) * sector}
		if first <= 0 || last < first || last > (1<<62)/sector {
			v.Err = fmt.Errorf("gpt partition %s has the sectors %d-%d", v.Name, first, last)
			v.Start, v.Size = 0, 0
		} else {
			v.R = section(r, v.Start, v.Size)
		}
		v.NoFiles = typ == gptBIOSBoot || typ == gptLinuxSwap
		vols = append(vols, v)
	}
	return vols, true
}

// guid formats a GUID stored the Microsoft way (the first three fields
// little-endian).
func guid(b []byte) string {
	le := binary.LittleEndian
	return fmt.Sprintf("%08X-%04X-%04X-%X-%X", le.Uint32(b), le.Uint16(b[4:]), le.Uint16(b[6:]), b[8:10], b[10:16])
}

// MBR

const maxLogical = 128

// readMBR returns the MBR's partitions: primaries p1-p4 by slot, logical
// partitions from p5 in chain order. nil without a valid MBR.
func readMBR(r io.ReaderAt, size int64) ([]Volume, error) {
	b := make([]byte, 512)
	if err := readFull(r, b, 0); err != nil {
		return nil, nil
	}
	if b[510] != 0x55 || b[511] != 0xaa {
		return nil, nil
	}
	le := binary.LittleEndian
	var vols []Volume
	found := 0
	for i := range 4 {
		e := b[446+16*i:]
		if e[0] != 0 && e[0] != 0x80 {
			return nil, nil // boot code, not a partition table
		}
		typ := e[4]
		start := int64(le.Uint32(e[8:])) * 512
		count := int64(le.Uint32(e[12:])) * 512
		if typ == 0 || count == 0 {
			continue
		}
		found++
		if typ == 0xee {
			return nil, errors.New("protective MBR of a GPT disk, but no valid GPT (primary or backup): damaged partition table")
		}
		name := fmt.Sprintf("p%d", i+1)
		if typ == 0x05 || typ == 0x0f || typ == 0x85 {
			vols = append(vols, logicals(r, size, start, count, len(vols))...)
			continue
		}
		vols = append(vols, Volume{Name: name, Scheme: "mbr", Type: fmt.Sprintf("0x%02x", typ), Start: start, Size: count,
			R: section(r, start, count), NoFiles: typ == 0x82})
	}
	if found == 0 {
		return nil, nil
	}
	sort.SliceStable(vols, func(i, j int) bool { return partNumber(vols[i].Name) < partNumber(vols[j].Name) })
	return vols, nil
}

func partNumber(name string) int {
	var n int
	fmt.Sscanf(name, "p%d", &n)
	return n
}

// logicals follows the chain of extended boot records of the extended
// partition at extStart.
func logicals(r io.ReaderAt, size, extStart, extSize int64, _ int) []Volume {
	var vols []Volume
	le := binary.LittleEndian
	seen := map[int64]bool{}
	ebr := extStart
	b := make([]byte, 512)
	for n := 5; ; n++ {
		name := fmt.Sprintf("p%d", n)
		if n-5 >= maxLogical {
			return append(vols, Volume{Name: name, Scheme: "mbr", Err: fmt.Errorf("more than %d logical partitions: a loop in the extended partition?", maxLogical)})
		}
		if seen[ebr] {
			return append(vols, Volume{Name: name, Scheme: "mbr", Err: errors.New("the chain of extended boot records loops")})
		}
		seen[ebr] = true
		if err := readFull(r, b, ebr); err != nil || b[510] != 0x55 || b[511] != 0xaa {
			return append(vols, Volume{Name: name, Scheme: "mbr", Err: fmt.Errorf("no extended boot record at byte %d", ebr)})
		}
		e1, e2 := b[446:], b[462:]
		if e1[4] != 0 && le.Uint32(e1[12:]) != 0 {
			start := ebr + int64(le.Uint32(e1[8:]))*512
			count := int64(le.Uint32(e1[12:])) * 512
			v := Volume{Name: name, Scheme: "mbr", Type: fmt.Sprintf("0x%02x", e1[4]), Start: start, Size: count, NoFiles: e1[4] == 0x82}
			if start+count > extStart+extSize {
				v.Err = fmt.Errorf("logical partition %s (bytes %d-%d) reaches out of its extended partition", name, start, start+count)
			} else {
				v.R = section(r, start, count)
			}
			vols = append(vols, v)
		}
		if e2[4] == 0 || le.Uint32(e2[12:]) == 0 {
			return vols
		}
		ebr = extStart + int64(le.Uint32(e2[8:]))*512
		if ebr >= extStart+extSize || ebr >= size {
			return append(vols, Volume{Name: fmt.Sprintf("p%d", n+1), Scheme: "mbr", Err: fmt.Errorf("extended boot record at byte %d, outside the extended partition", ebr)})
		}
	}
}
