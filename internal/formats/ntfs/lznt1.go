package ntfs

import "errors"

// chunkSize is the decoded size of one LZNT1 chunk.
const chunkSize = 4096

var errLZNT1 = errors.New("lznt1: corrupt compressed data")

// lznt1 decodes a compression unit's LZNT1 chunks into out and returns the
// bytes written. Each chunk fills its own 4 KiB of out; a chunk that
// decodes short is padded with zeros, as Windows and ntfs-3g do. A zero
// chunk header or the end of in ends the unit.
func lznt1(out, in []byte) (int, error) {
	op := 0
	for ip := 0; ip+2 <= len(in); {
		h := int(in[ip]) | int(in[ip+1])<<8
		if h == 0 {
			break
		}
		size := h&0x0fff + 1
		ip += 2
		if ip+size > len(in) || op+chunkSize > len(out) {
			return op, errLZNT1
		}
		chunk := in[ip : ip+size]
		ip += size
		dst := out[op : op+chunkSize]
		if h&0x8000 == 0 {
			// Stored: the chunk's bytes as they are.
			n := copy(dst, chunk)
			clear(dst[n:])
			op += chunkSize
			continue
		}
		n, err := lznt1Chunk(dst, chunk)
		if err != nil {
			return op, err
		}
		clear(dst[n:])
		op += chunkSize
	}
	return op, nil
}

// lznt1Chunk decodes one compressed chunk into dst (4 KiB).
func lznt1Chunk(dst, src []byte) (int, error) {
	op, ip := 0, 0
	for ip < len(src) {
		flags := src[ip]
		ip++
		for bit := 0; bit < 8 && ip < len(src); bit++ {
			if flags&(1<<bit) == 0 {
				if op >= len(dst) {
					return op, errLZNT1
				}
				dst[op] = src[ip]
				op++
				ip++
				continue
			}
			if ip+2 > len(src) || op == 0 {
				return op, errLZNT1
			}
			tok := int(src[ip]) | int(src[ip+1])<<8
			ip += 2
			// The split between displacement and length moves as the
			// chunk fills: 4 bits of displacement at first, up to 12.
			lengthBits := 12
			for i := op - 1; i >= 0x10; i >>= 1 {
				lengthBits--
			}
			disp := tok>>lengthBits + 1
			length := tok&(1<<lengthBits-1) + 3
			if disp > op || op+length > len(dst) {
				return op, errLZNT1
			}
			for k := range length {
				dst[op+k] = dst[op-disp+k]
			}
			op += length
		}
	}
	return op, nil
}
