//go:build ignore

// mkasm writes block_amd64.s, the kernel that runs the SHA-1 and the
// SHA-256 block functions over the same blocks at once, with the SHA
// extensions. Each algorithm alone is one chain of dependent round
// instructions (SHA1RNDS4, SHA256RNDS2) that waits on the latency of the
// one before; the CPU can start a round of the other chain meanwhile. So
// the kernel is the two block functions of Go's crypto/sha1 and
// crypto/internal/fips140/sha256 (both after Gulley et al., "New
// Instructions Supporting the Secure Hash Algorithm on Intel Architecture
// Processors", 2013), each in registers of its own, their steps merged in
// proportion: a step of four SHA-1 rounds, then one of four SHA-256 rounds,
// and so on.
//
//	go run mkasm.go    (go generate does this)
package main

import (
	"bytes"
	"fmt"
	"math"
	"os"
)

// step is a few instructions of one algorithm that belong together: one
// group of rounds and the message schedule that goes with it.
type step []string

// The registers. SHA-256: X0 the message plus constants (SHA256RNDS2 reads
// it implicitly), X1 and X2 the state as ABEF and CDGH, X3-X6 the message
// schedule, X7 a temporary. SHA-1: X8 the state ABCD, X9-X12 the message
// schedule, X13 and X14 E as it ping-pongs, X15 the byte-order mask. The
// saved states for the feed-forward are on the stack, at CX.
const (
	abcd   = "X8"
	e0, e1 = "X13", "X14"
	mask1  = "X15"
)

var (
	m256  = [4]string{"X3", "X4", "X5", "X6"}
	msg1s = [4]string{"X9", "X10", "X11", "X12"}
)

// sha256Steps is one block of SHA-256, as Go's blockSHANI, with the
// message byte-swapped and added to the round constants by VEX
// instructions that read their memory operand unaligned, in place of a
// register for the mask and a copy.
func sha256Steps() []step {
	steps := []step{{"VMOVDQA X1, 0(CX)", "VMOVDQA X2, 16(CX)"}}
	rounds := func(k int, m string) []string {
		return []string{
			fmt.Sprintf("VPADDD k256<>+%d(SB), %s, X0", 16*k, m),
			"SHA256RNDS2 X0, X1, X2",
			"PSHUFD $0x0e, X0, X0",
			"SHA256RNDS2 X0, X2, X1",
		}
	}
	load := func(k int) []string {
		m := m256[k]
		return []string{
			fmt.Sprintf("VMOVDQU %d(SI), %s", 16*k, m),
			fmt.Sprintf("VPSHUFB flip256<>(SB), %s, %s", m, m),
		}
	}
	// Rounds 0-11: the first three words of the message, each its own
	// schedule's start.
	for k := range 3 {
		s := append(load(k), rounds(k, m256[k])...)
		if k > 0 {
			s = append(s, fmt.Sprintf("SHA256MSG1 %s, %s", m256[k], m256[k-1]))
		}
		steps = append(steps, s)
	}
	// Rounds 12-59: each step's schedule word m from the ones before.
	for k := 3; k < 15; k++ {
		m, a, t := m256[k%4], m256[(k+3)%4], m256[(k+1)%4]
		var s step
		if k == 3 {
			s = append(s, load(3)...)
		}
		s = append(s,
			fmt.Sprintf("VPADDD k256<>+%d(SB), %s, X0", 16*k, m),
			"SHA256RNDS2 X0, X1, X2",
			fmt.Sprintf("VMOVDQA %s, X7", m),
			fmt.Sprintf("PALIGNR $4, %s, X7", a),
			fmt.Sprintf("PADDD X7, %s", t),
			fmt.Sprintf("SHA256MSG2 %s, %s", m, t),
			"PSHUFD $0x0e, X0, X0",
			"SHA256RNDS2 X0, X2, X1",
		)
		if k < 13 {
			s = append(s, fmt.Sprintf("SHA256MSG1 %s, %s", m, a))
		}
		steps = append(steps, s)
	}
	// Rounds 60-63, and the feed-forward.
	last := rounds(15, m256[3])
	last = append(last, "VPADDD 0(CX), X1, X1", "VPADDD 16(CX), X2, X2")
	return append(steps, last)
}

