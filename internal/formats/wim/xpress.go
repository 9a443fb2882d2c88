package wim

import "errors"

// XPRESS Huffman, as [MS-XCA] section 2.2 describes it and WIM uses it:
// each chunk starts with a table of 512 four-bit code lengths (256
// literals, 256 match headers), then a bit stream of little-endian 16-bit
// words, with extra match length bytes read from the same input between
// them.

const (
	xpressSymbols  = 512
	xpressMaxLen   = 15
	xpressTableLen = xpressSymbols / 2
	xpressBlock    = 65536 // a new table every 64 KiB of output
)

var (
	errXpressTable  = errors.New("bad Huffman table")
	errXpressInput  = errors.New("input ends early")
	errXpressOffset = errors.New("match before the start of the chunk")
	errXpressCode   = errors.New("bad Huffman code")
)

// xpressDecoder holds the decoding table between chunks, to save its
// allocation.
type xpressDecoder struct {
	// table maps the next 15 bits to symbol<<4 | code length.
	table [1 << xpressMaxLen]uint16
}

// build fills the decoding table from the code lengths, canonically:
// shorter codes first, then by symbol.
func (x *xpressDecoder) build(lens []byte) error {
	var count [xpressMaxLen + 1]int
	for _, l := range lens {
		count[l]++
	}
	count[0] = 0
	// Kraft: the codes must not oversubscribe the code space.
	left := 1
	for l := 1; l <= xpressMaxLen; l++ {
		left <<= 1
		left -= count[l]
		if left < 0 {
			return errXpressTable
		}
	}
	pos := 0
	for l := 1; l <= xpressMaxLen; l++ {
		span := 1 << (xpressMaxLen - l)
		for sym, sl := range lens {
			if int(sl) != l {
				continue
			}
			v := uint16(sym)<<4 | uint16(l)
			for j := pos; j < pos+span; j++ {
				x.table[j] = v
			}
			pos += span
		}
	}
	// An incomplete code leaves entries no code reaches: mark them.
	for j := pos; j < len(x.table); j++ {
		x.table[j] = 0
	}
	return nil
}

// decode decodes in into out, filling it.
func (x *xpressDecoder) decode(in, out []byte) error {
	op := 0
	ip := 0
	for op < len(out) {
		if len(in)-ip < xpressTableLen {
			return errXpressInput
		}
		var lens [xpressSymbols]byte
		for i := 0; i < xpressTableLen; i++ {
			b := in[ip+i]
			lens[2*i] = b & 15
			lens[2*i+1] = b >> 4
		}
		ip += xpressTableLen
		if err := x.build(lens[:]); err != nil {
			return err
		}
		end := min(op+xpressBlock, len(out))
		var err error
		ip, op, err = x.block(in, ip, out, op, end)
		if err != nil {
			return err
		}
	}
	return nil
}

// block decodes symbols until out is filled to end.
func (x *xpressDecoder) block(in []byte, ip int, out []byte, op, end int) (int, int, error) {
	word := func() uint32 {
		if ip+2 > len(in) {
			ip += 2 // reading past the end yields zeros; checked below
			return 0
		}
		v := uint32(in[ip]) | uint32(in[ip+1])<<8
		ip += 2
		return v
	}
	next := word()<<16 | word()
	extra := 16
	for op < end {
		if ip > len(in)+4 {
			return ip, op, errXpressInput
		}
		e := x.table[next>>(32-xpressMaxLen)]
		l := int(e & 15)
		if l == 0 {
			return ip, op, errXpressCode
		}
		sym := int(e >> 4)
		next <<= l
		extra -= l
		if extra < 0 {
			next |= word() << (-extra)
			extra += 16
		}
		if sym < 256 {
			out[op] = byte(sym)
			op++
			continue
		}
		sym -= 256
		length := sym & 15
		offBits := sym >> 4
		if length == 15 {
			if ip >= len(in) {
				return ip, op, errXpressInput
			}
			length += int(in[ip])
			ip++
			if length == 15+255 {
				if ip+2 > len(in) {
					return ip, op, errXpressInput
				}
				length = int(in[ip]) | int(in[ip+1])<<8
				ip += 2
				if length < 15 {
					return ip, op, errXpressInput
				}
			}
		}
		length += 3
		offset := 1 << offBits
		if offBits > 0 {
			offset += int(next >> (32 - offBits))
			next <<= offBits
			extra -= offBits
			if extra < 0 {
				next |= word() << (-extra)
				extra += 16
			}
		}
		if offset > op {
			return ip, op, errXpressOffset
		}
		if length > len(out)-op {
			return ip, op, errors.New("match runs past the chunk's end")
		}
		src := op - offset
		if offset >= length {
			copy(out[op:op+length], out[src:src+length])
		} else {
			for k := 0; k < length; k++ {
				out[op+k] = out[src+k]
			}
		}
		op += length
	}
	if ip > len(in)+4 {
		return ip, op, errXpressInput
	}
	return ip, op, nil
}
