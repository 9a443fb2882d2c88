// Package clusterchain reads the cluster chains of FAT and exFAT volumes,
// the one copy both readers use: the file allocation table through a
// small block cache, a directory's chain read whole (where a chain in a
// loop is an error, not an endless read), and a file's bytes read a run
// of consecutive clusters at a time, straight from the image.
package clusterchain

import (
	"fmt"
	"io"

	"github.com/hashr-dev/hashr/internal/formats/archive"
)

// FAT entries as Volume.Next returns them: FAT12 and FAT16 values are
// widened to these, FAT32 and exFAT ones are these.
const (
	Bad        = 0xfffffff7 // a bad cluster
	EndOfChain = 0xfffffff8 // and above: the last cluster of a chain
)

const (
	cacheBlock  = 64 << 10 // bytes of the FAT read at a time
	cacheBlocks = 64       // blocks kept
	maxRun      = 64 << 20 // bytes of one run read at once
)

// Volume is where a volume's clusters and FAT are.
type Volume struct {
	R           io.ReaderAt
	Format      string // "fat" or "exfat", for errors
	ClusterSize int64
	HeapOffset  int64  // where cluster 2 starts
	Clusters    uint32 // data clusters: numbered 2 .. Clusters+1
	FATOffset   int64
	FATSize     int64
	// Next returns the FAT entry of cluster c, widened as above; it
	// reads the FAT with ReadFAT.
	Next func(c uint32) (uint32, error)

	cache map[int64][]byte
	order []int64
}

// ReadFAT fills p with the FAT's bytes at image offset off, through the
// block cache.
func (v *Volume) ReadFAT(p []byte, off int64) error {
	if v.cache == nil {
		v.cache = map[int64][]byte{}
	}
	for len(p) > 0 {
		blk := off / cacheBlock * cacheBlock
		b, ok := v.cache[blk]
		if !ok {
			n := min(int64(cacheBlock), v.FATOffset+v.FATSize-blk)
			if n <= 0 {
				return archive.Corrupt(v.Format, off, "FAT entry outside the FAT")
			}
			b = make([]byte, n)
			if m, err := v.R.ReadAt(b, blk); m < len(b) {
				return archive.Truncated(v.Format, blk, orEOF(err))
			}
			if len(v.order) >= cacheBlocks {
				delete(v.cache, v.order[0])
				v.order = v.order[1:]
			}
			v.cache[blk] = b
			v.order = append(v.order, blk)
		}
		in := off - blk
		if in >= int64(len(b)) {
			return archive.Corrupt(v.Format, off, "FAT entry outside the FAT")
		}
		n := copy(p, b[in:])
		p, off = p[n:], off+int64(n)
	}
	return nil
}

func orEOF(err error) error {
	if err == nil {
		return io.EOF
	}
	return err
}

// Offset is where cluster c's bytes are.
func (v *Volume) Offset(c uint32) (int64, error) {
	if c < 2 || c >= v.Clusters+2 {
		return 0, archive.Corrupt(v.Format, -1, fmt.Sprintf("cluster %d outside the volume's %d", c, v.Clusters))
	}
	return v.HeapOffset + int64(c-2)*v.ClusterSize, nil
}

// ReadChain reads n bytes of the chain from cluster c on (or of the
// contiguous run, for exFAT's NoFatChain); with toEnd, the whole chain,
// which must end before n bytes: a longer one is a directory too big or
// a chain in a loop.
func (v *Volume) ReadChain(c uint32, contig bool, n int64, toEnd bool) ([]byte, error) {
	var out []byte
	for toEnd || int64(len(out)) < n {
		if int64(len(out)) >= n {
			return nil, archive.Corrupt(v.Format, -1, fmt.Sprintf("a directory over %d bytes, or a cluster chain in a loop", n))
		}
		off, err := v.Offset(c)
		if err != nil {
			return nil, err
		}
		start := len(out)
		out = append(out, make([]byte, v.ClusterSize)...)
		if m, err := v.R.ReadAt(out[start:], off); m < int(v.ClusterSize) {
			return nil, archive.Truncated(v.Format, off, orEOF(err))
		}
		if contig {
			c++
			continue
		}
		next, err := v.Next(c)
		if err != nil {
			return nil, err
		}
		if next >= EndOfChain {
			if toEnd {
				return out, nil
			}
			if int64(len(out)) < n {
				return nil, archive.Corrupt(v.Format, -1, "the cluster chain ends before the directory's size")
			}
		}
		c = next
	}
	return out[:n], nil
}

// CheckFileSize checks a file's size against the volume: FAT and exFAT
// files have no holes, so one larger than the cluster heap is a lie (and
// its cluster chain, in a loop, would be read forever).
func (v *Volume) CheckFileSize(size uint64) error {
	if heap := uint64(v.Clusters) * uint64(v.ClusterSize); size > heap {
		return archive.Corrupt(v.Format, -1, fmt.Sprintf("a file of %d bytes on a volume of %d", size, heap))
	}
	return nil
}

// File returns a reader of size bytes of the chain from cluster c on (of
// the contiguous run, with contig), then zeros more zeros (exFAT's bytes
// past a file's valid data length).
func (v *Volume) File(c uint32, contig bool, size, zeros int64) io.Reader {
	return &fileReader{v: v, cluster: c, contig: contig, left: size, zeros: zeros}
}

// fileReader reads a file's clusters, runs of consecutive clusters at a
// time, then the zeros after them.
type fileReader struct {
	v       *Volume
	cluster uint32 // the first of the next run
	contig  bool
	left    int64 // bytes of clusters not yet read
	zeros   int64 // zeros after them
	run     int64 // bytes left in the current run
	off     int64 // image offset of the current run's next byte
}

func (f *fileReader) Read(p []byte) (int, error) {
	if f.left <= 0 {
		if f.zeros <= 0 {
			return 0, io.EOF
		}
		n := min(int64(len(p)), f.zeros)
		clear(p[:n])
		f.zeros -= n
		return int(n), nil
	}
	if f.run == 0 {
		if err := f.nextRun(); err != nil {
			return 0, err
		}
	}
	n := min(int64(len(p)), f.run, f.left)
	m, err := f.v.R.ReadAt(p[:n], f.off)
	if int64(m) < n {
		return m, archive.Truncated(f.v.Format, f.off, orEOF(err))
	}
	f.run -= n
	f.left -= n
	f.off += n
	return int(n), nil
}

// nextRun finds the run of consecutive clusters from f.cluster on. The
// run ends where the chain jumps; it needs no more clusters than the file
// has bytes left, which also bounds a chain in a loop.
func (f *fileReader) nextRun() error {
	v := f.v
	off, err := v.Offset(f.cluster)
	if err != nil {
		return err
	}
	f.off = off
	cs := v.ClusterSize
	if f.contig {
		if avail := int64(v.Clusters+2-f.cluster) * cs; avail < f.left {
			return archive.Corrupt(v.Format, off, "a contiguous file runs past the cluster heap")
		}
		f.run = f.left
		return nil
	}
	n := int64(0)
	for c := f.cluster; ; {
		n += cs
		next, err := v.Next(c)
		if err != nil {
			return err
		}
		if next == c+1 && n < f.left && n < maxRun {
			c = next
			continue
		}
		if n < f.left && next >= EndOfChain {
			return archive.Corrupt(v.Format, -1, "the cluster chain ends before the file's size")
		}
		if n < f.left && (next < 2 || next == Bad) {
			return archive.Corrupt(v.Format, -1, fmt.Sprintf("cluster %d of a file's chain is free or bad (%#x)", c, next))
		}
		f.cluster, f.run = next, n
		return nil
	}
}
