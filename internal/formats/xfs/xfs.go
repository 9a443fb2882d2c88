// Package xfs reads XFS file systems (v5, and v4) from an io.ReaderAt,
// without mounting them: the directory tree from the root inode, in its
// short-form, block, leaf and node forms, and each regular file's bytes
// through its extent list or extent B+tree, holes and unwritten extents
// read as zeros. Every number read is checked before it is used.
//
// Why not a library: no Go library reads XFS: go-diskfs (v1.7.0) has
// readers for FAT32, ISO 9660, squashfs and ext4 only.
package xfs

import (
	"encoding/binary"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/hashr-dev/hashr/internal/formats/archive"
	"github.com/hashr-dev/hashr/internal/formats/fstree"
)

var be = binary.BigEndian

const (
	incompatFtype   = 1
	incompatBigTime = 8
	incompatNrext64 = 32

	maxDepth     = 512
	maxDirBytes  = 64 << 20
	maxExtents   = 1 << 20
	dirLeafStart = 1 << 35 // directory blocks above this hold the hash index
)

func corrupt(off int64, reason string) error { return archive.Corrupt("xfs", off, reason) }

type superblock struct {
	blockSize  uint64
	blocks     uint64
	root       uint64
	agBlocks   uint64
	agCount    uint64
	inodeSize  uint64
	inoPerBlog uint
	agBlkLog   uint
	dirBlkLog  uint
	version    uint16
	incompat   uint32
	ftype      bool
}

// Probe reports whether r starts with an XFS superblock.
func Probe(r io.ReaderAt, size int64) bool {
	b := make([]byte, 512)
	if _, err := r.ReadAt(b, 0); err != nil {
		return false
	}
	_, err := parseSuperblock(b)
	return err == nil
}

func parseSuperblock(b []byte) (*superblock, error) {
	if string(b[:4]) != "XFSB" {
		return nil, corrupt(0, "no XFS superblock (bad magic)")
	}
	sb := &superblock{
		blockSize:  uint64(be.Uint32(b[4:])),
		blocks:     be.Uint64(b[8:]),
		root:       be.Uint64(b[56:]),
		agBlocks:   uint64(be.Uint32(b[84:])),
		agCount:    uint64(be.Uint32(b[88:])),
		version:    be.Uint16(b[100:]),
		inodeSize:  uint64(be.Uint16(b[104:])),
		agBlkLog:   uint(b[124]),
		inoPerBlog: uint(b[123]),
		dirBlkLog:  uint(b[192]),
	}
	blockLog := uint(b[120])
	if sb.version&0xf == 5 {
		sb.incompat = be.Uint32(b[216:])
		sb.ftype = sb.incompat&incompatFtype != 0
	} else if sb.version&0xf == 4 {
		// v4: the ftype bit lives in features2.
		sb.ftype = be.Uint32(b[200:])&0x200 != 0
	} else {
		return nil, corrupt(0, fmt.Sprintf("version %d (4 and 5 are read)", sb.version&0xf))
	}
	switch {
	case blockLog < 9 || blockLog > 16 || sb.blockSize != 1<<blockLog:
		return nil, corrupt(4, fmt.Sprintf("block size %d", sb.blockSize))
	case sb.inodeSize < 256 || sb.inodeSize > 2048 || sb.inodeSize&(sb.inodeSize-1) != 0:
		return nil, corrupt(104, fmt.Sprintf("inode size %d", sb.inodeSize))
	case sb.agBlocks == 0 || sb.agCount == 0 || sb.agBlkLog > 31 || sb.agBlocks > 1<<sb.agBlkLog:
		return nil, corrupt(84, "allocation group geometry")
	case 1<<sb.inoPerBlog != sb.blockSize/sb.inodeSize:
		return nil, corrupt(123, "inodes per block")
	case sb.dirBlkLog > 8 || sb.blockSize<<sb.dirBlkLog > 1<<16:
		return nil, corrupt(192, "directory block size")
	}
	return sb, nil
}

type fsys struct {
	r    io.ReaderAt
	size int64
	sb   *superblock
	v5   bool
}

func (f *fsys) readAt(p []byte, off int64) error { return fstree.ReadAt(f.r, f.size, "xfs", p, off) }

// fsbOffset turns a file-system block number (AG number above agblklog
// bits) into a byte offset.
func (f *fsys) fsbOffset(fsb uint64) (int64, error) {
	ag, bno := fsb>>f.sb.agBlkLog, fsb&(1<<f.sb.agBlkLog-1)
	if ag >= f.sb.agCount || bno >= f.sb.agBlocks {
		return 0, corrupt(-1, fmt.Sprintf("block %d (AG %d, block %d) outside the file system", fsb, ag, bno))
	}
	return int64((ag*f.sb.agBlocks + bno) * f.sb.blockSize), nil
}

