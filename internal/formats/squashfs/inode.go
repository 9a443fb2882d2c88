package squashfs

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/hashr-dev/hashr/internal/formats/archive"
)

const noFragment = 0xffffffff

// inode is what the walk needs of one inode.
type inode struct {
	typ, mode uint16
	mtime     uint32
	number    uint32
	nlink     uint32
	// directories
	dirBlock  uint32
	dirOffset uint16
	// directories and files
	fileSize uint64
	// files
	blocksStart uint64
	fragment    uint32
	fragOffset  uint32
	blocks      []uint32 // on-disk size words of the full blocks
	// symlinks
	target string
}

func (i *inode) isDir() bool  { return i.typ == typeDir || i.typ == typeExtDir }
func (i *inode) isFile() bool { return i.typ == typeFile || i.typ == typeExtFile }

// readInode reads the inode at reference ref.
func (w *Walker) readInode(ref uint64) (*inode, error) {
	block, offset := ref>>16, int(ref&0xffff)
	if offset >= metaBlockSize || block > w.sb.dirTable-w.sb.inodeTable {
		return nil, corrupt(-1, fmt.Sprintf("inode reference %#x outside the inode table", ref))
	}
	mr := w.metaReader(w.sb.inodeTable+block, offset)
	le := binary.LittleEndian
	var h [16]byte
	if err := mr.read(h[:]); err != nil {
		return nil, err
	}
	ino := &inode{typ: le.Uint16(h[0:]), mode: le.Uint16(h[2:]), mtime: le.Uint32(h[8:]), number: le.Uint32(h[12:]), nlink: 1}
	var b [40]byte
	switch ino.typ {
	case typeDir:
		if err := mr.read(b[:16]); err != nil {
			return nil, err
		}
		ino.dirBlock, ino.nlink = le.Uint32(b[0:]), le.Uint32(b[4:])
		ino.fileSize, ino.dirOffset = uint64(le.Uint16(b[8:])), le.Uint16(b[10:])
	case typeExtDir:
		if err := mr.read(b[:24]); err != nil {
			return nil, err
		}
		ino.nlink, ino.fileSize, ino.dirBlock = le.Uint32(b[0:]), uint64(le.Uint32(b[4:])), le.Uint32(b[8:])
		ino.dirOffset = le.Uint16(b[18:])
	case typeFile:
		if err := mr.read(b[:16]); err != nil {
			return nil, err
		}
		ino.blocksStart, ino.fragment = uint64(le.Uint32(b[0:])), le.Uint32(b[4:])
		ino.fragOffset, ino.fileSize = le.Uint32(b[8:]), uint64(le.Uint32(b[12:]))
		if err := w.readBlockList(mr, ino); err != nil {
			return nil, err
		}
	case typeExtFile:
		if err := mr.read(b[:40]); err != nil {
			return nil, err
		}
		ino.blocksStart, ino.fileSize = le.Uint64(b[0:]), le.Uint64(b[8:])
		ino.nlink, ino.fragment, ino.fragOffset = le.Uint32(b[24:]), le.Uint32(b[28:]), le.Uint32(b[32:])
		if err := w.readBlockList(mr, ino); err != nil {
			return nil, err
		}
	case typeSymlink, typeExtSymlink:
		if err := mr.read(b[:8]); err != nil {
			return nil, err
		}
		ino.nlink = le.Uint32(b[0:])
		n := le.Uint32(b[4:])
		if n > 4096 {
			return nil, corrupt(-1, fmt.Sprintf("symlink target of %d bytes", n))
		}
		t := make([]byte, n)
		if err := mr.read(t); err != nil {
			return nil, err
		}
		ino.target = string(t)
	case typeBlockDev, typeCharDev, typeFIFO, typeSocket, typeExtBlockDev, typeExtCharDev, typeExtFIFO, typeExtSocket:
	default:
		return nil, corrupt(-1, fmt.Sprintf("inode of unknown type %d", ino.typ))
	}
	return ino, nil
}

