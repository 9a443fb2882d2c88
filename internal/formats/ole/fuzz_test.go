package ole

import "testing"

// FuzzWalker walks arbitrary bytes as a compound file: errors are fine,
// panics, hangs and unbounded memory are not. Seeds:
// testdata/fuzz/FuzzWalker, a small MSI wixl made and an OLE file gsf
// made.
func FuzzWalker(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = exercise(data)
	})
}
