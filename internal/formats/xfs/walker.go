package xfs

import (
	"fmt"
	"io"
	"strings"

	"github.com/hashr-dev/hashr/internal/formats/archive"
	"github.com/hashr-dev/hashr/internal/formats/fstree"
)

// Walker walks an XFS file system's tree depth first, each directory's
// entries in stored order.
type Walker struct {
	fs   *fsys
	tree *fstree.Walker[uint64, uint64, *inode]
}

type dirent = fstree.Dirent[uint64]

// NewWalker opens the XFS file system in r (size bytes, -1 if unknown).
func NewWalker(r io.ReaderAt, size int64) (archive.Walker, error) {
	b := make([]byte, 512)
	if n, err := r.ReadAt(b, 0); n < len(b) {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return nil, archive.Truncated("xfs", 0, err)
	}
	sb, err := parseSuperblock(b)
	if err != nil {
		return nil, err
	}
	// ftype, sparse inodes, meta UUID, big timestamps, large extent
	// counts, exchange-range and parent pointers change nothing read here.
	if sb.incompat&^(1|2|4|8|32|64|128) != 0 {
		return nil, fmt.Errorf("xfs: incompatible features 0x%x not supported (a newer XFS than hashr reads)", sb.incompat)
	}
	f := &fsys{r: r, size: size, sb: sb, v5: sb.version&0xf == 5}
	cfg := fstree.Config{Format: "xfs", IDName: "inode", MaxDepth: maxDepth}
	tree, err := fstree.OpenRoot(cfg, fstree.FS[uint64, uint64, *inode](f), sb.root)
	if err != nil {
		return nil, err
	}
	return &Walker{fs: f, tree: tree}, nil
}

// Next returns the next entry; a broken directory or inode is a
// *archive.PartError, and the walk goes on.
func (w *Walker) Next() (*archive.Entry, error) { return w.tree.Next() }

// Node reads an inode for the walk; one of no links is free.
func (f *fsys) Node(num uint64) (fstree.Node[uint64, *inode], error) {
	ino, err := f.inode(num)
	if err != nil {
		return fstree.Node[uint64, *inode]{}, err
	}
	return fstree.UnixNode(num, ino, uint32(ino.mode), uint32(ino.links), uint64(ino.size), ino.mtime), nil
}

// Open returns the current regular file's bytes.
func (w *Walker) Open() (io.Reader, error) {
	cur := w.tree.Current()
	if cur == nil {
		return nil, archive.ErrNotRegular
	}
	return w.fs.open(cur)
}

// Symlink reads a symlink's target.
func (f *fsys) Symlink(ino *inode) (string, error) {
	if ino.size > 1024 {
		return "", corrupt(-1, fmt.Sprintf("symlink inode %d of %d bytes", ino.num, ino.size))
	}
	if ino.format == fmtLocal {
		r, err := f.open(ino)
		if err != nil {
			return "", err
		}
		b, err := io.ReadAll(r)
		return string(b), err
	}
	ext, err := f.extents(ino)
	if err != nil {
		return "", err
	}
	var out []byte
	for _, e := range ext {
		for i := range min(e.count, 4) {
			off, err := f.fsbOffset(e.fsb + i)
			if err != nil {
				return "", err
			}
			b := make([]byte, f.sb.blockSize)
			if err := f.readAt(b, off); err != nil {
				return "", err
			}
			if string(b[:4]) == "XSLM" { // v5 remote symlink block header
				n := min(int(be.Uint32(b[8:])), len(b)-56)
				b = b[56 : 56+max(n, 0)]
			}
			out = append(out, b...)
		}
	}
	if uint64(len(out)) < ino.size {
		return "", corrupt(-1, fmt.Sprintf("symlink inode %d: target shorter than its size", ino.num))
	}
	return string(out[:ino.size]), nil
}

// ReadDir reads a directory's entries: short form in the inode, or data
// blocks (block, leaf and node directories all keep their entries in
// data blocks below the 32 GiB offset).
func (f *fsys) ReadDir(ino *inode) ([]dirent, error) {
	if ino.format == fmtLocal {
		return f.shortDir(ino)
	}
	// The size of a block, leaf or node directory is that of its data
	// blocks: no data block lies beyond it.
	if ino.size > maxDirBytes {
		return nil, corrupt(-1, fmt.Sprintf("directory inode %d of %d bytes", ino.num, ino.size))
	}
	ext, err := f.extents(ino)
	if err != nil {
		return nil, err
	}
	bs := f.sb.blockSize
	dirBlk := bs << f.sb.dirBlkLog
	fsbPer := uint64(1) << f.sb.dirBlkLog
	var out []dirent
	blocks := 0
	buf := make([]byte, dirBlk)
	last := ^uint64(0)
	for _, e := range ext {
		for l := e.logical; l < e.logical+e.count && l*bs < min(dirLeafStart, ino.size); l++ {
			db := l / fsbPer
			if db == last {
				continue
			}
			last = db
			blocks++
			if uint64(blocks)*dirBlk > maxDirBytes {
				return out, corrupt(-1, fmt.Sprintf("directory inode %d of more than %d bytes of blocks", ino.num, maxDirBytes))
			}
			if err := f.readLogical(ext, db*dirBlk, buf); err != nil {
				return out, err
			}
			if err := f.parseDataBlock(buf, ino, &out); err != nil {
				return out, err
			}
		}
	}
	return out, nil
}

