package vdisk

import (
	"fmt"
	"hash/crc32"
	"io"
)

// VHDX (Hyper-V): two headers at 64 and 128 KiB (the valid one with the
// higher sequence number wins), two region tables at 192 and 256 KiB
// naming the block allocation table and the metadata region; the
// metadata gives the block size, the disk size and the sector size. BAT
// entries for payload blocks are interleaved with one sector-bitmap entry
// after every chunk ratio of them.

const (
	vhdxBATGUID        = "2DC27766-F623-4200-9D64-115E9BFD4A08"
	vhdxMetadataGUID   = "8B7CA206-4790-4B9A-B8FE-575F050F886E"
	vhdxFileParameters = "CAA16737-FA36-4D43-B3B6-33F0AA44E76B"
	vhdxDiskSize       = "2FA54224-CD1B-4876-B211-5DBED83BF4B8"
	vhdxSectorSize     = "8141BF1D-A96F-4709-BA47-F233A8FAAB5F"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type vhdx struct {
	r          io.ReaderAt
	size       int64
	blockSize  int64
	chunkRatio int64
	bat        []byte // as stored: 64-bit little-endian entries
}

// vhdxChecked reads a 4 KiB-or-bigger structure whose CRC-32C, at byte 4,
// is computed with that field zeroed.
func vhdxChecked(b []byte) bool {
	want := le.Uint32(b[4:])
	c := crc32.Update(0, castagnoli, b[:4])
	c = crc32.Update(c, castagnoli, []byte{0, 0, 0, 0})
	c = crc32.Update(c, castagnoli, b[8:])
	return c == want
}

func openVHDX(r io.ReaderAt, size int64) (*Disk, error) {
	var best []byte
	var bestSeq uint64
	for _, off := range []int64{64 << 10, 128 << 10} {
		h := make([]byte, 4096)
		if readFull(r, "vhdx", h, off, size) != nil || string(h[:4]) != "head" || !vhdxChecked(h) {
			continue
		}
		if seq := le.Uint64(h[8:]); best == nil || seq > bestSeq {
			best, bestSeq = h, seq
		}
	}
	if best == nil {
		return nil, corrupt("vhdx", 64<<10, "no valid header (both copies damaged)")
	}
	for _, b := range best[48:64] { // log GUID: a log to replay
		if b != 0 {
			return nil, fmt.Errorf("vhdx: the image has an unreplayed log (it was not closed cleanly): open it once in Hyper-V or with qemu-img check -r all")
		}
	}
	var regions map[string][2]int64
	for _, off := range []int64{192 << 10, 256 << 10} {
		t := make([]byte, 64<<10)
		if readFull(r, "vhdx", t, off, size) != nil || string(t[:4]) != "regi" || !vhdxChecked(t) {
			continue
		}
		n := int(le.Uint32(t[8:]))
		if n > 2047 {
			continue
		}
		regions = map[string][2]int64{}
		for i := range n {
			e := t[16+32*i:]
			regions[guidString(e[:16])] = [2]int64{int64(le.Uint64(e[16:])), int64(le.Uint32(e[24:]))}
		}
		break
	}
	if regions == nil {
		return nil, corrupt("vhdx", 192<<10, "no valid region table")
	}
	meta, ok := regions[vhdxMetadataGUID]
	batRegion, ok2 := regions[vhdxBATGUID]
	if !ok || !ok2 {
		return nil, corrupt("vhdx", 192<<10, "region table without the BAT or the metadata")
	}
	if meta[1] < 32 || meta[1] > 1<<20 {
		return nil, corrupt("vhdx", meta[0], "metadata region size")
	}
	if err := fits("vhdx", meta[0], meta[1], size); err != nil {
		return nil, fmt.Errorf("reading the metadata: %w", err)
	}
	m := make([]byte, meta[1])
	if err := readFull(r, "vhdx", m, meta[0], size); err != nil {
		return nil, fmt.Errorf("reading the metadata: %w", err)
	}
	if string(m[:8]) != "metadata" {
		return nil, corrupt("vhdx", meta[0], "metadata table without its signature")
	}
	items := map[string][]byte{}
	count := int(le.Uint16(m[10:]))
	for i := range min(count, 2047) {
		if 32+32*i+32 > len(m) {
			break
		}
		e := m[32+32*i:]
		off, n := int64(le.Uint32(e[16:])), int64(le.Uint32(e[20:]))
		if off+n > int64(len(m)) || off < 0 {
			return nil, corrupt("vhdx", meta[0], "metadata item outside the region")
		}
		items[guidString(e[:16])] = m[off : off+n]
	}
	params, dsize, ssize := items[vhdxFileParameters], items[vhdxDiskSize], items[vhdxSectorSize]
	if len(params) < 8 || len(dsize) < 8 || len(ssize) < 4 {
		return nil, corrupt("vhdx", meta[0], "metadata without block size, disk size or sector size")
	}
	v := &vhdx{r: r, size: size, blockSize: int64(le.Uint32(params))}
	if le.Uint32(params[4:])&2 != 0 {
		return nil, fmt.Errorf("vhdx: a differencing disk, whose unchanged blocks are in its parent: merge them with qemu-img convert")
	}
	virtual := int64(le.Uint64(dsize))
	sector := int64(le.Uint32(ssize))
	if v.blockSize < 1<<20 || v.blockSize > 256<<20 || sector != 512 && sector != 4096 {
		return nil, corrupt("vhdx", meta[0], fmt.Sprintf("blocks of %d bytes, sectors of %d", v.blockSize, sector))
	}
	if virtual < 0 || virtual > maxVirtualSize {
		return nil, corrupt("vhdx", meta[0], fmt.Sprintf("virtual size %d", virtual))
	}
	v.chunkRatio = (1 << 23) * sector / v.blockSize
	blocks := (virtual + v.blockSize - 1) / v.blockSize
	entries := blocks + blocks/v.chunkRatio + 1
	entries = min(entries, batRegion[1]/8)
	if entries > 1<<24 {
		return nil, corrupt("vhdx", batRegion[0], fmt.Sprintf("a BAT of %d entries", entries))
	}
	if err := fits("vhdx", batRegion[0], entries*8, size); err != nil {
		return nil, fmt.Errorf("reading the BAT: %w", err)
	}
	raw := make([]byte, entries*8)
	if err := readFull(r, "vhdx", raw, batRegion[0], size); err != nil {
		return nil, fmt.Errorf("reading the BAT: %w", err)
	}
	v.bat = raw
	br := &blockReader{size: virtual, blockSize: v.blockSize, locate: v.locate}
	return &Disk{ReaderAt: br, Format: "vhdx", Size: virtual}, nil
}

func (v *vhdx) locate(block int64) (where, error) {
	w := where{off: -1, r: v.r, size: v.size, fmt: "vhdx"}
	i := block + block/v.chunkRatio
	if i >= int64(len(v.bat)/8) {
		return w, corrupt("vhdx", -1, fmt.Sprintf("block %d past the end of the BAT", block))
	}
	e := le.Uint64(v.bat[8*i:])
	switch e & 7 {
	case 6, 7: // fully present; partially present (its parent holds the rest: none here)
		w.off = int64(e>>20) << 20
	case 0, 1, 2, 3: // not present, undefined, zero, unmapped
	default:
		return w, corrupt("vhdx", -1, fmt.Sprintf("BAT entry state %d", e&7))
	}
	return w, nil
}

// guidString formats a GUID stored with its first three fields
// little-endian.
func guidString(b []byte) string {
	return fmt.Sprintf("%08X-%04X-%04X-%X-%X", le.Uint32(b), le.Uint16(b[4:]), le.Uint16(b[6:]), b[8:10], b[10:16])
}
