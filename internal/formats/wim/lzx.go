package wim

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// An LZX decoder for WIM chunks of 32 KiB, kept from chunk to chunk: it
// decodes straight into the caller's buffer from the chunk's bytes in
// memory, with its Huffman tables in place, where go-winio's allocated a
// decoder, a window and tables per chunk and read through an io.Reader
// (half of hashr-extract's CPU on an LZX WIM). The bit reader follows
// wimlib's (lzx_decompress.c): 16-bit little-endian words read one at a
// time, only when the bits asked for are not buffered, which decides
// where an uncompressed block's alignment falls.

const (
	lzxNumChars       = 256
	lzxMainSyms       = lzxNumChars + 8*30 // 30 offset slots for a 32 KiB window
	lzxLenSyms        = 249
	lzxPreSyms        = 20
	lzxAlignedSyms    = 8
	lzxMaxCodeLen     = 16
	lzxMaxPreLen      = 15
	lzxMaxAlignedLen  = 7
	lzxMainRootBits   = 11
	lzxLenRootBits    = 10
	lzxPreRootBits    = 6
	lzxAlignedRootBit = 7
	lzxMinMatch       = 2
	lzxE8FileSize     = 12000000

	lzxBlockVerbatim     = 1
	lzxBlockAligned      = 2
	lzxBlockUncompressed = 3
)

var errLZXCorrupt = errors.New("corrupt LZX data")

var lzxExtraBits = [30]uint8{
	0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6,
	7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13,
}

var lzxSlotBase = [30]uint32{
	0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192,
	256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096, 6144, 8192, 12288, 16384, 24576,
}

// huffTable decodes one canonical Huffman code. An entry of the root
// table, indexed by the next rootBits bits, is the symbol in its low 24
// bits and the code's length above them; for codes longer than rootBits,
// the entry has huffSub set and its low 24 bits are where the subtable
// indexed by the following maxLen-rootBits bits starts.
type huffTable struct {
	entries  []uint32
	rootBits uint8
	maxLen   uint8 // 0 for an empty code, which no symbol may use
}

const huffSub = 1 << 31

// build makes the table for the code lengths lens; it fails on lengths
// that are not a complete prefix code, other than all zero (empty).
func (h *huffTable) build(lens []byte, rootBits uint8) error {
	var count [lzxMaxCodeLen + 1]int
	maxLen := uint8(0)
	for _, l := range lens {
		count[l]++
		maxLen = max(maxLen, l)
	}
	h.maxLen = maxLen
	if maxLen == 0 {
		return nil
	}
	// next[l] is the next code of length l; next[maxLen+1], where codes
	// longer than maxLen would start.
	count[0] = 0
	var next [lzxMaxCodeLen + 2]uint32
	for l := 1; l <= int(maxLen)+1; l++ {
		next[l] = (next[l-1] + uint32(count[l-1])) << 1
	}
	if next[maxLen+1] != 2<<maxLen {
		return errLZXCorrupt // incomplete or over-subscribed
	}
	if rootBits > maxLen {
		rootBits = maxLen
	}
	h.rootBits = rootBits
	subBits := maxLen - rootBits
	// The prefixes of long codes are the last root entries, in order.
	nSub := 0
	if subBits > 0 {
		firstLong := next[rootBits+1] >> 1 // the first root prefix of a code longer than rootBits
		nSub = int(1<<rootBits - firstLong)
	}
	size := 1<<rootBits + nSub<<subBits
	if cap(h.entries) < size {
		h.entries = make([]uint32, size)
	}
	h.entries = h.entries[:size]
	if nSub > 0 {
		firstLong := 1<<rootBits - nSub
		for p := firstLong; p < 1<<rootBits; p++ {
			h.entries[p] = huffSub | uint32(1<<rootBits+(p-firstLong)<<subBits)
		}
	}
	for sym, l := range lens {
		if l == 0 {
			continue
		}
		c := next[l]
		next[l]++
		e := uint32(l)<<24 | uint32(sym)
		if l <= rootBits {
			fill := h.entries[c<<(rootBits-l):][:1<<(rootBits-l)]
			for j := range fill {
				fill[j] = e
			}
			continue
		}
		prefix := c >> (l - rootBits)
		sub := int(h.entries[prefix] & 0xffffff)
		start := sub + int(c&(1<<(l-rootBits)-1))<<(maxLen-l)
		fill := h.entries[start:][:1<<(maxLen-l)]
		for j := range fill {
			fill[j] = e
		}
	}
	return nil
}