type inode struct {
	num      uint64
	raw      []byte
	mode     uint16
	format   uint8
	size     uint64
	links    uint32
	nextents uint64
	mtime    time.Time
	fork     []byte // the data fork
}

const (
	fmtLocal   = 1
	fmtExtents = 2
	fmtBtree   = 3
)

func (f *fsys) inode(n uint64) (*inode, error) {
	sb := f.sb
	perBlog := sb.inoPerBlog
	ag := n >> (sb.agBlkLog + perBlog)
	bno := (n >> perBlog) & (1<<sb.agBlkLog - 1)
	idx := n & (1<<perBlog - 1)
	if ag >= sb.agCount || bno >= sb.agBlocks {
		return nil, corrupt(-1, fmt.Sprintf("inode %d outside the file system", n))
	}
	off := int64((ag*sb.agBlocks+bno)*sb.blockSize + idx*sb.inodeSize)
	raw := make([]byte, sb.inodeSize)
	if err := f.readAt(raw, off); err != nil {
		return nil, fmt.Errorf("reading inode %d: %w", n, err)
	}
	if string(raw[:2]) != "IN" {
		return nil, corrupt(off, fmt.Sprintf("inode %d without its magic number", n))
	}
	ino := &inode{num: n, raw: raw, mode: be.Uint16(raw[2:]), format: raw[5], size: be.Uint64(raw[56:])}
	version := raw[4]
	core := 100
	if version >= 3 {
		core = 176
	}
	ino.links = be.Uint32(raw[16:])
	if version == 1 {
		ino.links = uint32(be.Uint16(raw[6:]))
	}
	ino.nextents = uint64(be.Uint32(raw[76:]))
	var flags2 uint64
	if version >= 3 {
		flags2 = be.Uint64(raw[120:])
		if flags2&(1<<4) != 0 { // large extent counts
			ino.nextents = be.Uint64(raw[24:])
		}
	}
	if version >= 3 && flags2&(1<<3) != 0 { // big timestamps: ns since 1901
		ns := be.Uint64(raw[40:])
		ino.mtime = time.Unix(int64(ns/1e9)-(1<<31), int64(ns%1e9)).UTC()
	} else {
		ino.mtime = time.Unix(int64(int32(be.Uint32(raw[40:]))), int64(be.Uint32(raw[44:])%1e9)).UTC()
	}
	forkEnd := len(raw)
	if forkOff := int(raw[82]) * 8; forkOff != 0 {
		forkEnd = min(core+forkOff, len(raw))
	}
	if core > forkEnd {
		return nil, corrupt(off, fmt.Sprintf("inode %d: attribute fork offset inside the core", n))
	}
	ino.fork = raw[core:forkEnd]
	return ino, nil
}

// extent maps count blocks of a file from logical to fsb; unwritten
// ones read as zeros.
type extent struct {
	logical, fsb, count uint64
	unwritten           bool
}

func decodeExtent(b []byte) extent {
	hi, lo := be.Uint64(b), be.Uint64(b[8:])
	return extent{
		unwritten: hi>>63 != 0,
		logical:   (hi >> 9) & (1<<54 - 1),
		fsb:       (hi&(1<<9-1))<<43 | lo>>21,
		count:     lo & (1<<21 - 1),
	}
}

// extents returns ino's extents in logical order.
func (f *fsys) extents(ino *inode) ([]extent, error) {
	var out []extent
	switch ino.format {
	case fmtExtents:
		if ino.nextents*16 > uint64(len(ino.fork)) {
			return nil, corrupt(-1, fmt.Sprintf("inode %d: %d extents do not fit in the inode", ino.num, ino.nextents))
		}
		for i := range ino.nextents {
			out = append(out, decodeExtent(ino.fork[16*i:]))
		}
	case fmtBtree:
		if len(ino.fork) < 4 {
			return nil, corrupt(-1, fmt.Sprintf("inode %d: B+tree root does not fit", ino.num))
		}
		level := int(be.Uint16(ino.fork))
		n := int(be.Uint16(ino.fork[2:]))
		maxRecs := (len(ino.fork) - 4) / 16
		if level == 0 || level > 8 || n > maxRecs {
			return nil, corrupt(-1, fmt.Sprintf("inode %d: B+tree root of level %d with %d records", ino.num, level, n))
		}
		visited := 0
		for i := range n {
			ptr := be.Uint64(ino.fork[4+maxRecs*8+8*i:])
			if err := f.btreeNode(ino, ptr, level-1, &out, &visited); err != nil {
				return nil, err
			}
		}
	default:
		return nil, corrupt(-1, fmt.Sprintf("inode %d: data fork format %d", ino.num, ino.format))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].logical < out[j].logical })
	for i := range out {
		if out[i].count == 0 {
			return nil, corrupt(-1, fmt.Sprintf("inode %d: an extent of no blocks", ino.num))
		}
		if i > 0 && out[i-1].logical+out[i-1].count > out[i].logical {
			return nil, corrupt(-1, fmt.Sprintf("inode %d: extents overlap at block %d", ino.num, out[i].logical))
		}
	}
	return out, nil
}