// readBlockList reads the sizes of a file's blocks: one word per full
// block, and one for the tail unless it is in a fragment.
func (w *Walker) readBlockList(mr *metaReader, ino *inode) error {
	bs := uint64(w.sb.blockSize)
	n := ino.fileSize / bs
	if ino.fileSize%bs != 0 && ino.fragment == noFragment {
		n++
	}
	// Each word is 4 bytes of the inode table: a count the table cannot
	// hold is hostile.
	if n*4 > w.sb.dirTable-w.sb.inodeTable+metaBlockSize {
		return corrupt(-1, fmt.Sprintf("a file of %d bytes has more blocks than the inode table can list", ino.fileSize))
	}
	ino.blocks = make([]uint32, n)
	var b [4]byte
	for i := range ino.blocks {
		if err := mr.read(b[:]); err != nil {
			return err
		}
		ino.blocks[i] = binary.LittleEndian.Uint32(b[:])
	}
	return nil
}

// fragment is one entry of the fragment table.
type fragment struct {
	start uint64
	size  uint32
}

// loadFragments reads the fragment table, once.
func (w *Walker) loadFragments() error {
	if w.fragOK {
		return nil
	}
	n := uint64(w.sb.fragments)
	if n*16 > w.size {
		return corrupt(16, fmt.Sprintf("%d fragments cannot fit in the image", n))
	}
	blocks := (n*16 + metaBlockSize - 1) / metaBlockSize
	idx := make([]byte, blocks*8)
	if _, err := w.r.ReadAt(idx, int64(w.sb.fragTable)); err != nil {
		return archive.Truncated("squashfs", int64(w.sb.fragTable), err)
	}
	frags := make([]fragment, 0, n)
	var e [16]byte
	for b := uint64(0); b < blocks; b++ {
		mr := w.metaReader(binary.LittleEndian.Uint64(idx[b*8:]), 0)
		for i := 0; i < metaBlockSize/16 && uint64(len(frags)) < n; i++ {
			if err := mr.read(e[:]); err != nil {
				return fmt.Errorf("reading the fragment table: %w", err)
			}
			frags = append(frags, fragment{start: binary.LittleEndian.Uint64(e[0:]), size: binary.LittleEndian.Uint32(e[8:])})
		}
	}
	w.frags, w.fragOK = frags, true
	return nil
}

// fileReader reads a file's blocks, then its tail from a fragment.
type fileReader struct {
	w     *Walker
	ino   *inode
	block int    // next block to decode
	pos   uint64 // image offset of that block
	done  uint64 // bytes returned so far
	buf   []byte // decoded bytes not yet returned
	frag  bool   // the fragment tail has been read
}

func (f *fileReader) Read(p []byte) (int, error) {
	for len(f.buf) == 0 {
		if f.done >= f.ino.fileSize {
			return 0, io.EOF
		}
		if err := f.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, f.buf)
	f.buf = f.buf[n:]
	f.done += uint64(n)
	return n, nil
}

// fill decodes the next block, or the fragment tail.
func (f *fileReader) fill() error {
	w := f.w
	bs := uint64(w.sb.blockSize)
	want := min(bs, f.ino.fileSize-f.done)
	if f.block < len(f.ino.blocks) {
		word := f.ino.blocks[f.block]
		f.block++
		data, next, err := w.readBlock(f.pos, word, int(want))
		if err != nil {
			return err
		}
		f.pos = next
		f.buf = data
		return nil
	}
	if f.frag || f.ino.fragment == noFragment {
		return corrupt(-1, "file data ends before its size")
	}
	f.frag = true
	fr := w.frags[f.ino.fragment]
	data, _, err := w.readBlock(fr.start, fr.size, -1)
	if err != nil {
		return fmt.Errorf("reading fragment %d: %w", f.ino.fragment, err)
	}
	off := uint64(f.ino.fragOffset)
	if off+want > uint64(len(data)) {
		return corrupt(int64(fr.start), "file tail beyond the end of its fragment")
	}
	f.buf = data[off : off+want]
	return nil
}

