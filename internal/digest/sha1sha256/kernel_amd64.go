//go:build amd64 && !purego

package sha1sha256

import "golang.org/x/sys/cpu"

//go:generate go run mkasm.go

// kernel runs SHA-1's and SHA-256's block functions over every whole
// block of p, into h1 and h256.
//
//go:noescape
func kernel(h1 *[5]uint32, h256 *[8]uint32, p []byte)

// haveKernel reports whether kernel runs on this CPU: the SHA extensions,
// the SSE4.1 and SSSE3 instructions around them, and AVX (with the OS
// saving its registers, which x/sys/cpu checks) for the VEX forms that
// read unaligned memory.
var haveKernel = hasSHA() && cpu.X86.HasAVX && cpu.X86.HasSSE41 && cpu.X86.HasSSSE3

// cpuid is the CPUID instruction.
func cpuid(leaf, sub uint32) (eax, ebx, ecx, edx uint32)

// hasSHA reports the SHA extensions: CPUID leaf 7, EBX bit 29 (x/sys/cpu
// does not read it).
func hasSHA() bool {
	if maxLeaf, _, _, _ := cpuid(0, 0); maxLeaf < 7 {
		return false
	}
	_, ebx, _, _ := cpuid(7, 0)
	return ebx&(1<<29) != 0
}

func blocks(h1 *[5]uint32, h256 *[8]uint32, p []byte) {
	if haveKernel {
		kernel(h1, h256, p)
		return
	}
	blocksGeneric(h1, h256, p)
}
