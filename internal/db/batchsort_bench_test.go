package db

import (
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"
)

// benchBatch is a batch of 500 sources of 100 file rows each, 40% of
// their contents shared, as bench/loadbench generates.
func benchBatch(b *testing.B) []*Source {
	var sources []*Source
	for i := range 500 {
		src := sha256.Sum256(fmt.Appendf(nil, "source %d", i))
		s := &Source{SHA256: src[:], Files: NewFileRows(1000, nil)}
		for j := range 100 {
			content := fmt.Sprintf("unique %d/%d", i, j)
			if (i*100+j)%5 < 2 {
				content = fmt.Sprintf("shared %d", (i*7919+j)%5000)
			}
			sum := sha256.Sum256([]byte(content))
			if err := s.Files.Add(File{SHA256: sum[:], MD5: sum[:16], SHA1: sum[:20], Size: int64(j),
				MIME: "application/x-sharedlib", Path: fmt.Sprintf("usr/lib/p-%05d/dir%02d/file-%03d.so", i, j%7, j)}); err != nil {
				b.Fatal(err)
			}
		}
		sources = append(sources, s)
	}
	return sources
}

// BenchmarkSortedFiles is the loader's client work on a batch of 50,000
// file rows before COPY: sorting them and grouping them into link rows.
//
//	go test -run - -bench SortedFiles -benchmem ./internal/db/
func BenchmarkSortedFiles(b *testing.B) {
	sources := benchBatch(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rows, ok, err := sortedFiles(sources)
		if err != nil || !ok {
			b.Fatal(err, ok)
		}
		linkRows(rows, false)
	}
}

// BenchmarkCopyRows is the loader's whole client work on a batch of 50,000
// file rows that are all new (an empty database): sorting and grouping
// them, the probe's key array, and encoding the direct COPYs' rows of new
// samples and links in COPY's binary format (copyStream), with no server.
//
//	go test -run - -bench CopyRows -benchmem -cpuprofile /tmp/copy.prof ./internal/db/
func BenchmarkCopyRows(b *testing.B) {
	sources := benchBatch(b)
	m := pgtype.NewMap()
	var buf []byte
	var w copyRow
	b.ReportAllocs()
	for b.Loop() {
		rows, ok, err := sortedFiles(sources)
		if err != nil || !ok {
			b.Fatal(err, ok)
		}
		links := linkRows(rows, false)
		keys := sampleKeys(links)
		if buf, err = m.Encode(pgtype.ByteaArrayOID, pgtype.BinaryFormatCode, keys, buf[:0]); err != nil {
			b.Fatal(err)
		}
		for i := range links {
			w.b = w.b[:0]
			if links[i].first {
				links[i].encodeSample(&w)
			}
			links[i].encodeLink(&w)
		}
	}
}