// readBlock reads the data block at off whose size word is word. want is
// how many bytes it must decode to (-1: any up to the block size). A size
// of 0 is a sparse block of zeros.
func (w *Walker) readBlock(off uint64, word uint32, want int) ([]byte, uint64, error) {
	bs := int(w.sb.blockSize)
	if cap(w.dbuf) < bs {
		w.dbuf = make([]byte, bs)
	}
	size := uint64(word & 0xffffff)
	if size == 0 {
		if want < 0 {
			return nil, off, corrupt(int64(off), "empty fragment block")
		}
		out := w.dbuf[:want]
		clear(out)
		return out, off, nil
	}
	if size > uint64(bs) || off+size > w.size {
		return nil, 0, corrupt(int64(off), fmt.Sprintf("data block of %d bytes at %d outside the image or over the block size", size, off))
	}
	if cap(w.cbuf) < int(size) {
		w.cbuf = make([]byte, bs)
	}
	raw := w.cbuf[:size]
	if _, err := w.r.ReadAt(raw, int64(off)); err != nil {
		return nil, 0, archive.Truncated("squashfs", int64(off), err)
	}
	var out []byte
	if word&(1<<24) != 0 {
		out = w.dbuf[:size]
		copy(out, raw)
	} else {
		n, err := w.dec.decode(w.dbuf[:bs], raw)
		if err != nil {
			return nil, 0, corrupt(int64(off), "data block: "+err.Error())
		}
		out = w.dbuf[:n]
	}
	if want >= 0 && len(out) != want {
		return nil, 0, corrupt(int64(off), fmt.Sprintf("data block decodes to %d bytes, want %d", len(out), want))
	}
	return out, off + size, nil
}

// metaCache keeps decoded metadata blocks by image offset.
type metaCache struct {
	w     *Walker
	cache map[uint64]*metaBlock
	order []uint64
}

type metaBlock struct {
	data []byte
	next uint64 // offset of the following block
}

func newMetaCache(w *Walker) *metaCache {
	return &metaCache{w: w, cache: map[uint64]*metaBlock{}}
}

func (c *metaCache) get(off uint64) (*metaBlock, error) {
	if b, ok := c.cache[off]; ok {
		return b, nil
	}
	w := c.w
	var h [2]byte
	if off+2 > w.size {
		return nil, corrupt(int64(off), "metadata block outside the image")
	}
	if _, err := w.r.ReadAt(h[:], int64(off)); err != nil {
		return nil, archive.Truncated("squashfs", int64(off), err)
	}
	word := binary.LittleEndian.Uint16(h[:])
	size := uint64(word & 0x7fff)
	if size == 0 || size > metaBlockSize || off+2+size > w.size {
		return nil, corrupt(int64(off), fmt.Sprintf("metadata block of %d bytes", size))
	}
	raw := make([]byte, size)
	if _, err := w.r.ReadAt(raw, int64(off+2)); err != nil {
		return nil, archive.Truncated("squashfs", int64(off+2), err)
	}
	b := &metaBlock{next: off + 2 + size}
	if word&0x8000 != 0 {
		b.data = raw
	} else {
		out := make([]byte, metaBlockSize)
		n, err := w.dec.decode(out, raw)
		if err != nil {
			return nil, corrupt(int64(off), "metadata block: "+err.Error())
		}
		b.data = out[:n]
	}
	if len(c.order) >= metaCacheSize {
		delete(c.cache, c.order[0])
		c.order = c.order[1:]
	}
	c.cache[off] = b
	c.order = append(c.order, off)
	return b, nil
}

// metaReader reads a stream of metadata from a block and offset on,
// crossing into following blocks.
type metaReader struct {
	c      *metaCache
	block  uint64
	offset int
}

func (w *Walker) metaReader(block uint64, offset int) *metaReader {
	return &metaReader{c: w.meta, block: block, offset: offset}
}

func (m *metaReader) read(p []byte) error {
	for len(p) > 0 {
		b, err := m.c.get(m.block)
		if err != nil {
			return err
		}
		if m.offset >= len(b.data) {
			if m.offset > len(b.data) {
				return corrupt(int64(m.block), "metadata offset beyond its block")
			}
			// Blocks follow each other: the walk moves forward only, and
			// ends at the image's end.
			m.offset = 0
			m.block = b.next
			continue
		}
		n := copy(p, b.data[m.offset:])
		p = p[n:]
		m.offset += n
	}
	return nil
}