// lzxDecoder holds what persists from block to block of a chunk, and
// the tables, reused from chunk to chunk.
type lzxDecoder struct {
	mainLens [lzxMainSyms]byte
	lenLens  [lzxLenSyms]byte
	main     huffTable
	length   huffTable
	aligned  huffTable
	pre      huffTable

	// The bit reader.
	in    []byte
	pos   int
	buf   uint32
	nbits uint
	over  int // 16-bit words read past the input's end, as zeros
}

// ensure buffers at least n (at most 16) bits.
func (d *lzxDecoder) ensure(n uint) {
	if d.nbits >= n {
		return
	}
	if d.pos+2 <= len(d.in) {
		d.buf |= uint32(binary.LittleEndian.Uint16(d.in[d.pos:])) << ((16 - d.nbits) & 31)
		d.pos += 2
	} else {
		d.over++
	}
	d.nbits += 16
}

func (d *lzxDecoder) bits(n uint) uint32 {
	d.ensure(n)
	v := d.buf >> 1 >> (31 - n) // n may be 0
	d.buf <<= n
	d.nbits -= n
	return v
}

// sym decodes one symbol of h, ensuring ensureBits first (wimlib's
// maximum codeword length for the code).
func (d *lzxDecoder) sym(h *huffTable, ensureBits uint) (uint32, error) {
	if h.maxLen == 0 {
		return 0, errLZXCorrupt
	}
	d.ensure(ensureBits)
	e := h.entries[d.buf>>((32-h.rootBits)&31)]
	if e&huffSub != 0 {
		e = h.entries[int(e&0xffffff)+int(d.buf<<(h.rootBits&31)>>((32-(h.maxLen-h.rootBits))&31))]
	}
	l := uint(e >> 24)
	d.buf <<= l & 31
	d.nbits -= l
	return e & 0xffffff, nil
}

// readLens reads the code lengths of lens, as deltas from their values
// in the last block, coded by a pre-code read first.
func (d *lzxDecoder) readLens(lens []byte) error {
	var preLens [lzxPreSyms]byte
	for i := range preLens {
		preLens[i] = byte(d.bits(4))
	}
	if err := d.pre.build(preLens[:], lzxPreRootBits); err != nil {
		return err
	}
	for i := 0; i < len(lens); {
		c, err := d.sym(&d.pre, lzxMaxPreLen)
		if err != nil {
			return err
		}
		run, val := 1, byte(0)
		switch {
		case c <= 16:
			val = byte((int(lens[i]) + 17 - int(c)) % 17)
		case c == 17:
			run = 4 + int(d.bits(4))
		case c == 18:
			run = 20 + int(d.bits(5))
		default: // 19: a run of one length
			run = 4 + int(d.bits(1))
			c, err = d.sym(&d.pre, lzxMaxPreLen)
			if err != nil {
				return err
			}
			if c > 17 {
				return errLZXCorrupt
			}
			val = byte((int(lens[i]) + 17 - int(c)) % 17)
		}
		if run > len(lens)-i {
			return errLZXCorrupt
		}
		for j := range lens[i : i+run] {
			lens[i+j] = val
		}
		i += run
	}
	return nil
}

// lzxSlack is the room a match copy may write beyond a chunk's end.
const lzxSlack = 8

