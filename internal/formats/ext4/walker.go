package ext4

import (
	"encoding/binary"
	"fmt"
	"io"
	"strings"

	"github.com/hashr-dev/hashr/internal/formats/archive"
	"github.com/hashr-dev/hashr/internal/formats/fstree"
)

// Walker walks an ext2/3/4 file system's tree depth first, each
// directory's entries in stored order.
type Walker struct {
	fs      *fsys
	pending []*archive.Entry // system files, yielded first
	system  map[string]uint32
	tree    *fstree.Walker[uint32, uint32, *inode]
	cur     *inode
}

type dirent = fstree.Dirent[uint32]

// NewWalker opens the file system in r (size bytes, or -1 when unknown).
func NewWalker(r io.ReaderAt, size int64) (archive.Walker, error) {
	b := make([]byte, 1024)
	n, err := r.ReadAt(b, superblockOffset)
	if n < len(b) {
		return nil, archive.Truncated("ext4", superblockOffset, orEOF(err))
	}
	sb, err := parseSuperblock(b, size)
	if err != nil {
		return nil, err
	}
	switch {
	case sb.incompat&incompatJournalDev != 0:
		return nil, fmt.Errorf("ext4: an external journal device, which holds no files")
	case sb.incompat&incompatCompression != 0:
		return nil, fmt.Errorf("ext4: compressed (an old ext2 patch): %w", archive.ErrUnsupportedMethod)
	}
	// A file system bigger than its image is truncated: reads of the
	// missing part fail, each for its file (fsys.readAt).
	w := &Walker{fs: &fsys{r: r, size: size, sb: sb}, system: map[string]uint32{}}
	if sb.compat&compatHasJournal != 0 && sb.journalInode != 0 {
		w.pending = append(w.pending, &archive.Entry{Name: "$journal", Type: archive.Regular, System: true, Size: -1})
		w.system["$journal"] = sb.journalInode
	}
	w.tree, err = fstree.OpenRoot(fstree.Config{Format: "ext4", IDName: "inode", MaxDepth: maxDepth}, fstree.FS[uint32, uint32, *inode](w.fs), rootInode)
	if err != nil {
		return nil, err
	}
	return w, nil
}

func orEOF(err error) error {
	if err == nil {
		return io.ErrUnexpectedEOF
	}
	return err
}

// FileSystem says which of ext2, ext3 and ext4 this is.
func (w *Walker) FileSystem() string { return w.fs.sb.kind() }

// Note says what a reader of the files should know: a journal that was
// not replayed (an image of a running system) may hold the last writes.
func (w *Walker) Note() string {
	if w.fs.sb.incompat&incompatRecover != 0 {
		return "its journal was not replayed (not cleanly unmounted): the last writes may be missing"
	}
	return ""
}

// Next returns the next entry. A directory or file whose structures are
// broken is a *archive.PartError, and the walk goes on past it.
func (w *Walker) Next() (*archive.Entry, error) {
	w.cur = nil
	if len(w.pending) > 0 {
		e := w.pending[0]
		w.pending = w.pending[1:]
		ino, err := w.fs.inode(w.system[e.Name])
		if err != nil {
			return nil, &archive.PartError{Path: e.Name, Err: err}
		}
		w.cur = ino
		e.Size = int64(ino.size)
		return e, nil
	}
	e, err := w.tree.Next()
	w.cur = w.tree.Current()
	return e, err
}

// Node reads an inode for the walk; one of no links is free.
func (f *fsys) Node(num uint32) (fstree.Node[uint32, *inode], error) {
	ino, err := f.inode(num)
	if err != nil {
		return fstree.Node[uint32, *inode]{}, err
	}
	return fstree.UnixNode(num, ino, uint32(ino.mode), uint32(ino.links), uint64(ino.size), ino.mtime), nil
}

// Open returns the current regular file's bytes.
func (w *Walker) Open() (io.Reader, error) {
	if w.cur == nil {
		return nil, archive.ErrNotRegular
	}
	return w.fs.open(w.cur)
}

// Symlink reads a symlink's target: in i_block when short ("fast"
// symlinks), else in its data.
func (f *fsys) Symlink(ino *inode) (string, error) {
	if ino.size > 4096 {
		return "", corrupt(-1, fmt.Sprintf("symlink inode %d of %d bytes", ino.num, ino.size))
	}
	if ino.size < 60 && ino.flags&(flagExtents|flagInlineData) == 0 {
		return string(ino.iblock[:ino.size]), nil
	}
	r, err := f.open(ino)
	if err != nil {
		return "", err
	}
	b, err := io.ReadAll(r)
	return string(b), err
}

// ReadDir reads a directory's entries in stored order.
func (f *fsys) ReadDir(ino *inode) ([]dirent, error) {
	if ino.flags&flagEncrypt != 0 {
		return nil, errEncrypted
	}
	if ino.size > maxDirBytes {
		return nil, corrupt(-1, fmt.Sprintf("directory inode %d of %d bytes", ino.num, ino.size))
	}
	var out []dirent
	if ino.flags&flagInlineData != 0 {
		data, err := f.inlineData(ino)
		if err != nil {
			return nil, err
		}
		if len(data) < 4 {
			return nil, nil
		}
		// The parent's inode number, then entries to the end of i_block,
		// then more in the extended attribute.
		if err := f.parseDirBlock(data[4:min(60, len(data))], ino, &out); err != nil {
			return out, err
		}
		if len(data) > 60 {
			if err := f.parseDirBlock(data[60:], ino, &out); err != nil {
				return out, err
			}
		}
		return out, nil
	}
	r, err := f.open(ino)
	if err != nil {
		return nil, err
	}
	block := make([]byte, f.sb.blockSize)
	for {
		n, err := io.ReadFull(r, block)
		if n > 0 {
			if perr := f.parseDirBlock(block[:n], ino, &out); perr != nil {
				return out, perr
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

// parseDirBlock appends the entries of one directory block. Hash-tree
// directories read the same way: their index hides in entries of inode 0.
func (f *fsys) parseDirBlock(b []byte, dir *inode, out *[]dirent) error {
	le := binary.LittleEndian
	filetype := f.sb.incompat&incompatFiletype != 0
	for off := 0; off+8 <= len(b); {
		inum := le.Uint32(b[off:])
		recLen := int(le.Uint16(b[off+4:]))
		nameLen := int(b[off+6])
		if !filetype {
			nameLen = int(le.Uint16(b[off+6:]))
		}
		if recLen == 0 && inum == 0 && len(b)-off < int(f.sb.blockSize) && dir.flags&flagInlineData != 0 {
			return nil // unused tail of inline data
		}
		if recLen < 8 || off+recLen > len(b) || 8+nameLen > recLen {
			return corrupt(-1, fmt.Sprintf("directory inode %d: broken entry (length %d, name of %d bytes) at byte %d of a block", dir.num, recLen, nameLen, off))
		}
		if inum != 0 && nameLen > 0 {
			name := string(b[off+8 : off+8+nameLen])
			if strings.ContainsRune(name, '/') || strings.ContainsRune(name, 0) {
				return corrupt(-1, fmt.Sprintf("directory inode %d: a name with '/' or NUL: %q", dir.num, name))
			}
			*out = append(*out, dirent{Name: name, Ref: inum})
		}
		off += recLen
	}
	return nil
}
