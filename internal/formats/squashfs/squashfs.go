// Package squashfs walks squashfs 4.0 images (live media, snap and
// AppImage payloads, firmware) read at random through an io.ReaderAt:
// every compressor mksquashfs writes (gzip, lzma, lzo, xz, lz4, zstd),
// fragments, sparse blocks, and hard links (one inode under several
// names: the first is a Regular entry, the others Hardlinks to it).
//
// Why not a library: go-diskfs's squashfs reader (v1.7.0), measured on
// this package's testdata in a throwaway module on 2026-12-06, could not
// open the lz4 image ("unable to read root inode"), and on loop.squashfs
// (a directory entry pointing back at the root) listed the same directory
// nested deeper each time, 200 levels in 0.5 s, with no error: it has no
// loop check, so a walk of a hostile image never ends.
package squashfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"

	"github.com/hashr-dev/hashr/internal/formats/archive"
	"github.com/hashr-dev/hashr/internal/formats/fstree"
)

const (
	magic          = 0x73717368 // "hsqs"
	superblockSize = 96
	metaBlockSize  = 8192
	maxBlockSize   = 1 << 20
	// Bounds against hostile images.
	maxDirListing = 64 << 20 // bytes of one directory's listing
	maxDepth      = 256      // directory nesting
	maxEntries    = 1 << 24  // entries of the whole walk
	metaCacheSize = 64       // decompressed metadata blocks kept
)

// Inode types.
const (
	typeDir = 1 + iota
	typeFile
	typeSymlink
	typeBlockDev
	typeCharDev
	typeFIFO
	typeSocket
	typeExtDir
	typeExtFile
	typeExtSymlink
	typeExtBlockDev
	typeExtCharDev
	typeExtFIFO
	typeExtSocket
)

func corrupt(offset int64, reason string) error { return archive.Corrupt("squashfs", offset, reason) }

type superblock struct {
	inodes, blockSize, fragments uint32
	compressor, blockLog, flags  uint16
	major, minor                 uint16
	root                         uint64
	bytesUsed                    uint64
	inodeTable, dirTable         uint64
	fragTable                    uint64
	mtime                        uint32
}

// Probe says whether r starts with a squashfs 4.0 superblock.
func Probe(r io.ReaderAt, size int64) bool {
	_, err := readSuperblock(r, size)
	return err == nil
}

func readSuperblock(r io.ReaderAt, size int64) (*superblock, error) {
	var b [superblockSize]byte
	if size < superblockSize {
		return nil, errors.New("squashfs: not a squashfs image: too short")
	}
	if _, err := r.ReadAt(b[:], 0); err != nil {
		return nil, archive.Truncated("squashfs", 0, err)
	}
	le := binary.LittleEndian
	if le.Uint32(b[0:]) != magic {
		return nil, errors.New("squashfs: not a squashfs 4 image (no little-endian hsqs magic)")
	}
	sb := &superblock{
		inodes: le.Uint32(b[4:]), mtime: le.Uint32(b[8:]), blockSize: le.Uint32(b[12:]),
		fragments: le.Uint32(b[16:]), compressor: le.Uint16(b[20:]), blockLog: le.Uint16(b[22:]),
		flags: le.Uint16(b[24:]), major: le.Uint16(b[28:]), minor: le.Uint16(b[30:]),
		root: le.Uint64(b[32:]), bytesUsed: le.Uint64(b[40:]),
		inodeTable: le.Uint64(b[64:]), dirTable: le.Uint64(b[72:]), fragTable: le.Uint64(b[80:]),
	}
	if sb.major != 4 {
		return nil, fmt.Errorf("squashfs: version %d.%d: only 4.0 images are supported (squashfs 3 and older predate 2009)", sb.major, sb.minor)
	}
	if sb.blockSize < 4096 || sb.blockSize > maxBlockSize || sb.blockSize&(sb.blockSize-1) != 0 || 1<<sb.blockLog != sb.blockSize {
		return nil, corrupt(12, fmt.Sprintf("block size %d (log %d) is not a power of two from 4 KiB to 1 MiB", sb.blockSize, sb.blockLog))
	}
	if sb.bytesUsed > uint64(size) {
		return nil, corrupt(40, fmt.Sprintf("the superblock says the image is %d bytes, the file has only %d: truncated", sb.bytesUsed, size))
	}
	if sb.inodeTable >= sb.bytesUsed || sb.dirTable >= sb.bytesUsed || sb.inodeTable > sb.dirTable {
		return nil, corrupt(64, "inode or directory table outside the image")
	}
	return sb, nil
}

// Walker walks a squashfs image depth first, each directory before its
// contents, entries in stored (sorted) order.
type Walker struct {
	r      io.ReaderAt
	size   uint64 // bytes the superblock says the image uses
	sb     *superblock
	dec    decompressor
	meta   *metaCache
	frags  []fragment // loaded on first use
	fragOK bool
	tree   *fstree.Walker[uint64, uint64, *inode]
	// block buffers reused between files
	cbuf, dbuf []byte
}

// dirEntry is a name and its inode reference: metadata block << 16 |
// offset.
type dirEntry = fstree.Dirent[uint64]

