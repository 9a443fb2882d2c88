package vdisk

import (
	"bytes"
	"fmt"
	"io"

	"github.com/klauspost/compress/zlib"
)

// VMDK sparse extents (monolithicSparse, streamOptimized): a grain
// directory of grain tables maps each grain of the disk to sectors of the
// file. Stream-optimized images compress each grain (zlib) behind a
// 12-byte marker, and keep the real header in a footer at the end.

const (
	vmdkFlagCompressed = 1 << 16
	vmdkGDAtEnd        = 0xffffffffffffffff
)

type vmdk struct {
	r          io.ReaderAt
	size       int64
	grain      int64 // bytes
	perGT      int64
	gd         []byte // the grain directory, as stored: 32-bit sector numbers
	gtCache    tableCache[[]uint32]
	compressed bool
	lastGrain  int64
	lastData   []byte
}

func openVMDK(r io.ReaderAt, size int64) (*Disk, error) {
	h := make([]byte, 512)
	if err := readFull(r, "vmdk", h, 0, size); err != nil {
		return nil, err
	}
	if le.Uint64(h[56:]) == vmdkGDAtEnd {
		// Stream-optimized: the footer, a copy of the header with the
		// grain directory's place, is the second-last sector's... the
		// last 1024 bytes are the footer and the end-of-stream marker.
		if size < 1536 {
			return nil, corrupt("vmdk", size, "stream-optimized image without its footer")
		}
		if err := readFull(r, "vmdk", h, size-1024, size); err != nil {
			return nil, err
		}
		if string(h[:4]) != "KDMV" {
			return nil, corrupt("vmdk", size-1024, "stream-optimized image without its footer: truncated?")
		}
	}
	v := &vmdk{r: r, size: size, lastGrain: -1, gtCache: tableCache[[]uint32]{max: 64}}
	flags := le.Uint32(h[8:])
	capacity := int64(le.Uint64(h[12:])) * 512
	v.grain = int64(le.Uint64(h[20:])) * 512
	v.perGT = int64(le.Uint32(h[44:]))
	gdOff := int64(le.Uint64(h[56:])) * 512
	v.compressed = flags&vmdkFlagCompressed != 0
	if v.compressed && le.Uint16(h[77:]) != 1 {
		return nil, corrupt("vmdk", 77, fmt.Sprintf("compression algorithm %d (1, deflate, is read)", le.Uint16(h[77:])))
	}
	if v.grain < 512 || v.grain > 1<<24 || v.grain&(v.grain-1) != 0 || v.perGT < 1 || v.perGT > 1<<16 {
		return nil, corrupt("vmdk", 20, fmt.Sprintf("grains of %d bytes, %d per table", v.grain, v.perGT))
	}
	if capacity < 0 || capacity > maxVirtualSize {
		return nil, corrupt("vmdk", 12, fmt.Sprintf("capacity %d", capacity))
	}
	grains := (capacity + v.grain - 1) / v.grain
	tables := (grains + v.perGT - 1) / v.perGT
	if tables > 1<<22 {
		return nil, corrupt("vmdk", 44, fmt.Sprintf("a grain directory of %d tables", tables))
	}
	if err := fits("vmdk", gdOff, tables*4, size); err != nil {
		return nil, fmt.Errorf("reading the grain directory: %w", err)
	}
	raw := make([]byte, tables*4)
	if err := readFull(r, "vmdk", raw, gdOff, size); err != nil {
		return nil, fmt.Errorf("reading the grain directory: %w", err)
	}
	v.gd = raw
	br := &blockReader{size: capacity, blockSize: v.grain, locate: v.locate}
	return &Disk{ReaderAt: br, Format: "vmdk", Size: capacity}, nil
}

func (v *vmdk) locate(grain int64) (where, error) {
	w := where{off: -1, r: v.r, size: v.size, fmt: "vmdk"}
	gtSector := le.Uint32(v.gd[4*(grain/v.perGT):])
	if gtSector == 0 {
		return w, nil
	}
	gt, ok := v.gtCache.get(int64(gtSector))
	if !ok {
		raw := make([]byte, v.perGT*4)
		if err := readFull(v.r, "vmdk", raw, int64(gtSector)*512, v.size); err != nil {
			return w, fmt.Errorf("reading a grain table: %w", err)
		}
		gt = make([]uint32, v.perGT)
		for i := range gt {
			gt[i] = le.Uint32(raw[4*i:])
		}
		v.gtCache.put(int64(gtSector), gt)
	}
	sector := gt[grain%v.perGT]
	if sector <= 1 { // 0: not allocated, 1: a zeroed grain
		return w, nil
	}
	off := int64(sector) * 512
	if !v.compressed {
		w.off = off
		return w, nil
	}
	if v.lastGrain == grain {
		w.buf = v.lastData
		return w, nil
	}
	// A compressed grain: the disk sector it holds (8 bytes), the
	// compressed size (4), the zlib stream.
	var m [12]byte
	if err := readFull(v.r, "vmdk", m[:], off, v.size); err != nil {
		return w, err
	}
	n := int64(le.Uint32(m[8:]))
	if n == 0 || n > 2*v.grain+1024 {
		return w, corrupt("vmdk", off, fmt.Sprintf("compressed grain of %d bytes", n))
	}
	if err := fits("vmdk", off+12, n, v.size); err != nil {
		return w, err
	}
	in := make([]byte, n)
	if err := readFull(v.r, "vmdk", in, off+12, v.size); err != nil {
		return w, err
	}
	zr, err := zlib.NewReader(bytes.NewReader(in))
	if err != nil {
		return w, corrupt("vmdk", off, "compressed grain: "+err.Error())
	}
	out := make([]byte, v.grain)
	got, err := io.ReadFull(zr, out)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return w, corrupt("vmdk", off, "compressed grain: "+err.Error())
	}
	clear(out[got:])
	v.lastGrain, v.lastData = grain, out
	w.buf = out
	return w, nil
}
