package md5x16

import (
	"encoding/binary"
	"math/bits"
	"unsafe"
)

// shifts are the rotations of MD5's 64 steps, four per round, and k its
// constants (RFC 1321, 3.4).
var (
	shifts = [4][4]int{{7, 12, 17, 22}, {5, 9, 14, 20}, {4, 11, 16, 23}, {6, 10, 15, 21}}
	k      = [64]uint32{
		0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
		0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
		0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
		0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
		0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
		0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
		0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
		0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
	}
)

// blocksGeneric is blocks in plain Go, one lane after the other: the
// reference the kernel is tested against, and the engine's block function
// where there is no kernel.
func blocksGeneric(state *[4][Lanes]uint32, base *byte, offsets *[Lanes]uint32, mask uint16, n int) {
	for l := range Lanes {
		if mask&(1<<l) == 0 {
			continue
		}
		data := unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(base), offsets[l])), 64*n)
		s := [4]uint32{state[0][l], state[1][l], state[2][l], state[3][l]}
		for len(data) > 0 {
			s = block(s, data[:64])
			data = data[64:]
		}
		for w := range 4 {
			state[w][l] = s[w]
		}
	}
}

// blocksOneGeneric is blocksOne in plain Go.
func blocksOneGeneric(s *[4]uint32, p *byte, n int) {
	data := unsafe.Slice(p, 64*n)
	for len(data) > 0 {
		*s = block(*s, data[:64])
		data = data[64:]
	}
}

// block is MD5's block function, written from RFC 1321 as plainly as it
// goes.
func block(s [4]uint32, p []byte) [4]uint32 {
	var m [16]uint32
	for i := range m {
		m[i] = binary.LittleEndian.Uint32(p[4*i:])
	}
	a, b, c, d := s[0], s[1], s[2], s[3]
	for i := range 64 {
		var f uint32
		var g int
		switch i / 16 {
		case 0:
			f, g = b&c|^b&d, i
		case 1:
			f, g = b&d|c&^d, (5*i+1)%16
		case 2:
			f, g = b^c^d, (3*i+5)%16
		case 3:
			f, g = c^(b|^d), 7*i%16
		}
		a, b, c, d = d, b+bits.RotateLeft32(a+f+m[g]+k[i], shifts[i/16][i%4]), b, c
	}
	return [4]uint32{s[0] + a, s[1] + b, s[2] + c, s[3] + d}
}
