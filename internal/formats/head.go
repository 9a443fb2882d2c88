package formats

import (
	"io"
	"sync"
)

// HeadSize is how much of a file's start a detector sees: enough for the
// ISO 9660 and UDF volume descriptors at 32 KiB and after.
const HeadSize = 64 << 10

// tailSize is how much of a file's end a detector sees: a VHD footer.
const tailSize = 512

// Head is what a detector looks at: a file's first bytes and last bytes,
// and, for the file systems whose reader probes its own superblock, the
// file itself (ReadAt serves what the head holds from it, without a read).
type Head struct {
	Head []byte // the first HeadSize bytes, or fewer for a small file
	Tail []byte // the last tailSize bytes; nil when the size is unknown
	Size int64  // the file's size; below zero when unknown
	r    io.ReaderAt
	buf  *[]byte
}

// ReadHead reads the head and tail of the size bytes of r (size below
// zero: unknown, and the tail is not read). Release gives its buffer
// back once the detectors are done.
func ReadHead(r io.ReaderAt, size int64) *Head {
	buf := headBuffers.Get().(*[]byte)
	h := &Head{Size: size, r: r, buf: buf}
	h.Head = readAtMost(r, 0, *buf, size)
	if size >= tailSize {
		h.Tail = readAtMost(r, size-tailSize, make([]byte, tailSize), size)
	}
	return h
}

// HeadOf is the Head of a file's first bytes alone, its size unknown.
func HeadOf(head []byte) *Head {
	return &Head{Head: head, Size: -1, r: emptyReaderAt{}}
}

// Release gives the head's buffer back for the next file.
func (h *Head) Release() {
	if h.buf != nil {
		headBuffers.Put(h.buf)
		h.buf, h.Head = nil, nil
	}
}

// ReadAt reads the file: from the head when it holds those bytes.
func (h *Head) ReadAt(p []byte, off int64) (int, error) {
	if off >= 0 && off+int64(len(p)) <= int64(len(h.Head)) {
		return copy(p, h.Head[off:]), nil
	}
	return h.r.ReadAt(p, off)
}

type emptyReaderAt struct{}

func (emptyReaderAt) ReadAt([]byte, int64) (int, error) { return 0, io.EOF }

// headBuffers recycles the HeadSize buffers: a scan detects the format of
// every file it walks, and most are not sources.
var headBuffers = sync.Pool{New: func() any { b := make([]byte, HeadSize); return &b }}

// readAtMost reads up to len(buf) bytes at off into buf, fewer at the end
// of the file, and returns what it read.
func readAtMost(r io.ReaderAt, off int64, buf []byte, size int64) []byte {
	if size >= 0 && off+int64(len(buf)) > size {
		buf = buf[:max(size-off, 0)]
	}
	got, _ := r.ReadAt(buf, off)
	return buf[:got]
}

// At returns the n bytes at off in b, or nil when b is too short.
func At(b []byte, off, n int) []byte {
	if off < 0 || n < 0 || off+n > len(b) {
		return nil
	}
	return b[off : off+n]
}

// HasAt reports whether b holds s at off.
func HasAt(b []byte, off int, s string) bool {
	return string(At(b, off, len(s))) == s && len(s) > 0
}

// GetHeadBuffer lends a HeadSize buffer (a compressed file's decompressed
// head, in package magic); PutHeadBuffer takes it back.
func GetHeadBuffer() *[]byte { return headBuffers.Get().(*[]byte) }

// PutHeadBuffer takes back a buffer of GetHeadBuffer.
func PutHeadBuffer(b *[]byte) { headBuffers.Put(b) }
