package vdisk

import (
	"fmt"
	"io"
)

// VHD (Virtual PC, Hyper-V before VHDX): a 512-byte big-endian footer at
// the end. A fixed VHD is the raw disk followed by the footer; a dynamic
// one has a block allocation table of 32-bit sector offsets, each block
// a sector bitmap then the data.

const vhdUnused = 0xffffffff

type vhd struct {
	r         io.ReaderAt
	size      int64
	bat       []byte // as stored: big-endian sector numbers
	blockSize int64
	bitmap    int64 // bytes of each block's sector bitmap, sector-aligned
}

func openVHD(r io.ReaderAt, size, footerAt int64) (*Disk, error) {
	f := make([]byte, 512)
	if err := readFull(r, "vhd", f, footerAt, size); err != nil {
		return nil, err
	}
	virtual := int64(be.Uint64(f[48:]))
	diskType := be.Uint32(f[60:])
	switch diskType {
	case 2: // fixed
		if footerAt != size-512 {
			return nil, corrupt("vhd", 0, "fixed VHD with its footer at the start")
		}
		if virtual > size-512 || virtual < 0 {
			return nil, corrupt("vhd", footerAt+48, fmt.Sprintf("fixed disk of %d bytes in %d bytes: truncated?", virtual, size-512))
		}
		return &Disk{ReaderAt: io.NewSectionReader(r, 0, virtual), Format: "vhd", Size: virtual}, nil
	case 3:
	case 4:
		return nil, fmt.Errorf("vhd: a differencing disk, whose unchanged sectors are in its parent: read the parent, or merge them with qemu-img convert")
	default:
		return nil, corrupt("vhd", footerAt+60, fmt.Sprintf("disk type %d", diskType))
	}
	dynOff := int64(be.Uint64(f[16:]))
	h := make([]byte, 1024)
	if err := readFull(r, "vhd", h, dynOff, size); err != nil {
		return nil, fmt.Errorf("reading the dynamic disk header: %w", err)
	}
	if string(h[:8]) != "cxsparse" {
		return nil, corrupt("vhd", dynOff, "dynamic disk header without its cookie")
	}
	batOff := int64(be.Uint64(h[16:]))
	entries := int64(be.Uint32(h[28:]))
	v := &vhd{r: r, size: size, blockSize: int64(be.Uint32(h[32:]))}
	if v.blockSize < 512 || v.blockSize > 1<<28 || v.blockSize%512 != 0 {
		return nil, corrupt("vhd", dynOff+32, fmt.Sprintf("blocks of %d bytes", v.blockSize))
	}
	if virtual < 0 || virtual > maxVirtualSize || entries*v.blockSize < virtual || entries > 1<<24 {
		return nil, corrupt("vhd", dynOff+28, fmt.Sprintf("%d blocks of %d bytes for a disk of %d", entries, v.blockSize, virtual))
	}
	v.bitmap = (v.blockSize/512/8 + 511) / 512 * 512
	if err := fits("vhd", batOff, entries*4, size); err != nil {
		return nil, fmt.Errorf("reading the block allocation table: %w", err)
	}
	raw := make([]byte, entries*4)
	if err := readFull(r, "vhd", raw, batOff, size); err != nil {
		return nil, fmt.Errorf("reading the block allocation table: %w", err)
	}
	v.bat = raw
	br := &blockReader{size: virtual, blockSize: v.blockSize, locate: v.locate}
	return &Disk{ReaderAt: br, Format: "vhd", Size: virtual}, nil
}

func (v *vhd) locate(block int64) (where, error) {
	w := where{off: -1, r: v.r, size: v.size, fmt: "vhd"}
	if s := be.Uint32(v.bat[4*block:]); s != vhdUnused {
		// A dynamic disk without parent: every sector of an allocated
		// block is its data, whatever the bitmap says.
		w.off = int64(s)*512 + v.bitmap
	}
	return w, nil
}
