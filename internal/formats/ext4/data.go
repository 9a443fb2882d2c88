package ext4

import (
	"encoding/binary"
	"fmt"
	"io"
	"sort"

	"github.com/hashr-dev/hashr/internal/formats/fstree"
)

// A run maps count logical blocks from logical to the physical blocks
// from physical; physical 0 is a hole (zeros), as is an uninitialised
// extent.
type run struct {
	logical, physical, count uint64
}

// mapper finds the run holding a logical block.
type mapper interface {
	find(logical uint64) (run, error)
}

// extentMap is a file's extent tree, read whole into a sorted list.
type extentMap struct{ runs []run }

func (f *fsys) extents(ino *inode) (*extentMap, error) {
	m := &extentMap{}
	visited := 0
	if err := f.extentNode(ino, ino.iblock, -1, m, &visited); err != nil {
		return nil, err
	}
	sort.Slice(m.runs, func(i, j int) bool { return m.runs[i].logical < m.runs[j].logical })
	for i := 1; i < len(m.runs); i++ {
		prev := m.runs[i-1]
		if prev.logical+prev.count > m.runs[i].logical {
			return nil, corrupt(-1, fmt.Sprintf("inode %d: extents overlap at logical block %d", ino.num, m.runs[i].logical))
		}
	}
	return m, nil
}

// extentNode adds the extents below one node of the tree; parentDepth is
// -1 for the root in the inode.
func (f *fsys) extentNode(ino *inode, b []byte, parentDepth int, m *extentMap, visited *int) error {
	le := binary.LittleEndian
	if len(b) < 12 || le.Uint16(b) != 0xf30a {
		return corrupt(-1, fmt.Sprintf("inode %d: extent node without its magic number", ino.num))
	}
	entries := int(le.Uint16(b[2:]))
	depth := int(le.Uint16(b[6:]))
	if depth > 5 || (parentDepth >= 0 && depth != parentDepth-1) {
		return corrupt(-1, fmt.Sprintf("inode %d: extent tree depth %d under depth %d", ino.num, depth, parentDepth))
	}
	if 12+12*entries > len(b) {
		return corrupt(-1, fmt.Sprintf("inode %d: %d extents do not fit their node", ino.num, entries))
	}
	*visited++
	if *visited > maxExtents/64 {
		return corrupt(-1, fmt.Sprintf("inode %d: extent tree of too many nodes", ino.num))
	}
	for i := range entries {
		e := b[12+12*i:]
		logical := uint64(le.Uint32(e))
		if depth == 0 {
			n := uint64(le.Uint16(e[4:]))
			phys := uint64(le.Uint16(e[6:]))<<32 | uint64(le.Uint32(e[8:]))
			if n > 32768 { // uninitialised: allocated, reads as zeros
				n -= 32768
				phys = 0
			}
			if n == 0 {
				continue
			}
			if phys != 0 && (phys+n > f.sb.blocks || phys+n < phys) {
				return corrupt(-1, fmt.Sprintf("inode %d: extent at blocks %d+%d past the end of the file system", ino.num, phys, n))
			}
			if len(m.runs) >= maxExtents {
				return corrupt(-1, fmt.Sprintf("inode %d: more than %d extents", ino.num, maxExtents))
			}
			m.runs = append(m.runs, run{logical: logical, physical: phys, count: n})
			continue
		}
		child := uint64(le.Uint16(e[8:]))<<32 | uint64(le.Uint32(e[4:]))
		cb, err := f.block(child)
		if err != nil {
			return fmt.Errorf("inode %d: reading an extent node: %w", ino.num, err)
		}
		// The node is parsed from a copy: the cache may drop it while the
		// nodes below are read.
		if err := f.extentNode(ino, append([]byte(nil), cb...), depth, m, visited); err != nil {
			return err
		}
	}
	return nil
}

func (m *extentMap) find(logical uint64) (run, error) {
	i := sort.Search(len(m.runs), func(i int) bool { return m.runs[i].logical+m.runs[i].count > logical })
	if i == len(m.runs) {
		return run{logical: logical, count: 1 << 40}, nil // a hole to the end
	}
	r := m.runs[i]
	if r.logical > logical {
		return run{logical: logical, count: r.logical - logical}, nil
	}
	return r, nil
}

// blockMap is the ext2/3 map: 12 direct blocks, then single, double and
// triple indirect blocks of block numbers.
type blockMap struct {
	f      *fsys
	ino    *inode
	direct [15]uint32
}

