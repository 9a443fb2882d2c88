package wim

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
)

// resource is one stretch of the file holding data, stored raw or as
// independently compressed chunks: a non-solid resource holds one blob, a
// solid one many.
type resource struct {
	ra        io.ReaderAt
	offset    int64 // of the resource in the file
	usize     int64
	comp      compression
	chunkSize int
	// chunks[i] is where chunk i starts, from dataStart; chunks[n] is the
	// end of the last chunk. Nil for a resource stored raw.
	chunks    []int64
	dataStart int64
}

// rawResource is a resource stored uncompressed.
func rawResource(ra io.ReaderAt, h reshdr) *resource {
	return &resource{ra: ra, offset: h.offset, usize: h.usize, dataStart: h.offset}
}

// openResource reads the chunk table of a non-solid resource.
func openResource(ra io.ReaderAt, h reshdr, comp compression, chunkSize int, fileSize int64) (*resource, error) {
	if h.offset < 0 || h.sizeInWIM < 0 || h.offset > fileSize || h.sizeInWIM > fileSize-h.offset {
		return nil, corrupt(h.offset, fmt.Sprintf("resource of %d bytes at %d is beyond the file's end (%d bytes): truncated?", h.sizeInWIM, h.offset, fileSize))
	}
	if h.usize < 0 {
		return nil, corrupt(h.offset, "negative resource size")
	}
	if h.flags&resCompressed == 0 || comp == compNone {
		if h.sizeInWIM != h.usize {
			return nil, corrupt(h.offset, fmt.Sprintf("uncompressed resource of %d bytes stores %d", h.usize, h.sizeInWIM))
		}
		return rawResource(ra, h), nil
	}
	if err := decodable(comp, chunkSize); err != nil {
		return nil, err
	}
	r := &resource{ra: ra, offset: h.offset, usize: h.usize, comp: comp, chunkSize: chunkSize}
	if h.usize == 0 {
		r.chunks = []int64{0}
		r.dataStart = h.offset
		return r, nil
	}
	n := (h.usize + int64(chunkSize) - 1) / int64(chunkSize)
	entry := int64(4)
	if h.usize > 0xffffffff {
		entry = 8
	}
	tableSize := (n - 1) * entry
	if tableSize > h.sizeInWIM {
		return nil, corrupt(h.offset, fmt.Sprintf("chunk table of %d chunks does not fit the resource's %d bytes", n, h.sizeInWIM))
	}
	table := make([]byte, tableSize)
	if _, err := ra.ReadAt(table, h.offset); err != nil {
		return nil, corruptRead(h.offset, err)
	}
	r.dataStart = h.offset + tableSize
	dataSize := h.sizeInWIM - tableSize
	r.chunks = make([]int64, n+1)
	for i := int64(1); i < n; i++ {
		var v int64
		if entry == 4 {
			v = int64(binary.LittleEndian.Uint32(table[(i-1)*4:]))
		} else {
			v = int64(binary.LittleEndian.Uint64(table[(i-1)*8:]))
		}
		r.chunks[i] = v
	}
	r.chunks[n] = dataSize
	if err := r.checkChunks(); err != nil {
		return nil, err
	}
	return r, nil
}