// sha1Steps is one block of SHA-1, as Go's blockSHANI.
func sha1Steps() []step {
	m := msg1s
	load := func(k int) []string {
		return []string{
			fmt.Sprintf("VMOVDQU %d(SI), %s", 16*k, m[k]),
			fmt.Sprintf("PSHUFB %s, %s", mask1, m[k]),
		}
	}
	steps := []step{
		{"VMOVDQA " + e0 + ", 32(CX)", "VMOVDQA " + abcd + ", 48(CX)"},
		// Rounds 0-3.
		append(load(0),
			"PADDD "+m[0]+", "+e0,
			"VMOVDQA "+abcd+", "+e1,
			"SHA1RNDS4 $0, "+e0+", "+abcd),
		// Rounds 4-7.
		append(load(1),
			"SHA1NEXTE "+m[1]+", "+e1,
			"VMOVDQA "+abcd+", "+e0,
			"SHA1RNDS4 $0, "+e1+", "+abcd,
			"SHA1MSG1 "+m[1]+", "+m[0]),
		// Rounds 8-11.
		append(load(2),
			"SHA1NEXTE "+m[2]+", "+e0,
			"VMOVDQA "+abcd+", "+e1,
			"SHA1RNDS4 $0, "+e0+", "+abcd,
			"SHA1MSG1 "+m[2]+", "+m[1],
			"PXOR "+m[2]+", "+m[0]),
	}
	// Rounds 12-67: E ping-pongs between e0 and e1, and the schedule
	// words move up one every four rounds.
	msgs := [4]string{m[3], m[0], m[1], m[2]}
	for i := range 14 {
		var s step
		a, b := e1, e0
		if i == 0 {
			s = append(s, load(3)...)
		}
		if i%2 == 1 {
			a, b = e0, e1
		}
		s = append(s,
			fmt.Sprintf("SHA1NEXTE %s, %s", msgs[i%4], a),
			fmt.Sprintf("VMOVDQA %s, %s", abcd, b),
			fmt.Sprintf("SHA1MSG2 %s, %s", msgs[i%4], msgs[(i+1)%4]),
			fmt.Sprintf("SHA1RNDS4 $%d, %s, %s", (12+4*i)/20, a, abcd),
			fmt.Sprintf("SHA1MSG1 %s, %s", msgs[i%4], msgs[(i+3)%4]),
			fmt.Sprintf("PXOR %s, %s", msgs[i%4], msgs[(i+2)%4]),
		)
		steps = append(steps, s)
	}
	steps = append(steps,
		// Rounds 68-71.
		step{"SHA1NEXTE " + m[1] + ", " + e1,
			"VMOVDQA " + abcd + ", " + e0,
			"SHA1MSG2 " + m[1] + ", " + m[2],
			"SHA1RNDS4 $3, " + e1 + ", " + abcd,
			"PXOR " + m[1] + ", " + m[3]},
		// Rounds 72-75.
		step{"SHA1NEXTE " + m[2] + ", " + e0,
			"VMOVDQA " + abcd + ", " + e1,
			"SHA1MSG2 " + m[2] + ", " + m[3],
			"SHA1RNDS4 $3, " + e0 + ", " + abcd},
		// Rounds 76-79, and the feed-forward.
		step{"SHA1NEXTE " + m[3] + ", " + e1,
			"VMOVDQA " + abcd + ", " + e0,
			"SHA1RNDS4 $3, " + e1 + ", " + abcd,
			"SHA1NEXTE 32(CX), " + e0,
			"VPADDD 48(CX), " + abcd + ", " + abcd},
	)
	return steps
}

// merge interleaves a and b in proportion to their lengths, so that each
// chain's steps are spread over the whole block.
func merge(a, b []step) []step {
	var out []step
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		// Take from a while it is behind b in proportion.
		if j == len(b) || (i < len(a) && i*len(b) <= j*len(a)) {
			out = append(out, a[i])
			i++
		} else {
			out = append(out, b[j])
			j++
		}
	}
	return out
}

// k256 is SHA-256's 64 round constants (FIPS 180-4, 4.2.2): the first 32
// bits of the fractional parts of the cube roots of the first 64 primes.
// generic.go holds them as the standard prints them; the tests compare the
// kernel with it.
func k256() [64]uint32 {
	var k [64]uint32
	n := 0
	for p := 2; n < len(k); p++ {
		prime := true
		for d := 2; d*d <= p; d++ {
			if p%d == 0 {
				prime = false
				break
			}
		}
		if prime {
			root := math.Cbrt(float64(p))
			k[n] = uint32((root - math.Floor(root)) * (1 << 32))
			n++
		}
	}
	return k
}