// readLogical fills p with the bytes at logical offset off of a file.
func (f *fsys) readLogical(ext []extent, off uint64, p []byte) error {
	r := f.blocks(ext, off+uint64(len(p)))
	r.Pos = off
	_, err := io.ReadFull(r, p)
	return err
}

func (f *fsys) parseDataBlock(b []byte, dir *inode, out *[]dirent) error {
	hdr, end := 64, len(b)
	switch string(b[:4]) {
	case "XDB3":
		count := int(be.Uint32(b[len(b)-8:]))
		end = len(b) - 8 - 8*count
	case "XDD3":
	case "XD2B":
		hdr = 16
		count := int(be.Uint32(b[len(b)-8:]))
		end = len(b) - 8 - 8*count
	case "XD2D":
		hdr = 16
	default:
		return corrupt(-1, fmt.Sprintf("directory inode %d: data block without its magic number", dir.num))
	}
	if end < hdr {
		return corrupt(-1, fmt.Sprintf("directory inode %d: block's leaf entries overrun its data", dir.num))
	}
	for p := hdr; p+8 <= end; {
		if be.Uint16(b[p:]) == 0xffff { // unused space
			n := int(be.Uint16(b[p+2:]))
			if n < 8 || n%8 != 0 || p+n > end {
				return corrupt(-1, fmt.Sprintf("directory inode %d: free space of %d bytes at %d", dir.num, n, p))
			}
			p += n
			continue
		}
		if p+9 > end {
			return corrupt(-1, fmt.Sprintf("directory inode %d: entry runs past its block", dir.num))
		}
		inum := be.Uint64(b[p:])
		nameLen := int(b[p+8])
		size := 8 + 1 + nameLen + 2
		if f.sb.ftype {
			size++
		}
		size = (size + 7) &^ 7
		if nameLen == 0 || p+size > end {
			return corrupt(-1, fmt.Sprintf("directory inode %d: entry of a %d-byte name at %d", dir.num, nameLen, p))
		}
		name := string(b[p+9 : p+9+nameLen])
		if err := checkName(dir, name); err != nil {
			return err
		}
		*out = append(*out, dirent{Name: name, Ref: inum})
		p += size
	}
	return nil
}

func checkName(dir *inode, name string) error {
	if strings.ContainsRune(name, '/') || strings.ContainsRune(name, 0) {
		return corrupt(-1, fmt.Sprintf("directory inode %d: a name with '/' or NUL: %q", dir.num, name))
	}
	return nil
}

// shortDir reads a short-form directory, kept in the inode.
func (f *fsys) shortDir(ino *inode) ([]dirent, error) {
	b := ino.fork
	if len(b) < 6 {
		return nil, corrupt(-1, fmt.Sprintf("directory inode %d: short form header does not fit", ino.num))
	}
	count, i8 := int(b[0]), b[1]
	inoSize := 4
	if i8 > 0 { // then every inode number takes 8 bytes
		inoSize = 8
	}
	p := 2 + inoSize
	var out []dirent
	for range count {
		if p+3 > len(b) {
			return out, corrupt(-1, fmt.Sprintf("directory inode %d: short form entry past the fork", ino.num))
		}
		nameLen := int(b[p])
		q := p + 3 + nameLen
		if f.sb.ftype {
			q++
		}
		if nameLen == 0 || q+inoSize > len(b) {
			return out, corrupt(-1, fmt.Sprintf("directory inode %d: short form entry past the fork", ino.num))
		}
		name := string(b[p+3 : p+3+nameLen])
		if err := checkName(ino, name); err != nil {
			return out, err
		}
		var inum uint64
		if inoSize == 8 {
			inum = be.Uint64(b[q:])
		} else {
			inum = uint64(be.Uint32(b[q:]))
		}
		out = append(out, dirent{Name: name, Ref: inum})
		p = q + inoSize
	}
	return out, nil
}