func (f *fsys) blockMap(ino *inode) *blockMap {
	m := &blockMap{f: f, ino: ino}
	for i := range m.direct {
		m.direct[i] = binary.LittleEndian.Uint32(ino.iblock[4*i:])
	}
	return m
}

// find resolves logical, then extends the run while the blocks that
// follow are contiguous in the same indirect block.
func (m *blockMap) find(logical uint64) (run, error) {
	per := m.f.sb.blockSize / 4
	if logical < 12 {
		r := run{logical: logical, physical: uint64(m.direct[logical]), count: 1}
		for l := logical + 1; l < 12 && contiguous(r, uint64(m.direct[l])); l++ {
			r.count++
		}
		return m.check(r)
	}
	l := logical - 12
	var path []uint64 // indexes from the top indirect block down
	var top uint32
	switch {
	case l < per:
		top, path = m.direct[12], []uint64{l}
	case l < per+per*per:
		l -= per
		top, path = m.direct[13], []uint64{l / per, l % per}
	case l < per+per*per+per*per*per:
		l -= per + per*per
		top, path = m.direct[14], []uint64{l / (per * per), (l / per) % per, l % per}
	default:
		return run{}, corrupt(-1, fmt.Sprintf("inode %d: block %d beyond what a block map can address", m.ino.num, logical))
	}
	blk := uint64(top)
	for depth, idx := range path {
		if blk == 0 {
			// A hole as big as what this indirect block would have mapped.
			span, offset := uint64(1), uint64(0)
			for _, i := range path[depth:] {
				span *= per
				offset = offset*per + i
			}
			return run{logical: logical, count: span - offset}, nil
		}
		b, err := m.f.block(blk)
		if err != nil {
			return run{}, fmt.Errorf("inode %d: reading an indirect block: %w", m.ino.num, err)
		}
		next := uint64(binary.LittleEndian.Uint32(b[4*idx:]))
		if depth == len(path)-1 {
			r := run{logical: logical, physical: next, count: 1}
			for i := idx + 1; i < per && contiguous(r, uint64(binary.LittleEndian.Uint32(b[4*i:]))); i++ {
				r.count++
			}
			return m.check(r)
		}
		blk = next
	}
	return run{}, nil // not reached
}

func contiguous(r run, next uint64) bool {
	if r.physical == 0 {
		return next == 0
	}
	return next == r.physical+r.count
}

func (m *blockMap) check(r run) (run, error) {
	if r.physical != 0 && r.physical+r.count > m.f.sb.blocks {
		return run{}, corrupt(-1, fmt.Sprintf("inode %d: block %d past the end of the file system", m.ino.num, r.physical))
	}
	return r, nil
}

// mapperOf returns how ino's blocks are found.
func (f *fsys) mapperOf(ino *inode) (mapper, error) {
	if ino.flags&flagExtents != 0 {
		return f.extents(ino)
	}
	return f.blockMap(ino), nil
}

// blocks is a reader of ino's bytes through its mapper m, holes as
// zeros.
func (f *fsys) blocks(ino *inode, m mapper) *fstree.BlockReader {
	bs := f.sb.blockSize
	return &fstree.BlockReader{Format: "ext4", BlockSize: bs, Size: ino.size, ReadAt: f.readAt,
		Find: func(logical uint64) (fstree.Run, error) {
			r, err := m.find(logical)
			run := fstree.Run{Logical: r.logical, Count: r.count, Offset: fstree.Hole}
			if r.physical != 0 {
				run.Offset = int64(r.physical * bs)
			}
			return run, err
		}}
}

// open returns a reader of ino's bytes.
func (f *fsys) open(ino *inode) (io.Reader, error) {
	if ino.flags&flagEncrypt != 0 {
		return nil, errEncrypted
	}
	if ino.flags&flagInlineData != 0 {
		data, err := f.inlineData(ino)
		if err != nil {
			return nil, err
		}
		if ino.size > uint64(len(data)) {
			return nil, corrupt(-1, fmt.Sprintf("inode %d: inline data of %d bytes for a file of %d", ino.num, len(data), ino.size))
		}
		return &byteReader{b: data[:ino.size]}, nil
	}
	if ino.size > uint64(f.sb.blocks)*f.sb.blockSize*2 && ino.size > 1<<40 {
		// Sparse files may exceed the file system, but not by this much.
		return nil, corrupt(-1, fmt.Sprintf("inode %d: size %d on a file system of %d bytes", ino.num, ino.size, f.sb.blocks*f.sb.blockSize))
	}
	m, err := f.mapperOf(ino)
	if err != nil {
		return nil, err
	}
	return f.blocks(ino, m), nil
}

type byteReader struct{ b []byte }

func (r *byteReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}
