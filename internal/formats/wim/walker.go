package wim

import (
	"encoding/binary"
	"fmt"
	"io"
	"strconv"

	"github.com/hashr-dev/hashr/internal/formats/archive"
)

const (
	attrDirectory = 0x10
	attrReparse   = 0x400

	dentryFixed = 102 // bytes of a directory entry before its names
	streamFixed = 38  // bytes of an extra stream entry before its name
	maxDirDepth = 1024
)

// Walker walks every image of a WIM: image N's files are under "N/".
// Named (alternate) data streams are entries of their own, "file:name".
type Walker struct {
	r *Reader

	image    int    // 1-based index of the image being walked; 0 before the first
	last     int    // the last image to walk; 0 for every image
	meta     []byte // its metadata resource
	stack    []frame
	visited  map[int64]bool
	pending  []*pendingEntry // named streams of the last file, still to return
	cur      *blob
	curEmpty bool
	curHash  [20]byte // of the current file's data, for a missing blob
	curReg   bool
}

// frame is a directory being read: the offset of its next entry.
type frame struct {
	prefix string
	off    int64
}

type pendingEntry struct {
	e    *archive.Entry
	blob *blob
	zero bool
	hash [20]byte
}

// NewWalker reads the WIM in the size bytes of ra, ready to walk it.
func NewWalker(ra io.ReaderAt, size int64) (*Walker, error) {
	r, err := NewReader(ra, size)
	if err != nil {
		return nil, err
	}
	return &Walker{r: r}, nil
}

// SelectImage makes the walk cover only the image of that index (from 1),
// whose paths still start with "index/". It must come before Next.
func (w *Walker) SelectImage(index int) error {
	if w.image != 0 || len(w.stack) != 0 {
		return fmt.Errorf("wim: SelectImage after the walk began")
	}
	if index < 1 || index > len(w.r.Images) {
		return fmt.Errorf("wim: no image %d: the WIM holds %d", index, len(w.r.Images))
	}
	w.image, w.last = index-1, index
	return nil
}

// Reader returns the WIM's tables, its images' names among them.
func (w *Walker) Reader() *Reader { return w.r }

// Next returns the next entry: an image's root directory "N", then its
// files and directories, depth first in stored order.
func (w *Walker) Next() (*archive.Entry, error) {
	w.cur, w.curEmpty, w.curReg = nil, false, false
	if len(w.pending) > 0 {
		p := w.pending[0]
		w.pending = w.pending[1:]
		w.cur, w.curEmpty, w.curHash, w.curReg = p.blob, p.zero, p.hash, true
		return p.e, nil
	}
	for {
		if len(w.stack) == 0 {
			if w.image >= len(w.r.Images) || (w.last != 0 && w.image >= w.last) {
				return nil, io.EOF
			}
			if err := w.startImage(); err != nil {
				return nil, err
			}
			return &archive.Entry{Name: strconv.Itoa(w.image), Type: archive.Dir, Size: -1, Image: w.imageLabel()}, nil
		}
		top := &w.stack[len(w.stack)-1]
		d, err := w.dentry(top.off)
		if err != nil {
			return nil, err
		}
		if d == nil { // the end of the directory
			w.stack = w.stack[:len(w.stack)-1]
			continue
		}
		top.off = d.next
		if d.name == "" {
			return nil, corrupt(d.off, "directory entry without a name")
		}
		return w.entry(top.prefix, d)
	}
}

func (w *Walker) imageLabel() string { return w.r.Images[w.image-1].Label() }

// startImage reads the next image's metadata and its root directory.
func (w *Walker) startImage() error {
	w.image++
	w.meta = nil
	meta, err := w.r.readMetadata(w.image - 1)
	if err != nil {
		return fmt.Errorf("image %d: reading its metadata: %w", w.image, err)
	}
	w.meta = meta
	// The security descriptors come first; the root directory's entry
	// follows them, at an 8-byte boundary.
	if len(meta) < 8 {
		return corrupt(-1, fmt.Sprintf("image %d: metadata of %d bytes", w.image, len(meta)))
	}
	secLen := int64(binary.LittleEndian.Uint32(meta))
	if secLen < 8 {
		secLen = 8
	}
	w.visited = map[int64]bool{}
	root, err := w.dentry(align8(secLen))
	if err != nil {
		return fmt.Errorf("image %d: root directory: %w", w.image, err)
	}
	if root == nil {
		return nil // an empty image
	}
	w.stack = w.stack[:0]
	if root.subdir != 0 {
		return w.push(strconv.Itoa(w.image)+"/", root.subdir)
	}
	return nil
}

func (w *Walker) push(prefix string, off int64) error {
	if w.visited[off] {
		return corrupt(off, "directory entries loop")
	}
	if len(w.stack) >= maxDirDepth {
		return corrupt(off, fmt.Sprintf("directories nested more than %d deep", maxDirDepth))
	}
	w.visited[off] = true
	w.stack = append(w.stack, frame{prefix: prefix, off: off})
	return nil
}

// stream is one data stream of a file.
type stream struct {
	name string
	hash [20]byte
}

type dentry struct {
	off, next int64
	attr      uint32
	subdir    int64
	mtime     uint64
	name      string
	streams   []stream // the default stream first, then the extra ones
}

