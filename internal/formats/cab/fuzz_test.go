package cab

import "testing"

// FuzzWalker walks arbitrary bytes as a cabinet: errors are fine, panics,
// hangs and unbounded memory are not. Seeds: testdata/fuzz/FuzzWalker,
// small cabinets gcab made (stored, MSZIP, signed).
func FuzzWalker(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = exercise(data)
	})
}
