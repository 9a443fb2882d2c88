package digest

import (
	"bytes"
	"testing"
)

// go test -run '^$' -bench . ./internal/digest
//
// BenchmarkAlgo gives each algorithm's speed on one core (the figures
// behind the cost table that balances lanes); BenchmarkHasher the one-pass
// Hasher fed by Write on one goroutine; BenchmarkReadFrom a long input read
// by ReadFrom, which spreads the algorithms over the cores.

func BenchmarkAlgo(b *testing.B) {
	buf := randomBytes(1, BufferSize)
	for _, a := range All.Algos() {
		b.Run(a.String(), func(b *testing.B) {
			h := New(Set(a))
			b.SetBytes(int64(len(buf)))
			for b.Loop() {
				h.Write(buf)
			}
		})
	}
}

func BenchmarkHasher(b *testing.B) {
	buf := randomBytes(1, BufferSize)
	for _, set := range []Set{Default, All} {
		b.Run(set.String(), func(b *testing.B) {
			h := New(set)
			b.SetBytes(int64(len(buf)))
			for b.Loop() {
				h.Write(buf)
			}
		})
	}
}

// BenchmarkSmallFiles is the per-file cost: Reset, a few KiB, Sum.
func BenchmarkSmallFiles(b *testing.B) {
	buf := randomBytes(1, 4096)
	h := New(Default)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		h.Reset()
		h.Write(buf)
		h.Sum()
	}
}

func BenchmarkReadFrom(b *testing.B) {
	buf := randomBytes(1, 64<<20)
	for _, set := range []Set{Default, All} {
		for _, fanout := range []bool{false, true} {
			name := set.String() + "/one-goroutine"
			if fanout {
				name = set.String() + "/lanes"
			}
			b.Run(name, func(b *testing.B) {
				h := New(set)
				if !fanout {
					h.lanes = nil
				}
				b.SetBytes(int64(len(buf)))
				for b.Loop() {
					h.Reset()
					h.ReadFrom(bytes.NewReader(buf))
				}
			})
		}
	}
}