// NewWalker reads the superblock of the image in r.
func NewWalker(r io.ReaderAt, size int64) (archive.Walker, error) {
	sb, err := readSuperblock(r, size)
	if err != nil {
		return nil, err
	}
	dec, err := newDecompressor(sb.compressor)
	if err != nil {
		return nil, err
	}
	w := &Walker{r: r, size: sb.bytesUsed, sb: sb, dec: dec}
	w.meta = newMetaCache(w)
	root, err := w.readInode(sb.root)
	if err != nil {
		return nil, fmt.Errorf("squashfs: reading the root directory: %w", err)
	}
	if !root.isDir() {
		return nil, corrupt(32, "the root inode is not a directory")
	}
	entries, err := w.readDir(root)
	if err != nil {
		return nil, err
	}
	cfg := fstree.Config{Format: "squashfs", IDName: "at inode reference", MaxDepth: maxDepth, MaxEntries: maxEntries}
	w.tree = fstree.New(cfg, fstree.FS[uint64, uint64, *inode]((*inodes)(w)), sb.root, entries)
	return w, nil
}

// Next returns the next entry.
func (w *Walker) Next() (*archive.Entry, error) { return w.tree.Next() }

// inodes is the Walker as the tree walk reads it.
type inodes Walker

// Node reads the inode at reference ref. A directory is known by its
// reference; a file, for its hard links, by its inode number.
func (t *inodes) Node(ref uint64) (fstree.Node[uint64, *inode], error) {
	ino, err := (*Walker)(t).readInode(ref)
	if err != nil {
		return fstree.Node[uint64, *inode]{}, err
	}
	n := fstree.Node[uint64, *inode]{ID: ref, Inode: ino, Links: ino.nlink,
		Entry: archive.Entry{Size: -1, Mode: archive.UnixMode(uint64(ino.mode)), ModeKnown: true,
			ModTime: time.Unix(int64(ino.mtime), 0).UTC()}}
	switch {
	case ino.isDir():
		n.Entry.Type = archive.Dir
	case ino.isFile():
		n.ID, n.Entry.Type, n.Entry.Size = uint64(ino.number), archive.Regular, int64(ino.fileSize)
	case ino.typ == typeSymlink || ino.typ == typeExtSymlink:
		n.Entry.Type = archive.Symlink
		n.Entry.Mode |= fs.ModeSymlink
	default:
		n.Entry.Type = archive.Other
	}
	return n, nil
}

// ReadDir reads a directory's listing.
func (t *inodes) ReadDir(dir *inode) ([]dirEntry, error) { return (*Walker)(t).readDir(dir) }

// Symlink returns a symlink's target, read with its inode.
func (t *inodes) Symlink(link *inode) (string, error) { return link.target, nil }

// Open returns the bytes of the current regular file.
func (w *Walker) Open() (io.Reader, error) {
	cur := w.tree.Current()
	if cur == nil {
		return nil, archive.ErrNotRegular
	}
	ino := cur
	if ino.fragment != noFragment {
		if err := w.loadFragments(); err != nil {
			return nil, err
		}
		if uint64(ino.fragment) >= uint64(len(w.frags)) {
			return nil, corrupt(-1, fmt.Sprintf("fragment %d of %d", ino.fragment, len(w.frags)))
		}
	}
	return &fileReader{w: w, ino: ino, pos: ino.blocksStart}, nil
}

// readDir reads a directory's listing.
func (w *Walker) readDir(ino *inode) ([]dirEntry, error) {
	if ino.fileSize <= 3 {
		return nil, nil // "." and ".." only: squashfs counts them as 3 bytes
	}
	n := ino.fileSize - 3
	if n > maxDirListing {
		return nil, corrupt(-1, fmt.Sprintf("a directory listing of %d bytes", n))
	}
	mr := w.metaReader(w.sb.dirTable+uint64(ino.dirBlock), int(ino.dirOffset))
	le := binary.LittleEndian
	var entries []dirEntry
	var hdr [12]byte
	var ent [8]byte
	for n > 0 {
		if n < 12 {
			return nil, corrupt(-1, "directory listing ends inside a header")
		}
		if err := mr.read(hdr[:]); err != nil {
			return nil, err
		}
		n -= 12
		count := le.Uint32(hdr[0:]) + 1
		start := le.Uint32(hdr[4:])
		if count > 256 {
			return nil, corrupt(-1, fmt.Sprintf("directory header of %d entries (at most 256)", count))
		}
		for range count {
			if n < 8 {
				return nil, corrupt(-1, "directory listing ends inside an entry")
			}
			if err := mr.read(ent[:]); err != nil {
				return nil, err
			}
			nameLen := uint64(le.Uint16(ent[6:])) + 1
			if nameLen > 256 || 8+nameLen > n {
				return nil, corrupt(-1, fmt.Sprintf("directory entry name of %d bytes", nameLen))
			}
			name := make([]byte, nameLen)
			if err := mr.read(name); err != nil {
				return nil, err
			}
			n -= 8 + nameLen
			s := string(name)
			if s == "." || s == ".." || containsSlash(s) {
				return nil, corrupt(-1, fmt.Sprintf("directory entry named %q", s))
			}
			entries = append(entries, dirEntry{Name: s, Ref: uint64(start)<<16 | uint64(le.Uint16(ent[0:]))})
		}
	}
	return entries, nil
}

func containsSlash(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' || s[i] == 0 {
			return true
		}
	}
	return false
}
