// Package swar asks of the eight bytes of a word at once whether any is
// one the caller must stop at (SIMD within a register): JSON's readers
// and writers pass a string's plain bytes eight at a time this way. Each
// function returns a mask, zero when no byte of the word is such; masks
// are combined with |. The tricks are exact as to whether any byte is
// such, not as to which: a byte after the first such one may be marked
// wrongly, so a caller that finds a nonzero mask looks at the bytes one
// by one.
package swar

const ones, highs = 0x0101010101010101, 0x8080808080808080

// Below marks the bytes of w less than n, which must be at most 0x80.
func Below(w uint64, n byte) uint64 {
	return (w - ones*uint64(n)) &^ w & highs
}

// Equal marks the bytes of w equal to c.
func Equal(w uint64, c byte) uint64 {
	x := w ^ ones*uint64(c) // a zero byte where w's is c
	return (x - ones) &^ x & highs
}

// NonASCII marks the bytes of w at or above 0x80.
func NonASCII(w uint64) uint64 {
	return w & highs
}
