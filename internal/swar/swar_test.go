package swar

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// marks is what each function should find in w, asked byte by byte.
func marks(w [8]byte) (below map[byte]bool, equal map[byte]bool, nonASCII bool) {
	below, equal = map[byte]bool{}, map[byte]bool{}
	for n := range 0x81 {
		for _, b := range w {
			below[byte(n)] = below[byte(n)] || b < byte(n)
		}
	}
	for _, b := range w {
		equal[b] = true
		nonASCII = nonASCII || b >= 0x80
	}
	return below, equal, nonASCII
}

func check(t *testing.T, w [8]byte) {
	t.Helper()
	below, equal, nonASCII := marks(w)
	v := binary.LittleEndian.Uint64(w[:])
	for n := range 0x81 {
		if got := Below(v, byte(n)) != 0; got != below[byte(n)] {
			t.Fatalf("% x: Below(%#x) found %v, want %v", w, n, got, below[byte(n)])
		}
	}
	for c := range 256 {
		if got := Equal(v, byte(c)) != 0; got != equal[byte(c)] {
			t.Fatalf("% x: Equal(%#x) found %v, want %v", w, c, got, equal[byte(c)])
		}
	}
	if got := NonASCII(v) != 0; got != nonASCII {
		t.Fatalf("% x: NonASCII found %v, want %v", w, got, nonASCII)
	}
}

// Every byte value at every place of a word of plain bytes ('a'), and
// after a byte that the tricks mark wrongly when borrowing (0x00 and 0x80
// before it).
func TestEveryByteEveryPlace(t *testing.T) {
	for _, fill := range []byte{'a', 0x00, 0x80, 0xff} {
		for at := range 8 {
			for b := range 256 {
				var w [8]byte
				for i := range w {
					w[i] = 'a'
				}
				if at > 0 {
					w[at-1] = fill
				}
				w[at] = byte(b)
				check(t, w)
			}
		}
	}
}

func TestRandomWords(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		var w [8]byte
		for i := range w {
			// Mostly bytes near the edges the tricks test.
			switch r.IntN(4) {
			case 0:
				w[i] = byte(r.IntN(256))
			case 1:
				w[i] = byte(0x1e + r.IntN(4))
			case 2:
				w[i] = byte(0x7e + r.IntN(4))
			default:
				w[i] = "\"\\a\x00"[r.IntN(4)]
			}
		}
		check(t, w)
	}
}
