//go:build amd64 && !purego

package md5x16

import "golang.org/x/sys/cpu"

//go:generate go run mkasm.go

// blocks runs MD5's block function n times on each lane of mask: lane l
// hashes the n blocks at base+offsets[l] into state[0..3][l]. Only the
// state of the lanes in mask is written, but every lane's n blocks are
// read: all 16 offsets must point at n*64 readable bytes. On a CPU
// without AVX-512 it runs lane by lane in Go, as on other architectures:
// hashr does not use the engine there (Available), but its tests do, and
// the AVX-512 kernel stopped them with SIGILL.
func blocks(state *[4][Lanes]uint32, base *byte, offsets *[Lanes]uint32, mask uint16, n int) {
	if haveKernel {
		blocksAVX512(state, base, offsets, mask, n)
	} else {
		blocksGeneric(state, base, offsets, mask, n)
	}
}

// blocksAVX512 is blocks in the AVX-512 registers, all lanes at once.
//
//go:noescape
func blocksAVX512(state *[4][Lanes]uint32, base *byte, offsets *[Lanes]uint32, mask uint16, n int)

// haveKernel reports whether blocks runs on this CPU: it needs AVX-512F
// (VPGATHERDD, VPROLD and VPTERNLOGD on ZMM registers), and an OS that saves
// the ZMM state, which x/sys/cpu checks too.
var haveKernel = cpu.X86.HasAVX512F

// blocksOne runs MD5's block function n times, in the scalar registers:
// s hashes the n blocks at p.
//
//go:noescape
func blocksOne(s *[4]uint32, p *byte, n int)

// blocksPair is blocksOne on two streams at once: s0 hashes the n blocks
// at p0, s1 those at p1.
//
//go:noescape
func blocksPair(s0, s1 *[4]uint32, p0, p1 *byte, n int)
