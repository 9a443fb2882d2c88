//go:build !amd64 || purego

package md5x16

// Without the AVX-512 kernel the engine still works, lane by lane in Go,
// so that it can be tested everywhere; Available reports false, so hashr
// does not use it.
const haveKernel = false

func blocks(state *[4][Lanes]uint32, base *byte, offsets *[Lanes]uint32, mask uint16, n int) {
	blocksGeneric(state, base, offsets, mask, n)
}

func blocksOne(s *[4]uint32, p *byte, n int) { blocksOneGeneric(s, p, n) }

func blocksPair(s0, s1 *[4]uint32, p0, p1 *byte, n int) {
	blocksOneGeneric(s0, p0, n)
	blocksOneGeneric(s1, p1, n)
}