// dentry parses the directory entry at off, or returns nil at the end of
// a directory.
func (w *Walker) dentry(off int64) (*dentry, error) {
	m := w.meta
	if off < 0 || off+8 > int64(len(m)) {
		return nil, corrupt(off, fmt.Sprintf("image %d: directory entry beyond the metadata's end", w.image))
	}
	length := int64(binary.LittleEndian.Uint64(m[off:]))
	if length <= 8 {
		return nil, nil
	}
	if length < dentryFixed || length > int64(len(m))-off {
		return nil, corrupt(off, fmt.Sprintf("image %d: directory entry of %d bytes", w.image, length))
	}
	b := m[off : off+length]
	d := &dentry{
		off:    off,
		attr:   binary.LittleEndian.Uint32(b[8:]),
		subdir: int64(binary.LittleEndian.Uint64(b[16:])),
		mtime:  binary.LittleEndian.Uint64(b[56:]),
	}
	var def stream
	copy(def.hash[:], b[64:84])
	d.streams = append(d.streams, def)
	nExtra := int(binary.LittleEndian.Uint16(b[96:]))
	shortLen := int64(binary.LittleEndian.Uint16(b[98:]))
	nameLen := int64(binary.LittleEndian.Uint16(b[100:]))
	if dentryFixed+nameLen+shortLen > length {
		return nil, corrupt(off, fmt.Sprintf("image %d: names run past their directory entry", w.image))
	}
	d.name = decodeUTF16(b[dentryFixed : dentryFixed+nameLen])
	p := off + align8(length)
	for i := 0; i < nExtra; i++ {
		if p+streamFixed > int64(len(m)) {
			return nil, corrupt(p, fmt.Sprintf("image %d: stream entry beyond the metadata's end", w.image))
		}
		sl := int64(binary.LittleEndian.Uint64(m[p:]))
		if sl < streamFixed || sl > int64(len(m))-p {
			return nil, corrupt(p, fmt.Sprintf("image %d: stream entry of %d bytes", w.image, sl))
		}
		var s stream
		copy(s.hash[:], m[p+16:p+36])
		nl := int64(binary.LittleEndian.Uint16(m[p+36:]))
		if streamFixed+nl > sl {
			return nil, corrupt(p, fmt.Sprintf("image %d: stream name runs past its entry", w.image))
		}
		s.name = decodeUTF16(m[p+streamFixed : p+streamFixed+nl])
		d.streams = append(d.streams, s)
		p += align8(sl)
	}
	d.next = p
	return d, nil
}

// entry turns a directory entry into the walker's entries: the file or
// directory, and after it its named streams.
func (w *Walker) entry(prefix string, d *dentry) (*archive.Entry, error) {
	name := prefix + d.name
	e := &archive.Entry{Name: name, Size: -1, ModTime: filetime(d.mtime), Image: w.imageLabel()}
	if d.attr&attrDirectory != 0 && d.attr&attrReparse == 0 {
		e.Type = archive.Dir
		if d.subdir != 0 {
			if err := w.push(name+"/", d.subdir); err != nil {
				return nil, err
			}
		}
		w.queueNamed(name, d)
		return e, nil
	}
	data, ok := w.unnamedData(d)
	if d.attr&attrReparse != 0 {
		// A symbolic link or junction: its target is in reparse data, and
		// extractors do not follow it.
		e.Type = archive.Symlink
		w.queueNamed(name, d)
		return e, nil
	}
	e.Type = archive.Regular
	w.curReg, w.curHash = true, data
	if !ok || data == ([20]byte{}) {
		w.curEmpty = true
		e.Size = 0
	} else {
		b := w.r.blobs[data]
		if b != nil {
			e.Size = b.usize
		}
		w.cur = b
	}
	w.queueNamed(name, d)
	return e, nil
}

// unnamedData picks a file's data stream among its unnamed ones as wimlib
// does: the default stream when its hash is set, else the first unnamed
// extra stream; a reparse point's first such stream is its reparse data.
func (w *Walker) unnamedData(d *dentry) ([20]byte, bool) {
	skipReparse := d.attr&attrReparse != 0
	for i, s := range d.streams {
		if s.name != "" || (i == 0 && s.hash == [20]byte{}) {
			continue
		}
		if skipReparse {
			skipReparse = false
			continue
		}
		return s.hash, true
	}
	return [20]byte{}, false
}

// queueNamed queues a file's named data streams as entries "name:stream".
func (w *Walker) queueNamed(name string, d *dentry) {
	for _, s := range d.streams[1:] {
		if s.name == "" {
			continue
		}
		p := &pendingEntry{e: &archive.Entry{Name: name + ":" + s.name, Type: archive.Regular, Size: 0, ModTime: filetime(d.mtime), Image: w.imageLabel()}, hash: s.hash}
		if s.hash == ([20]byte{}) {
			p.zero = true
		} else if b := w.r.blobs[s.hash]; b != nil {
			p.blob = b
			p.e.Size = b.usize
		} else {
			p.e.Size = -1
		}
		w.pending = append(w.pending, p)
	}
}

// Open returns the current file's bytes.
func (w *Walker) Open() (io.Reader, error) {
	if !w.curReg {
		return nil, archive.ErrNotRegular
	}
	if w.curEmpty {
		return eofReader{}, nil
	}
	if w.cur == nil {
		return nil, fmt.Errorf("wim: the file's data (SHA-1 %x) is not in the WIM: a part of a split WIM, or a corrupt blob table", w.curHash)
	}
	return w.cur.open()
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

func align8(n int64) int64 { return (n + 7) &^ 7 }
