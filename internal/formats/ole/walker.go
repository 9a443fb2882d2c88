package ole

import (
	"io"

	"github.com/hashr-dev/hashr/internal/formats/archive"
)

// Walker walks the streams of a compound file, depth first, storages as
// directories.
type Walker struct {
	f       *File
	stack   []item
	visited map[uint32]bool
	cur     *entry
}

type item struct {
	id     uint32
	prefix string
}

// NewWalker opens the compound file in the size bytes of ra.
func NewWalker(ra io.ReaderAt, size int64) (*Walker, error) {
	f, err := Open(ra, size)
	if err != nil {
		return nil, err
	}
	w := &Walker{f: f, visited: map[uint32]bool{0: true}}
	w.push(f.entries[0].child, "")
	return w, nil
}

// push queues the entry id, the root of a storage's tree of children.
func (w *Walker) push(id uint32, prefix string) {
	if id != noStream {
		w.stack = append(w.stack, item{id, prefix})
	}
}

// Next returns the next stream or storage.
func (w *Walker) Next() (*archive.Entry, error) {
	w.cur = nil
	for len(w.stack) > 0 {
		it := w.stack[len(w.stack)-1]
		w.stack = w.stack[:len(w.stack)-1]
		if int(it.id) >= len(w.f.entries) {
			return nil, corrupt(-1, "directory entry out of range")
		}
		if w.visited[it.id] {
			return nil, corrupt(-1, "directory entries loop")
		}
		w.visited[it.id] = true
		e := &w.f.entries[it.id]
		// Siblings are a tree: the right one after this entry's subtree,
		// the left one first.
		w.push(e.right, it.prefix)
		name := it.prefix + w.f.streamName(e)
		switch e.typ {
		case typeStorage:
			w.push(e.child, name+"/")
			w.push(e.left, it.prefix)
			return &archive.Entry{Name: name, Type: archive.Dir, Size: -1, ModTime: e.mtime}, nil
		case typeStream:
			w.push(e.left, it.prefix)
			w.cur = e
			return &archive.Entry{Name: name, Type: archive.Regular, Size: e.size, ModTime: e.mtime}, nil
		default:
			w.push(e.left, it.prefix)
		}
	}
	return nil, io.EOF
}

// Open returns the current stream's bytes.
func (w *Walker) Open() (io.Reader, error) {
	if w.cur == nil {
		return nil, archive.ErrNotRegular
	}
	return w.f.open(w.cur)
}
