package rpm

import (
	"encoding/binary"
	"fmt"
	"io"
)

// A header structure: a magic, an index of tags, and a store of their
// values. Tags are decoded on demand, each bounds-checked against the
// store, so a hostile count never allocates more than the header holds.
type header struct {
	index map[uint32]indexEntry
	store []byte
}

type indexEntry struct {
	typ, offset, count uint32
}

// Tag value types.
const (
	typeInt16       = 3
	typeInt32       = 4
	typeInt64       = 5
	typeString      = 6
	typeStringArray = 8
	typeI18NString  = 9
)

// Limits from rpm itself (HEADER_TAGS_MAX) and a store size far above
// any real package's (a header with 100 000 files is about 15 MiB).
const (
	maxTags      = 0xffff
	maxStoreSize = 64 << 20
)

var headerMagic = [4]byte{0x8e, 0xad, 0xe8, 0x01}

// readHeader reads one header structure; pad aligns the end to 8 bytes
// (the signature header is padded, the main header is not).
func readHeader(r io.Reader, offset *int64, pad bool) (*header, error) {
	var intro [16]byte
	if err := readFull(r, intro[:], offset); err != nil {
		return nil, err
	}
	if [4]byte(intro[:4]) != headerMagic {
		return nil, corrupt(*offset-16, "bad header magic")
	}
	nindex := binary.BigEndian.Uint32(intro[8:12])
	size := binary.BigEndian.Uint32(intro[12:16])
	if nindex > maxTags || size > maxStoreSize {
		return nil, corrupt(*offset-16, fmt.Sprintf("header too large (%d tags, %d bytes)", nindex, size))
	}
	raw := make([]byte, int(nindex)*16)
	if err := readFull(r, raw, offset); err != nil {
		return nil, err
	}
	start := *offset - int64(len(raw))
	h := &header{index: make(map[uint32]indexEntry, nindex), store: make([]byte, size)}
	for i := range int(nindex) {
		e := raw[i*16 : i*16+16]
		tag := binary.BigEndian.Uint32(e[0:4])
		entry := indexEntry{
			typ:    binary.BigEndian.Uint32(e[4:8]),
			offset: binary.BigEndian.Uint32(e[8:12]),
			count:  binary.BigEndian.Uint32(e[12:16]),
		}
		if err := entry.check(size); err != nil {
			return nil, corrupt(start+int64(i)*16, fmt.Sprintf("header index entry %d (tag %d): %v", i, tag, err))
		}
		h.index[tag] = entry
	}
	if err := readFull(r, h.store, offset); err != nil {
		return nil, err
	}
	if pad {
		if rem := *offset % 8; rem != 0 {
			var buf [8]byte
			if err := readFull(r, buf[:8-rem], offset); err != nil {
				return nil, err
			}
		}
	}
	return h, nil
}

// typeWidths are the bytes of one value of each type, which is also its
// alignment in the store; 1 for strings and binary (rpm's typeAlign).
var typeWidths = [...]uint64{1, 1, 1, 2, 4, 8, 1, 1, 1, 1}

// check refuses an index entry that rpm refuses (headerVerifyInfo): an
// unknown type, data that is not aligned for its type, or that does not
// fit in a store of size bytes. An index of garbage is caught here, where
// otherwise every lookup would miss and the payload be read without its
// header.
func (e indexEntry) check(size uint32) error {
	if e.typ >= uint32(len(typeWidths)) {
		return fmt.Errorf("type %d is not an RPM type", e.typ)
	}
	width := typeWidths[e.typ]
	if uint64(e.offset)%width != 0 {
		return fmt.Errorf("offset %d is not aligned for type %d", e.offset, e.typ)
	}
	// A string takes at least its NUL: count bytes at least.
	if uint64(e.offset)+uint64(e.count)*width > uint64(size) {
		return fmt.Errorf("%d values at offset %d overrun the %d-byte store", e.count, e.offset, size)
	}
	return nil
}

// ints returns an integer tag's values; ok is false when the tag is
// missing, and err is set when it is there but malformed.
func (h *header) ints(tag uint32) (vals []int64, ok bool, err error) {
	e, ok := h.index[tag]
	if !ok {
		return nil, false, nil
	}
	var width uint64
	switch e.typ {
	case typeInt16:
		width = 2
	case typeInt32:
		width = 4
	case typeInt64:
		width = 8
	default:
		return nil, true, fmt.Errorf("tag %d: type %d is not an integer", tag, e.typ)
	}
	end := uint64(e.offset) + uint64(e.count)*width
	if end > uint64(len(h.store)) {
		return nil, true, fmt.Errorf("tag %d: %d values overrun the header", tag, e.count)
	}
	b := h.store[e.offset:end]
	vals = make([]int64, e.count)
	for i := range vals {
		switch width {
		case 2:
			vals[i] = int64(binary.BigEndian.Uint16(b[i*2:]))
		case 4:
			vals[i] = int64(binary.BigEndian.Uint32(b[i*4:]))
		case 8:
			vals[i] = int64(binary.BigEndian.Uint64(b[i*8:]))
		}
	}
	return vals, true, nil
}

// strings returns a string or string-array tag's values.
func (h *header) strings(tag uint32) (vals []string, ok bool, err error) {
	e, ok := h.index[tag]
	if !ok {
		return nil, false, nil
	}
	switch e.typ {
	case typeString, typeStringArray, typeI18NString:
	default:
		return nil, true, fmt.Errorf("tag %d: type %d is not a string", tag, e.typ)
	}
	// Every string takes at least its NUL: a count larger than the bytes
	// left cannot be right.
	if uint64(e.offset)+uint64(e.count) > uint64(len(h.store)) {
		return nil, true, fmt.Errorf("tag %d: %d strings overrun the header", tag, e.count)
	}
	b := h.store[e.offset:]
	vals = make([]string, e.count)
	for i := range vals {
		n := 0
		for n < len(b) && b[n] != 0 {
			n++
		}
		if n == len(b) {
			return nil, true, fmt.Errorf("tag %d: unterminated string", tag)
		}
		vals[i] = string(b[:n])
		b = b[n+1:]
	}
	return vals, true, nil
}

// str returns a single-string tag, or "" when it is missing or bad.
func (h *header) str(tag uint32) string {
	v, _, err := h.strings(tag)
	if err != nil || len(v) == 0 {
		return ""
	}
	return v[0]
}

func readFull(r io.Reader, buf []byte, offset *int64) error {
	n, err := io.ReadFull(r, buf)
	*offset += int64(n)
	if err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return corrupt(*offset, "truncated")
		}
		return err
	}
	return nil
}