// openSolid reads a solid resource's own header and chunk table.
func openSolid(ra io.ReaderAt, h reshdr, fileSize int64) (*resource, error) {
	if h.offset < 0 || h.sizeInWIM < 16 || h.offset > fileSize || h.sizeInWIM > fileSize-h.offset {
		return nil, corrupt(h.offset, fmt.Sprintf("solid resource of %d bytes at %d is beyond the file's end (%d bytes): truncated?", h.sizeInWIM, h.offset, fileSize))
	}
	var hb [16]byte
	if _, err := ra.ReadAt(hb[:], h.offset); err != nil {
		return nil, corruptRead(h.offset, err)
	}
	usize := int64(binary.LittleEndian.Uint64(hb[0:]))
	chunkSize := int(binary.LittleEndian.Uint32(hb[8:]))
	comp := compression(binary.LittleEndian.Uint32(hb[12:]))
	if usize < 0 || chunkSize <= 0 || chunkSize > maxChunkSize || chunkSize&(chunkSize-1) != 0 {
		return nil, corrupt(h.offset, fmt.Sprintf("solid resource of %d bytes in chunks of %d", usize, chunkSize))
	}
	if comp > compLZMS {
		return nil, corrupt(h.offset+12, comp.String())
	}
	if err := decodable(comp, chunkSize); err != nil {
		return nil, err
	}
	n := (usize + int64(chunkSize) - 1) / int64(chunkSize)
	if n*4 > h.sizeInWIM-16 {
		return nil, corrupt(h.offset, fmt.Sprintf("chunk table of %d chunks does not fit the resource's %d bytes", n, h.sizeInWIM))
	}
	table := make([]byte, n*4)
	if _, err := ra.ReadAt(table, h.offset+16); err != nil {
		return nil, corruptRead(h.offset, err)
	}
	r := &resource{ra: ra, offset: h.offset, usize: usize, comp: comp, chunkSize: chunkSize,
		dataStart: h.offset + 16 + n*4, chunks: make([]int64, n+1)}
	for i := int64(0); i < n; i++ {
		r.chunks[i+1] = r.chunks[i] + int64(binary.LittleEndian.Uint32(table[i*4:]))
	}
	if r.chunks[n] > h.sizeInWIM-16-n*4 {
		return nil, corrupt(h.offset, "chunks run past the solid resource's end")
	}
	if err := r.checkChunks(); err != nil {
		return nil, err
	}
	return r, nil
}

// decodable says whether this package decodes comp in chunks of
// chunkSize, or the file needs wimlib-imagex.
func decodable(comp compression, chunkSize int) error {
	switch comp {
	case compNone:
		return nil
	case compXPRESS:
		if chunkSize <= 65536 {
			return nil
		}
	case compLZX:
		if chunkSize == 32768 {
			return nil
		}
	}
	return fmt.Errorf("%w: %s in chunks of %d bytes", ErrNeedsWimlib, comp, chunkSize)
}

// checkChunks checks that the chunks follow each other and that none is
// larger than what it decodes to.
func (r *resource) checkChunks() error {
	for i := 0; i+1 < len(r.chunks); i++ {
		c := r.chunks[i+1] - r.chunks[i]
		if c <= 0 && r.usize > 0 || c > int64(r.chunkUsize(i)) {
			return corrupt(r.dataStart+r.chunks[i], fmt.Sprintf("chunk %d of %d stored bytes decodes to %d", i, c, r.chunkUsize(i)))
		}
	}
	return nil
}

// chunkUsize is the uncompressed size of chunk i.
func (r *resource) chunkUsize(i int) int {
	last := len(r.chunks) - 2
	if i < last {
		return r.chunkSize
	}
	return int(r.usize - int64(last)*int64(r.chunkSize))
}

func corruptRead(offset int64, err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return corrupt(offset, "truncated")
	}
	return fmt.Errorf("reading the WIM at byte %d: %w", offset, err)
}

// decoder decodes chunks of one resource, keeping the last one decoded:
// small blobs of a solid resource share their chunks.
type decoder struct {
	r      *resource
	cached int // index of the chunk in out, -1 for none
	out    []byte
	in     []byte
	// Made on the first chunk that needs them: a decoder is made per
	// blob read, most of them of one chunk or stored raw.
	xp  *xpressDecoder
	lzx *lzxDecoder
}

func newDecoder(r *resource) *decoder { return &decoder{r: r, cached: -1} }

// chunk returns the uncompressed bytes of chunk i.
func (d *decoder) chunk(i int) ([]byte, error) {
	if d.cached == i {
		return d.out, nil
	}
	r := d.r
	usize := r.chunkUsize(i)
	csize := int(r.chunks[i+1] - r.chunks[i])
	off := r.dataStart + r.chunks[i]
	if cap(d.in) < csize {
		d.in = make([]byte, csize)
	}
	in := d.in[:csize]
	if _, err := r.ra.ReadAt(in, off); err != nil {
		return nil, corruptRead(off, err)
	}
	if cap(d.out) < usize+lzxSlack {
		d.out = make([]byte, usize, usize+lzxSlack)
	}
	out := d.out[:usize]
	d.cached = -1
	if csize == usize {
		copy(out, in) // stored uncompressed: compression did not pay
	} else if err := d.decodeChunk(in, out); err != nil {
		return nil, corrupt(off, fmt.Sprintf("%s chunk %d: %v", r.comp, i, err))
	}
	d.out, d.cached = out, i
	return out, nil
}

