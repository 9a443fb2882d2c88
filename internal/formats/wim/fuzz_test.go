package wim

import (
	"bytes"
	"testing"
)

// FuzzWalker walks arbitrary bytes as a WIM: errors are fine, panics,
// hangs and unbounded memory are not. Seeds: testdata/fuzz/FuzzWalker,
// small WIMs wimlib-imagex made (none, XPRESS, LZX, solid XPRESS).
func FuzzWalker(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = exercise(data)
	})
}

// FuzzLZX decodes arbitrary bytes as an LZX chunk of the size its first
// two bytes say: errors are fine, panics are not. Seeds: chunks of
// files wimlib-imagex compressed (testdata/fuzz/FuzzLZX).
func FuzzLZX(f *testing.F) {
	var d lzxDecoder
	out := make([]byte, 32768+lzxSlack)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		usize := 1 + (int(data[0]) | int(data[1]&0x7f)<<8)
		_ = d.decode(data[2:], out[:usize])
	})
}

// FuzzSplit walks two arbitrary byte strings as the parts of a split WIM
// (NewSplitWalker): errors are fine, panics, hangs and unbounded memory
// are not. Seed: a two-part split of the LZX seed WIM made by
// wimlib-imagex split (scripts/mkfuzzseeds-windows.sh).
func FuzzSplit(f *testing.F) {
	f.Fuzz(func(t *testing.T, a, b []byte) {
		w, err := NewSplitWalker([]Part{{R: bytes.NewReader(a), Size: int64(len(a))}, {R: bytes.NewReader(b), Size: int64(len(b))}})
		if err != nil {
			return
		}
		_ = walkExercise(w)
	})
}