// decode decodes the WIM LZX chunk in into out, which it fills.
func (d *lzxDecoder) decode(in, out []byte) error {
	if len(out) > 32768 {
		return fmt.Errorf("LZX chunk of %d bytes: more than 32768", len(out))
	}
	d.mainLens = [lzxMainSyms]byte{}
	d.lenLens = [lzxLenSyms]byte{}
	d.in, d.pos, d.buf, d.nbits, d.over = in, 0, 0, 0, 0
	defer func() { d.in = nil }()
	recent := [3]uint32{1, 1, 1}
	pos := 0
	for pos < len(out) {
		typ := d.bits(3)
		size := 32768
		if d.bits(1) == 0 {
			size = int(d.bits(16))
		}
		if size == 0 || size > len(out)-pos {
			return errLZXCorrupt
		}
		switch typ {
		case lzxBlockAligned:
			var lens [lzxAlignedSyms]byte
			for i := range lens {
				lens[i] = byte(d.bits(3))
			}
			if err := d.aligned.build(lens[:], lzxAlignedRootBit); err != nil {
				return err
			}
			fallthrough
		case lzxBlockVerbatim:
			if err := d.readLens(d.mainLens[:lzxNumChars]); err != nil {
				return err
			}
			if err := d.readLens(d.mainLens[lzxNumChars:]); err != nil {
				return err
			}
			if err := d.main.build(d.mainLens[:], lzxMainRootBits); err != nil {
				return err
			}
			if err := d.readLens(d.lenLens[:]); err != nil {
				return err
			}
			if err := d.length.build(d.lenLens[:], lzxLenRootBits); err != nil {
				return err
			}
			var err error
			if pos, err = d.block(out, pos, pos+size, typ == lzxBlockAligned, &recent); err != nil {
				return err
			}
		case lzxBlockUncompressed:
			// Align: drop the buffered bits, or a whole word if none.
			d.ensure(1)
			d.buf, d.nbits = 0, 0
			if d.over > 0 || len(d.in)-d.pos < 12+size {
				return errLZXCorrupt
			}
			for i := range recent {
				recent[i] = binary.LittleEndian.Uint32(d.in[d.pos+4*i:])
			}
			d.pos += 12
			copy(out[pos:pos+size], d.in[d.pos:])
			d.pos += size
			pos += size
			if size&1 != 0 && d.pos < len(d.in) {
				d.pos++
			}
		default:
			return errLZXCorrupt
		}
	}
	// Bits read past the end are zeros a correct stream never uses.
	if d.over > 0 && uint(d.over)*16 > d.nbits {
		return errLZXCorrupt
	}
	undoE8(out)
	return nil
}