// decodeChunk decodes one compressed chunk into out, which it fills.
func (d *decoder) decodeChunk(in, out []byte) error {
	switch d.r.comp {
	case compXPRESS:
		if d.xp == nil {
			d.xp = new(xpressDecoder)
		}
		return d.xp.decode(in, out)
	case compLZX:
		if d.lzx == nil {
			d.lzx = new(lzxDecoder)
		}
		return d.lzx.decode(in, out)
	}
	return fmt.Errorf("%w: %s", ErrNeedsWimlib, d.r.comp)
}

// rangeReader reads n uncompressed bytes of a resource from off.
type rangeReader struct {
	r   *resource
	d   *decoder // from decoderPool, while reading
	a   *ahead   // instead of d, for reads of many chunks
	off int64
	end int64
}

func (r *resource) reader(off, n int64) (io.Reader, error) {
	if off < 0 || n < 0 || off > r.usize || n > r.usize-off {
		return nil, corrupt(r.offset, fmt.Sprintf("%d bytes at %d of a resource of %d", n, off, r.usize))
	}
	if r.chunks == nil {
		return io.NewSectionReader(r.ra, r.dataStart+off, n), nil
	}
	rr := &rangeReader{r: r, off: off, end: off + n}
	cs := int64(r.chunkSize)
	if from, to := off/cs, (off+n+cs-1)/cs; to-from >= aheadMinChunks {
		rr.a = newAhead(r, int(from), int(to))
	}
	return rr, nil
}

// pooledDecoder returns a decoder for r from decoderPool, keeping the
// chunk it holds if it last decoded one of r's.
func pooledDecoder(r *resource) *decoder {
	d := decoderPool.Get().(*decoder)
	if d.r != r {
		d.r, d.cached = r, -1
	}
	return d
}

func (rr *rangeReader) Read(p []byte) (int, error) {
	if rr.off >= rr.end {
		return 0, io.EOF
	}
	cs := int64(rr.r.chunkSize)
	i := int(rr.off / cs)
	var data []byte
	var err error
	if rr.a != nil {
		data, err = rr.a.chunk(i)
	} else {
		if rr.d == nil {
			rr.d = pooledDecoder(rr.r)
		}
		data, err = rr.d.chunk(i)
	}
	if err != nil {
		return 0, err
	}
	data = data[rr.off-int64(i)*cs:]
	if rest := rr.end - rr.off; int64(len(data)) > rest {
		data = data[:rest]
	}
	n := copy(p, data)
	rr.off += int64(n)
	if rr.off >= rr.end {
		// Done: the buffers go back to the pool.
		if rr.d != nil {
			decoderPool.Put(rr.d)
			rr.d = nil
		}
		if rr.a != nil {
			rr.a.release()
		}
	}
	return n, nil
}

// readAll reads a whole small resource (metadata, XML, blob table) into
// memory, refusing more than limit bytes.
func (r *resource) readAll(limit int64, what string) ([]byte, error) {
	if r.usize > limit {
		return nil, corrupt(r.offset, fmt.Sprintf("%s of %d bytes: more than the %d this reader allows", what, r.usize, limit))
	}
	rd, err := r.reader(0, r.usize)
	if err != nil {
		return nil, err
	}
	// Grown as the bytes decode rather than sized from the header, which
	// may lie.
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, rd); err != nil {
		return nil, err
	}
	if int64(buf.Len()) != r.usize {
		return nil, corrupt(r.offset, fmt.Sprintf("%s decodes to %d bytes, not %d", what, buf.Len(), r.usize))
	}
	return buf.Bytes(), nil
}
