package vdisk

import (
	"bytes"
	"fmt"
	"io"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zstd"
)

// qcow2 (QEMU): a two-level table maps each cluster of the disk to a
// cluster of the file, or to nothing (zeros), or to a run of compressed
// sectors (deflate, or zstd in version 3 with compression_type 1).

const (
	qcowCopied     = 1 << 63
	qcowCompressed = 1 << 62
	qcowZero       = 1 // standard cluster, version 3: reads as zeros
	qcowOffsetMask = 0x00fffffffffffe00
)

type qcow2 struct {
	r           io.ReaderAt
	size        int64
	clusterBits uint
	l1          []byte // as stored: big-endian entries
	l2cache     tableCache[[]uint64]
	zstd        bool
	// the last compressed cluster decoded
	lastCluster int64
	lastData    []byte
	dec         *zstd.Decoder
}

func openQCOW2(r io.ReaderAt, size int64) (*Disk, error) {
	h := make([]byte, 112)
	if err := readFull(r, "qcow2", h[:72], 0, size); err != nil {
		return nil, err
	}
	version := be.Uint32(h[4:])
	if version != 2 && version != 3 {
		return nil, corrupt("qcow2", 4, fmt.Sprintf("version %d (2 and 3 are read)", version))
	}
	q := &qcow2{r: r, size: size, clusterBits: uint(be.Uint32(h[20:])), lastCluster: -1}
	if be.Uint64(h[8:]) != 0 || be.Uint32(h[16:]) != 0 {
		return nil, fmt.Errorf("qcow2: the image has a backing file, which would hold the unchanged clusters: convert it with qemu-img convert first")
	}
	if q.clusterBits < 9 || q.clusterBits > 21 {
		return nil, corrupt("qcow2", 20, fmt.Sprintf("cluster size 2^%d", q.clusterBits))
	}
	virtual := int64(be.Uint64(h[24:]))
	if be.Uint32(h[32:]) != 0 {
		return nil, fmt.Errorf("qcow2: encrypted image: not read")
	}
	l1Size := int64(be.Uint32(h[36:]))
	l1Off := int64(be.Uint64(h[40:]))
	if version == 3 {
		if err := readFull(r, "qcow2", h[72:104], 72, size); err != nil {
			return nil, err
		}
		incompat := be.Uint64(h[72:])
		headerLen := be.Uint32(h[100:])
		if headerLen > 104 {
			if err := readFull(r, "qcow2", h[104:105], 104, size); err != nil {
				return nil, err
			}
			switch h[104] {
			case 0:
			case 1:
				q.zstd = true
			default:
				return nil, corrupt("qcow2", 104, fmt.Sprintf("compression type %d", h[104]))
			}
		}
		// Bit 0: dirty (refcounts only), 1: corrupt, 2: external data file,
		// 3: compression type (handled above), 4: extended L2 entries.
		switch {
		case incompat&2 != 0:
			return nil, fmt.Errorf("qcow2: the image is marked corrupt by QEMU")
		case incompat&4 != 0:
			return nil, fmt.Errorf("qcow2: the data is in an external file, not in the image")
		case incompat&^0xf != 0:
			return nil, fmt.Errorf("qcow2: incompatible features 0x%x not supported (extended L2 entries?)", incompat)
		}
	}
	clusterSize := int64(1) << q.clusterBits
	perL2 := clusterSize / 8
	// L2 tables are a cluster each: keep at most 16 MiB of them.
	q.l2cache.max = int(max(4, (16<<20)/clusterSize))
	if virtual < 0 || virtual > maxVirtualSize {
		return nil, corrupt("qcow2", 24, fmt.Sprintf("virtual size %d", virtual))
	}
	need := (virtual + clusterSize*perL2 - 1) / (clusterSize * perL2)
	if l1Size < need || need > 1<<22 {
		return nil, corrupt("qcow2", 36, fmt.Sprintf("an L1 table of %d entries for %d bytes", l1Size, virtual))
	}
	if err := fits("qcow2", l1Off, need*8, size); err != nil {
		return nil, fmt.Errorf("reading the L1 table: %w", err)
	}
	raw := make([]byte, need*8)
	if err := readFull(r, "qcow2", raw, l1Off, size); err != nil {
		return nil, fmt.Errorf("reading the L1 table: %w", err)
	}
	q.l1 = raw
	if q.zstd {
		dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(uint64(clusterSize)*4))
		if err != nil {
			return nil, err
		}
		q.dec = dec
	}
	br := &blockReader{size: virtual, blockSize: clusterSize, locate: q.locate}
	return &Disk{ReaderAt: br, Format: "qcow2", Size: virtual}, nil
}

