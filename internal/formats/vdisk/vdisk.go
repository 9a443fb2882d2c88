// Package vdisk reads virtual disk containers as the disk they hold,
// through io.ReaderAt, without converting them to a raw copy: qcow2
// (compressed clusters included), VMDK (monolithic sparse and
// stream-optimized), VHD (fixed and dynamic) and VHDX. Anything else is
// taken as a raw disk. Unallocated parts of the disk read as zeros; every
// table is checked against the container's size before it is used.
//
// Why not a library: go-diskfs (v1.7.0), the Go library for disk images,
// reads raw images and block devices only (its one backend is a file);
// none of qcow2, VMDK, VHD or VHDX.
package vdisk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/hashr-dev/hashr/internal/formats/archive"
)

// Disk is the virtual disk inside a container.
type Disk struct {
	io.ReaderAt
	// Format is "raw", "qcow2", "vmdk", "vhd" or "vhdx".
	Format string
	// Size is the virtual disk's size in bytes.
	Size int64
}

// maxVirtualSize bounds a virtual disk: 64 TiB is the largest VHDX.
const maxVirtualSize = 64 << 40

// Open returns the disk held in r (size bytes).
func Open(r io.ReaderAt, size int64) (*Disk, error) {
	if size < 0 {
		return nil, errors.New("disk image of unknown size")
	}
	head := make([]byte, 512)
	n, _ := r.ReadAt(head, 0)
	head = head[:n]
	var d *Disk
	var err error
	switch {
	case bytes.HasPrefix(head, []byte("QFI\xfb")):
		d, err = openQCOW2(r, size)
	case bytes.HasPrefix(head, []byte("KDMV")):
		d, err = openVMDK(r, size)
	case bytes.HasPrefix(head, []byte("vhdxfile")):
		d, err = openVHDX(r, size)
	case bytes.HasPrefix(head, []byte("conectix")):
		d, err = openVHD(r, size, 0) // a dynamic VHD's copy of its footer
	case bytes.HasPrefix(head, []byte("# Disk DescriptorFile")):
		return nil, fmt.Errorf("vmdk: a descriptor file, whose extents are separate files (monolithicFlat, twoGbMaxExtent…): convert the set with qemu-img convert -O vmdk -o subformat=monolithicSparse")
	default:
		if size >= 512 {
			var foot [8]byte
			if _, ferr := r.ReadAt(foot[:], size-512); ferr == nil && string(foot[:]) == "conectix" {
				return openVHD(r, size, size-512)
			}
		}
		return &Disk{ReaderAt: r, Format: "raw", Size: size}, nil
	}
	if err != nil {
		return nil, err
	}
	if d.Size < 0 || d.Size > maxVirtualSize {
		return nil, corrupt(d.Format, -1, fmt.Sprintf("virtual size of %d bytes", d.Size))
	}
	return d, nil
}

func corrupt(format string, off int64, reason string) error {
	return archive.Corrupt(format, off, reason)
}

// readFull reads len(p) bytes at off of a container of size bytes.
func readFull(r io.ReaderAt, format string, p []byte, off, size int64) error {
	if off < 0 || off+int64(len(p)) > size {
		return corrupt(format, off, fmt.Sprintf("%d bytes at %d are past the end of the image (%d bytes): truncated?", len(p), off, size))
	}
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return archive.Truncated(format, off, err)
}

// fits checks, before a table of n bytes is allocated, that the
// container holds it at off: a hostile header must not make hashr
// allocate what the file does not even have.
func fits(format string, off, n, size int64) error {
	if off < 0 || n < 0 || off > size || n > size-off {
		return corrupt(format, off, fmt.Sprintf("a table of %d bytes at %d, past the end of the image (%d bytes): truncated?", n, off, size))
	}
	return nil
}

// blockReader is a disk made of equal blocks, each found by locate: at
// an offset of the container, or a hole (zeros), or decoded into a
// buffer (compressed).
type blockReader struct {
	size      int64
	blockSize int64
	locate    func(block int64) (where, error)
}

// where a block is: data at off in the container, or in buf, or zeros.
type where struct {
	off  int64  // -1: not there
	buf  []byte // a decoded block, when set
	r    io.ReaderAt
	size int64 // the container's size, for bounds
	fmt  string
}

func (b *blockReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	n := 0
	for len(p) > 0 {
		if off >= b.size {
			return n, io.EOF
		}
		block, in := off/b.blockSize, off%b.blockSize
		chunk := p[:min(int64(len(p)), b.blockSize-in, b.size-off)]
		w, err := b.locate(block)
		if err != nil {
			return n, err
		}
		switch {
		case w.buf != nil:
			if in+int64(len(chunk)) > int64(len(w.buf)) {
				return n, corrupt(w.fmt, -1, fmt.Sprintf("block %d decodes to %d bytes, not %d", block, len(w.buf), b.blockSize))
			}
			copy(chunk, w.buf[in:])
		case w.off < 0:
			clear(chunk)
		default:
			if err := readFull(w.r, w.fmt, chunk, w.off+in, w.size); err != nil {
				return n, err
			}
		}
		n += len(chunk)
		p, off = p[len(chunk):], off+int64(len(chunk))
	}
	return n, nil
}

// tableCache keeps recently used tables (qcow2 L2 tables, VMDK grain
// tables) of one disk, dropping them all when full.
type tableCache[T any] struct {
	m   map[int64]T
	max int
}

func (c *tableCache[T]) get(k int64) (T, bool) {
	v, ok := c.m[k]
	return v, ok
}

func (c *tableCache[T]) put(k int64, v T) {
	if c.m == nil || len(c.m) >= c.max {
		c.m = make(map[int64]T, c.max)
	}
	c.m[k] = v
}

var (
	be = binary.BigEndian
	le = binary.LittleEndian
)
