package wim

import (
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