func (q *qcow2) locate(cluster int64) (where, error) {
	w := where{off: -1, r: q.r, size: q.size, fmt: "qcow2"}
	clusterSize := int64(1) << q.clusterBits
	perL2 := clusterSize / 8
	l1e := be.Uint64(q.l1[8*(cluster/perL2):])
	l2Off := int64(l1e & qcowOffsetMask)
	if l2Off == 0 {
		return w, nil
	}
	l2, ok := q.l2cache.get(l2Off)
	if !ok {
		if err := fits("qcow2", l2Off, clusterSize, q.size); err != nil {
			return w, fmt.Errorf("reading an L2 table: %w", err)
		}
		raw := make([]byte, clusterSize)
		if err := readFull(q.r, "qcow2", raw, l2Off, q.size); err != nil {
			return w, fmt.Errorf("reading an L2 table: %w", err)
		}
		l2 = make([]uint64, perL2)
		for i := range l2 {
			l2[i] = be.Uint64(raw[8*i:])
		}
		q.l2cache.put(l2Off, l2)
	}
	e := l2[cluster%perL2]
	if e&qcowCompressed != 0 {
		data, err := q.compressed(cluster, e)
		w.buf = data
		return w, err
	}
	if e&qcowZero != 0 {
		return w, nil
	}
	if off := int64(e & qcowOffsetMask); off != 0 {
		if off%clusterSize != 0 {
			return w, corrupt("qcow2", off, "data cluster not aligned")
		}
		w.off = off
	}
	return w, nil
}

// compressed decodes a compressed cluster: its entry holds the host
// offset in its low x bits and the count of extra 512-byte sectors in
// the bits above, up to bit 61, x = 62 - (cluster_bits - 8).
func (q *qcow2) compressed(cluster int64, e uint64) ([]byte, error) {
	if q.lastCluster == cluster {
		return q.lastData, nil
	}
	x := 62 - (q.clusterBits - 8)
	off := int64(e & (1<<x - 1))
	sectors := int64((e&(1<<62-1))>>x) + 1
	n := sectors*512 - off%512
	n = min(n, q.size-off)
	if n <= 0 {
		return nil, corrupt("qcow2", off, "compressed cluster past the end of the image")
	}
	if err := fits("qcow2", off, n, q.size); err != nil {
		return nil, err
	}
	in := make([]byte, n)
	if err := readFull(q.r, "qcow2", in, off, q.size); err != nil {
		return nil, err
	}
	clusterSize := int64(1) << q.clusterBits
	out := make([]byte, clusterSize)
	var got int
	var err error
	if q.zstd {
		// A stream, not DecodeAll: the sectors read hold more than the
		// frame, and QEMU too stops once the cluster is full.
		if err = q.dec.Reset(bytes.NewReader(in)); err == nil {
			got, err = io.ReadFull(q.dec, out)
			if err == io.ErrUnexpectedEOF || err == io.EOF {
				err = nil
			}
		}
	} else {
		fr := flate.NewReader(bytes.NewReader(in))
		got, err = io.ReadFull(fr, out)
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			err = nil // a last cluster may be short; zeros follow
		}
	}
	if err != nil {
		return nil, corrupt("qcow2", off, "compressed cluster: "+err.Error())
	}
	clear(out[got:])
	q.lastCluster, q.lastData = cluster, out
	return out, nil
}
