package load

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/pkg/records"
)

// BenchmarkReadRecords is hashr-load's client work per record before its
// committers, on a stream of about 50,000 file records: reading the lines
// (records.Reader), decoding file records, converting them into rows and
// holding them in their sources, batched. It needs no server, so its
// allocations and CPU profile can be read on a busy machine:
//
//	go test -run - -bench ReadRecords -benchmem -cpuprofile /tmp/read.prof ./internal/load/
func BenchmarkReadRecords(b *testing.B) {
	input := ndjson(b, makeSources(1, 500, 100))
	lines := bytes.Count(input, []byte("\n"))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ReportAllocs()
	for b.Loop() {
		l := &loader{p: cli.New("hashr-load", nil, io.Discard, io.Discard), out: records.NewWriter(io.Discard),
			o: options{batchFiles: 1 << 30, commitEvery: time.Hour}}
		r := records.NewReader(bytes.NewReader(input), "bench")
		for {
			raw, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			if err := l.handle(raw); err != nil {
				b.Fatal(err)
			}
		}
		closeSources(l.batch)
	}
	runtime.ReadMemStats(&after)
	records := float64(b.N) * float64(lines)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/records, "ns/record")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/records, "allocs/record")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/records, "B/record")
}
