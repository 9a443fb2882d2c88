package store

import (
	"testing"
	"time"
)

// BenchmarkMark marks chunks of 4096 digests, three in four new, the way
// hashr-dedup does; ns/op is per digest.
func BenchmarkMark(b *testing.B) {
	s, err := Open(b.TempDir(), Options{MinFreeBytes: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	m := s.NewMarker()
	const chunk = 4096
	items := make([]Item, chunk)
	seen := make([]bool, chunk)
	n := 0
	b.ResetTimer()
	for i := 0; i < b.N; i += chunk {
		for j := range items {
			id := n
			if n%4 == 3 {
				id = n / 2
			}
			items[j] = Item{Key: digest(id)}
			n++
		}
		if err := m.Mark(items, seen, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/digest")
}
