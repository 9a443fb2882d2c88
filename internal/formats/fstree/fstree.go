// Package fstree is the one directory-tree walk of the file system
// readers (ext4, xfs, squashfs, udf, fat, exfat): the stack of
// directories, depth first, each directory's entries in stored order; and
// one policy for what a hostile image can do to a tree. A reader supplies
// only how to read an inode and a directory (FS); the walk decides:
//
//   - a directory met a second time (a directory loop: one that contains
//     itself or an ancestor, or a second name of a directory) is an
//     *archive.PartError for that directory, which is not walked again,
//     and the walk goes on with the rest of the volume;
//   - so is a directory nested deeper than Config.MaxDepth, an inode or a
//     directory that cannot be read, and a symlink whose target cannot;
//   - a regular file of several names is listed once as Regular, under
//     the first name met, then as Hardlinks to that name;
//   - more than Config.MaxEntries entries end the walk (an error, not a
//     part error: no real volume comes near).
//
// iso9660 (directory records that are their own inodes, Rock Ridge
// relocations) and ntfs (walked in MFT order, each file's path built from
// its parent references) keep their own walks under the same loop policy.
// TestDirectoryLoop runs the policy over all eight readers.
package fstree

import (
	"fmt"
	"io"
	"time"

	"github.com/hashr-dev/hashr/internal/formats/archive"
)

// Dirent is one name in a directory and what the reader needs to read
// the inode it names (an inode number, a metadata reference, or the
// directory entry itself where, as on FAT, the entry is the inode).
type Dirent[R any] struct {
	Name string
	Ref  R
}

// Node is an inode as the walk needs it.
type Node[K comparable, I any] struct {
	// ID names the inode in the volume: a directory's ID met again is a
	// loop, a regular file's met again a hard link.
	ID K
	// Inode is the reader's own, handed back to ReadDir and Symlink, and
	// returned by Next for a regular file.
	Inode I
	// Entry is the entry without its Name: Type (Dir, Regular, Symlink or
	// Other), mode, time, and the size of a regular file.
	Entry archive.Entry
	// Links is how many names the inode has: a regular file of more than
	// one may be met again.
	Links uint32
	// Free marks an inode no longer in use (no links left): skipped.
	Free bool
	// Empty marks a directory with nothing to read (exFAT's without a
	// cluster): listed, not entered.
	Empty bool
}

// FS reads one file system's inodes and directories.
type FS[R any, K comparable, I any] interface {
	// Node reads the inode a directory entry names.
	Node(ref R) (Node[K, I], error)
	// ReadDir reads a directory's entries, in stored order; "." and ".."
	// among them are left out of the walk.
	ReadDir(dir I) ([]Dirent[R], error)
	// Symlink reads a symlink's target.
	Symlink(link I) (string, error)
}

// Config names the file system in errors and bounds a walk of a hostile
// image.
type Config struct {
	Format     string // "ext4", "fat", …
	IDName     string // what a Node's ID is, in errors: "inode", "cluster", …
	MaxDepth   int    // directories nested deeper are part errors
	MaxEntries int    // entries of the whole walk; 0 for no limit
}

// Walker walks one volume.
type Walker[R any, K comparable, I any] struct {
	fs    FS[R, K, I]
	cfg   Config
	stack DirStack[Dirent[R]]
	dirs  map[K]bool   // directories entered: met again, a loop
	links map[K]string // regular files of several names: first path
	count int
	cur   I // the regular file Next returned last
}

// New starts a walk of the tree whose root directory is the inode root,
// holding entries.
func New[R any, K comparable, I any](cfg Config, fs FS[R, K, I], root K, entries []Dirent[R]) *Walker[R, K, I] {
	w := &Walker[R, K, I]{fs: fs, cfg: cfg, dirs: map[K]bool{root: true}, links: map[K]string{}}
	w.stack.Push("", entries)
	return w
}

// OpenRoot starts a walk at the root directory, the inode fs reads for
// root (whose ID is the directory's), which must be a directory: how the
// readers of Unix file systems, whose root is an inode, begin.
func OpenRoot[R any, K comparable, I any](cfg Config, fs FS[R, K, I], root R) (*Walker[R, K, I], error) {
	n, err := fs.Node(root)
	if err != nil {
		return nil, fmt.Errorf("reading the root directory: %w", err)
	}
	if n.Entry.Type != archive.Dir {
		return nil, archive.Corrupt(cfg.Format, -1, "the root inode is not a directory")
	}
	entries, err := fs.ReadDir(n.Inode)
	if err != nil {
		return nil, fmt.Errorf("reading the root directory: %w", err)
	}
	return New(cfg, fs, n.ID, entries), nil
}