// block decodes a verbatim or aligned block's symbols into out[pos:end].
// The bit reader's state is kept in locals in the loop; shifts are
// masked, all being under 32, to spare the compiler's checks for larger. Matches are
// copied faster when out has lzxSlack bytes of room beyond its length.
func (d *lzxDecoder) block(out []byte, pos, end int, aligned bool, recent *[3]uint32) (int, error) {
	in, ip, buf, nbits, over := d.in, d.pos, d.buf, d.nbits, d.over
	mainE, mainRoot, mainSub := d.main.entries, 32-uint(d.main.rootBits), 32-uint(d.main.maxLen-d.main.rootBits)
	mainRootBits := uint(d.main.rootBits)
	lenE, lenRoot, lenSub := d.length.entries, 32-uint(d.length.rootBits), 32-uint(d.length.maxLen-d.length.rootBits)
	lenRootBits := uint(d.length.rootBits)
	lenEmpty := d.length.maxLen == 0
	if d.main.maxLen == 0 {
		return pos, errLZXCorrupt
	}
	r0, r1, r2 := recent[0], recent[1], recent[2]
	room := out[:cap(out)]
	for pos < end {
		// ensure(16)
		if nbits < 16 {
			if ip+2 <= len(in) {
				buf |= uint32(binary.LittleEndian.Uint16(in[ip:])) << ((16 - nbits) & 31)
				ip += 2
			} else {
				over++
			}
			nbits += 16
		}
		e := mainE[buf>>(mainRoot&31)]
		if e&huffSub != 0 {
			e = mainE[int(e&0xffffff)+int(buf<<(mainRootBits&31)>>(mainSub&31))]
		}
		l := uint(e >> 24)
		buf <<= l & 31
		nbits -= l
		s := e & 0xffffff
		if s < lzxNumChars {
			out[pos] = byte(s)
			pos++
			continue
		}
		s -= lzxNumChars
		length := s & 7
		slot := s >> 3
		if length == 7 {
			if lenEmpty {
				return pos, errLZXCorrupt
			}
			if nbits < 16 {
				if ip+2 <= len(in) {
					buf |= uint32(binary.LittleEndian.Uint16(in[ip:])) << ((16 - nbits) & 31)
					ip += 2
				} else {
					over++
				}
				nbits += 16
			}
			e := lenE[buf>>(lenRoot&31)]
			if e&huffSub != 0 {
				e = lenE[int(e&0xffffff)+int(buf<<(lenRootBits&31)>>(lenSub&31))]
			}
			l := uint(e >> 24)
			buf <<= l & 31
			nbits -= l
			length += e & 0xffffff
		}
		length += lzxMinMatch
		var offset uint32
		switch slot {
		case 0:
			offset = r0
		case 1:
			offset = r1
			r1 = r0
			r0 = offset
		case 2:
			offset = r2
			r2 = r0
			r0 = offset
		default:
			extra := uint(lzxExtraBits[slot])
			offset = lzxSlotBase[slot] - 2
			if aligned && extra >= 3 {
				n := extra - 3
				if nbits < n {
					if ip+2 <= len(in) {
						buf |= uint32(binary.LittleEndian.Uint16(in[ip:])) << ((16 - nbits) & 31)
						ip += 2
					} else {
						over++
					}
					nbits += 16
				}
				offset += (buf >> 1 >> ((31 - n) & 31)) << 3
				buf <<= n & 31
				nbits -= n
				d.buf, d.nbits, d.pos, d.over = buf, nbits, ip, over
				a, err := d.sym(&d.aligned, lzxMaxAlignedLen)
				if err != nil {
					return pos, err
				}
				buf, nbits, ip, over = d.buf, d.nbits, d.pos, d.over
				offset += a
			} else {
				if nbits < extra {
					if ip+2 <= len(in) {
						buf |= uint32(binary.LittleEndian.Uint16(in[ip:])) << ((16 - nbits) & 31)
						ip += 2
					} else {
						over++
					}
					nbits += 16
				}
				offset += buf >> 1 >> ((31 - extra) & 31)
				buf <<= extra & 31
				nbits -= extra
			}
			r2, r1, r0 = r1, r0, offset
		}
		n := int(length)
		if offset == 0 || offset > uint32(pos) || n > end-pos {
			return pos, errLZXCorrupt
		}
		src := pos - int(offset)
		if offset >= 8 && pos+n+8 <= len(room) {
			// Eight bytes at a time, past the match's end into bytes
			// not yet decoded or the slack beyond out.
			for j := 0; j < n; j += 8 {
				binary.LittleEndian.PutUint64(room[pos+j:], binary.LittleEndian.Uint64(room[src+j:]))
			}
		} else if n <= int(offset) {
			copy(out[pos:pos+n], out[src:src+n])
		} else {
			dst := out[pos : pos+n]
			from := out[src : src+n]
			for j := range dst {
				dst[j] = from[j]
			}
		}
		pos += n
	}
	d.buf, d.nbits, d.pos, d.over = buf, nbits, ip, over
	recent[0], recent[1], recent[2] = r0, r1, r2
	return pos, nil
}

// undoE8 reverses the translation of x86 CALL targets (an 0xe8 byte and
// a 32-bit relative address, made absolute before compression) in a
// chunk, as wimlib does: up to 10 bytes before its end.
func undoE8(b []byte) {
	if len(b) <= 10 {
		return
	}
	tail := len(b) - 10
	for i := 0; i < tail; {
		j := indexE8(b[i:tail])
		if j < 0 {
			return
		}
		i += j
		abs := int32(binary.LittleEndian.Uint32(b[i+1:]))
		if abs >= 0 {
			if abs < lzxE8FileSize {
				binary.LittleEndian.PutUint32(b[i+1:], uint32(abs-int32(i)))
			}
		} else if abs >= -int32(i) {
			binary.LittleEndian.PutUint32(b[i+1:], uint32(abs+lzxE8FileSize))
		}
		i += 5
	}
}

func indexE8(b []byte) int { return bytes.IndexByte(b, 0xe8) }
