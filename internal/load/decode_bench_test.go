package load

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/hashr-dev/hashr/pkg/records"
	"github.com/hashr-dev/hashr/pkg/records/recordstest"
)

// BenchmarkFileRecord is hashr-load's work per file record before the
// database: decoding the line and converting it into a row.
//
//	go test -run - -bench FileRecord -benchmem ./internal/load/
func BenchmarkFileRecord(b *testing.B) {
	var buf bytes.Buffer
	w := records.NewWriter(&buf)
	for i := range 1000 {
		w.Write(&records.File{Source: fmt.Sprintf("%064x", 7), Path: fmt.Sprintf("usr/lib/package-%05d/dir%02d/file-%03d.so", i/100, i%7, i),
			Size: records.Int64(int64(i) * 37), Mode: "0644", MD5: fmt.Sprintf("%032x", i), SHA1: fmt.Sprintf("%040x", i),
			SHA256: fmt.Sprintf("%064x", i), MIME: "application/x-sharedlib", Seen: records.Bool(false)})
	}
	w.Flush()
	raws := recordstest.Raws(b, buf.Bytes())
	var d fileDecoder
	var digests byteSlab
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f, err := d.decode(raws[i%len(raws)])
		if err != nil {
			b.Fatal(err)
		}
		if _, err := fileRow(f, &digests); err != nil {
			b.Fatal(err)
		}
	}
}
