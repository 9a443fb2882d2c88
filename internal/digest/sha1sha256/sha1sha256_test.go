package sha1sha256

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"math/rand/v2"
	"testing"
)

// input is n bytes that differ from one seed to the next.
func input(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, uint64(n)))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func check(t *testing.T, what string, d *Digest, want []byte) {
	t.Helper()
	got1, got256 := d.Sums()
	if w := sha1.Sum(want); got1 != w {
		t.Fatalf("%s: sha1 %x, crypto/sha1 %x", what, got1, w)
	}
	if w := sha256.Sum256(want); got256 != w {
		t.Fatalf("%s: sha256 %x, crypto/sha256 %x", what, got256, w)
	}
}

// TestLengths covers every length around the padding's two cases (room
// for the length in the last block or not) over the first few blocks, in
// one write and byte by byte.
func TestLengths(t *testing.T) {
	for n := range 5*BlockSize + 1 {
		b := input(n, 1)
		d := New()
		d.Write(b)
		check(t, "one write", d, b)
		d.Reset()
		for i := range b {
			d.Write(b[i : i+1])
		}
		check(t, "byte by byte", d, b)
	}
}

// TestSplitWrites writes long inputs in random pieces, so that the partial
// block carried between writes meets every offset.
func TestSplitWrites(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 3))
	for range 200 {
		b := input(r.IntN(1<<16), r.Uint64())
		d := New()
		for rest := b; len(rest) > 0; {
			k := min(len(rest), r.IntN(3*BlockSize+1))
			d.Write(rest[:k])
			rest = rest[k:]
		}
		check(t, "split", d, b)
	}
}

// TestSumsLeavesDigest: writing after Sums goes on from where it was.
func TestSumsLeavesDigest(t *testing.T) {
	b := input(1000, 4)
	d := New()
	d.Write(b[:300])
	check(t, "first part", d, b[:300])
	d.Write(b[300:])
	check(t, "whole", d, b)
}

// TestKernelAgainstGeneric holds the assembly to the Go block functions
// directly, from states other than the initial ones.
func TestKernelAgainstGeneric(t *testing.T) {
	if !haveKernel {
		t.Skip("no SHA extensions on this CPU: the Go block functions are the code")
	}
	r := rand.New(rand.NewPCG(5, 6))
	for range 500 {
		var h1 [5]uint32
		var h256 [8]uint32
		for i := range h1 {
			h1[i] = r.Uint32()
		}
		for i := range h256 {
			h256[i] = r.Uint32()
		}
		p := input(BlockSize*r.IntN(9)+r.IntN(BlockSize), r.Uint64())
		g1, g256 := h1, h256
		blocksGeneric(&g1, &g256, p)
		kernel(&h1, &h256, p)
		if h1 != g1 || h256 != g256 {
			t.Fatalf("%d bytes: kernel %x %x, Go %x %x", len(p), h1, h256, g1, g256)
		}
	}
}

// TestGeneric holds the Go block functions to crypto/sha1 and
// crypto/sha256 through a Digest, whatever the CPU.
func TestGeneric(t *testing.T) {
	d := New()
	for n := range 3*BlockSize + 1 {
		b := input(n, 7)
		d.Reset()
		blocksGeneric(&d.h1, &d.h256, b)
		whole := n &^ (BlockSize - 1)
		d.len = uint64(whole)
		d.Write(b[whole:])
		check(t, "generic", d, b)
	}
}

func FuzzDigest(f *testing.F) {
	f.Add([]byte(""), uint8(0))
	f.Add([]byte("abc"), uint8(1))
	f.Add(bytes.Repeat([]byte{0xff}, 200), uint8(63))
	f.Fuzz(func(t *testing.T, b []byte, split uint8) {
		d := New()
		k := min(len(b), int(split))
		d.Write(b[:k])
		d.Write(b[k:])
		check(t, "fuzz", d, b)
	})
}

// BenchmarkDigest compares the kernel with crypto/sha1 then crypto/sha256
// over the same 64 KiB, hashr's slice size.
func BenchmarkDigest(b *testing.B) {
	buf := input(64<<10, 8)
	b.Run("sha1sha256", func(b *testing.B) {
		b.SetBytes(int64(len(buf)))
		d := New()
		for b.Loop() {
			d.Write(buf)
		}
	})
	b.Run("crypto", func(b *testing.B) {
		b.SetBytes(int64(len(buf)))
		h1, h256 := sha1.New(), sha256.New()
		for b.Loop() {
			h1.Write(buf)
			h256.Write(buf)
		}
	})
}