func (f *fsys) btreeNode(ino *inode, fsb uint64, level int, out *[]extent, visited *int) error {
	*visited++
	if *visited > maxExtents/16 {
		return corrupt(-1, fmt.Sprintf("inode %d: B+tree of too many blocks", ino.num))
	}
	off, err := f.fsbOffset(fsb)
	if err != nil {
		return err
	}
	b := make([]byte, f.sb.blockSize)
	if err := f.readAt(b, off); err != nil {
		return err
	}
	hdr := 24
	switch string(b[:4]) {
	case "BMA3":
		hdr = 72
	case "BMAP":
	default:
		return corrupt(off, fmt.Sprintf("inode %d: B+tree block without its magic number", ino.num))
	}
	if int(be.Uint16(b[4:])) != level {
		return corrupt(off, fmt.Sprintf("inode %d: B+tree block of level %d where %d belongs", ino.num, be.Uint16(b[4:]), level))
	}
	n := int(be.Uint16(b[6:]))
	if level == 0 {
		if hdr+16*n > len(b) {
			return corrupt(off, "B+tree leaf records do not fit")
		}
		if len(*out)+n > maxExtents {
			return corrupt(off, fmt.Sprintf("inode %d: more than %d extents", ino.num, maxExtents))
		}
		for i := range n {
			*out = append(*out, decodeExtent(b[hdr+16*i:]))
		}
		return nil
	}
	maxRecs := (len(b) - hdr) / 16
	if n > maxRecs {
		return corrupt(off, "B+tree node records do not fit")
	}
	for i := range n {
		if err := f.btreeNode(ino, be.Uint64(b[hdr+maxRecs*8+8*i:]), level-1, out, visited); err != nil {
			return err
		}
	}
	return nil
}

// blocks is a reader of the size bytes of a file whose extents are ext,
// holes and unwritten extents as zeros.
func (f *fsys) blocks(ext []extent, size uint64) *fstree.BlockReader {
	bs := f.sb.blockSize
	return &fstree.BlockReader{Format: "xfs", BlockSize: bs, Size: size, ReadAt: f.readAt,
		Find: func(lb uint64) (fstree.Run, error) {
			i := sort.Search(len(ext), func(i int) bool { return ext[i].logical+ext[i].count > lb })
			switch {
			case i == len(ext):
				return fstree.Run{Logical: lb, Count: 1, Offset: fstree.Hole, ToEnd: true}, nil
			case ext[i].logical > lb:
				return fstree.Run{Logical: lb, Count: ext[i].logical - lb, Offset: fstree.Hole}, nil
			}
			e := ext[i]
			run := fstree.Run{Logical: e.logical, Count: e.count, Offset: fstree.Hole}
			if !e.unwritten {
				var err error
				run.Offset, err = f.fsbOffset(e.fsb)
				return run, err
			}
			return run, nil
		}}
}

func (f *fsys) open(ino *inode) (io.Reader, error) {
	if ino.format == fmtLocal {
		if ino.size > uint64(len(ino.fork)) {
			return nil, corrupt(-1, fmt.Sprintf("inode %d: local data of %d bytes in a fork of %d", ino.num, ino.size, len(ino.fork)))
		}
		return strings.NewReader(string(ino.fork[:ino.size])), nil
	}
	ext, err := f.extents(ino)
	if err != nil {
		return nil, err
	}
	for _, e := range ext {
		if e.fsb>>f.sb.agBlkLog >= f.sb.agCount {
			return nil, corrupt(-1, fmt.Sprintf("inode %d: extent at block %d outside the file system", ino.num, e.fsb))
		}
	}
	return f.blocks(ext, ino.size), nil
}