// Current returns the inode of the regular file Next returned last; the
// zero I after any other entry.
func (w *Walker[R, K, I]) Current() I { return w.cur }

// Next returns the next entry. A directory, inode or symlink that cannot
// be read is a *archive.PartError for its path; call Next again for the
// rest.
func (w *Walker[R, K, I]) Next() (*archive.Entry, error) {
	var none I
	w.cur = none
	for {
		dir, de, ok := w.stack.Next()
		if !ok {
			return nil, io.EOF
		}
		if de.Name == "." || de.Name == ".." {
			continue
		}
		if w.count++; w.cfg.MaxEntries > 0 && w.count > w.cfg.MaxEntries {
			return nil, archive.Corrupt(w.cfg.Format, -1, fmt.Sprintf("more than %d entries", w.cfg.MaxEntries))
		}
		p := de.Name
		if dir != "" {
			p = dir + "/" + de.Name
		}
		n, err := w.fs.Node(de.Ref)
		if err != nil {
			return nil, &archive.PartError{Path: p, Err: err}
		}
		if n.Free {
			continue
		}
		e := n.Entry
		e.Name = p
		if err := w.entry(&e, &n); err != nil {
			return nil, &archive.PartError{Path: p, Err: err}
		}
		if e.Type == archive.Regular {
			w.cur = n.Inode
		}
		return &e, nil
	}
}

// entry completes e by its type: enters a directory, reads a symlink's
// target, turns a regular file met before into a hard link.
func (w *Walker[R, K, I]) entry(e *archive.Entry, n *Node[K, I]) error {
	switch e.Type {
	case archive.Dir:
		return w.enter(e.Name, n)
	case archive.Regular:
		if n.Links > 1 {
			if first, ok := w.links[n.ID]; ok {
				e.Type, e.Linkname, e.Size = archive.Hardlink, first, -1
				return nil
			}
			w.links[n.ID] = e.Name
		}
	case archive.Symlink:
		target, err := w.fs.Symlink(n.Inode)
		if err != nil {
			return err
		}
		e.Linkname = target
	}
	return nil
}

// enter pushes directory p's entries, after the loop and depth checks.
func (w *Walker[R, K, I]) enter(p string, n *Node[K, I]) error {
	if n.Empty {
		return nil
	}
	if w.dirs[n.ID] {
		return archive.Corrupt(w.cfg.Format, -1, fmt.Sprintf("directory %s %v is already in the tree: a directory loop, not walked again", w.cfg.IDName, n.ID))
	}
	if w.stack.Depth() >= w.cfg.MaxDepth {
		return archive.Corrupt(w.cfg.Format, -1, fmt.Sprintf("directories nested more than %d deep", w.cfg.MaxDepth))
	}
	w.dirs[n.ID] = true
	entries, err := w.fs.ReadDir(n.Inode)
	if err != nil {
		return err
	}
	w.stack.Push(p, entries)
	return nil
}

// UnixNode describes the inode of a Unix file system (ext4, xfs) from
// its mode word (type and permission bits, as in st_mode), link count,
// size and time; an inode of no links is free.
func UnixNode[K comparable, I any](id K, ino I, mode uint32, links uint32, size uint64, mtime time.Time) Node[K, I] {
	n := Node[K, I]{ID: id, Inode: ino, Links: links, Free: links == 0,
		Entry: archive.Entry{Size: -1, Mode: archive.UnixMode(uint64(mode)), ModeKnown: true, ModTime: mtime}}
	switch mode & 0o170000 { // S_IFMT
	case 0o040000:
		n.Entry.Type = archive.Dir
	case 0o100000:
		n.Entry.Type, n.Entry.Size = archive.Regular, int64(size)
	case 0o120000:
		n.Entry.Type = archive.Symlink
	default:
		n.Entry.Type = archive.Other
	}
	return n
}

// ReadAt fills p from offset off of a file system of size bytes (-1 when
// unknown) in r: a read past its end is corrupt (the image is truncated,
// or a block number lies), a short read is archive.Truncated.
func ReadAt(r io.ReaderAt, size int64, format string, p []byte, off int64) error {
	if off < 0 || (size >= 0 && off+int64(len(p)) > size) {
		return archive.Corrupt(format, off, fmt.Sprintf("read of %d bytes past the end of the file system (%d bytes): truncated image?", len(p), size))
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