func main() {
	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }

	p("// Code generated by mkasm.go; DO NOT EDIT.")
	p("")
	p("//go:build amd64 && !purego")
	p("")
	p(`#include "textflag.h"`)
	p("")
	for i, k := range k256() {
		p("DATA k256<>+%d(SB)/4, $0x%08x", 4*i, k)
	}
	p("GLOBL k256<>(SB), RODATA|NOPTR, $256")
	p("")
	p("// SHA-256's words are big-endian: swap the bytes of each.")
	p("DATA flip256<>+0(SB)/8, $0x0405060700010203")
	p("DATA flip256<>+8(SB)/8, $0x0c0d0e0f08090a0b")
	p("GLOBL flip256<>(SB), RODATA|NOPTR, $16")
	p("")
	p("// SHA1RNDS4 wants the four words in reverse order too: reverse all 16 bytes.")
	p("DATA flip1<>+0(SB)/8, $0x08090a0b0c0d0e0f")
	p("DATA flip1<>+8(SB)/8, $0x0001020304050607")
	p("GLOBL flip1<>(SB), RODATA|NOPTR, $16")
	p("")
	p("// func kernel(h1 *[5]uint32, h256 *[8]uint32, p []byte)")
	p("// Requires: AVX, SHA, SSE4.1, SSSE3")
	p("TEXT ·kernel(SB), NOSPLIT, $80-40")
	p("\tMOVQ h1+0(FP), DI")
	p("\tMOVQ h256+8(FP), BX")
	p("\tMOVQ p_base+16(FP), SI")
	p("\tMOVQ p_len+24(FP), DX")
	p("\tANDQ $~63, DX")
	p("\tJZ done")
	p("\tADDQ SI, DX")
	p("")
	p("\t// 64 bytes of the frame, aligned to 16 for VMOVDQA and SHA1NEXTE:")
	p("\t// SHA-256's ABEF and CDGH, SHA-1's E and ABCD, saved for the feed-forward.")
	p("\tLEAQ 15(SP), CX")
	p("\tANDQ $~15, CX")
	p("")
	p("\t// SHA-256's state, from A..H to ABEF and CDGH.")
	p("\tVMOVDQU (BX), X1")
	p("\tVMOVDQU 16(BX), X2")
	p("\tPSHUFD $0xb1, X1, X1")
	p("\tPSHUFD $0x1b, X2, X2")
	p("\tVMOVDQA X1, X7")
	p("\tPALIGNR $8, X2, X1")
	p("\tPBLENDW $0xf0, X7, X2")
	p("")
	p("\t// SHA-1's state: ABCD reversed, E in the top word of its own register.")
	p("\tVMOVDQU (DI), %s", abcd)
	p("\tPSHUFD $0x1b, %s, %s", abcd, abcd)
	p("\tPXOR %s, %s", e0, e0)
	p("\tPINSRD $3, 16(DI), %s", e0)
	p("\tVMOVDQU flip1<>(SB), %s", mask1)
	p("")
	p("loop:")
	for _, s := range merge(sha1Steps(), sha256Steps()) {
		for _, ins := range s {
			p("\t%s", ins)
		}
		p("")
	}
	p("\tADDQ $64, SI")
	p("\tCMPQ SI, DX")
	p("\tJNE loop")
	p("")
	p("\t// The states back in the digests' order.")
	p("\tPSHUFD $0x1b, %s, %s", abcd, abcd)
	p("\tVMOVDQU %s, (DI)", abcd)
	p("\tPEXTRD $3, %s, 16(DI)", e0)
	p("\tPSHUFD $0x1b, X1, X1")
	p("\tPSHUFD $0xb1, X2, X2")
	p("\tVMOVDQA X1, X7")
	p("\tPBLENDW $0xf0, X2, X1")
	p("\tPALIGNR $8, X7, X2")
	p("\tVMOVDQU X1, (BX)")
	p("\tVMOVDQU X2, 16(BX)")
	p("")
	p("done:")
	p("\tRET")

	if err := os.WriteFile("block_amd64.s", b.Bytes(), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "mkasm:", err)
		os.Exit(1)
	}
}
