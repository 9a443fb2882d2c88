package lookup

import (
	"io"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/db"
	"github.com/hashr-dev/hashr/pkg/records"
)

// BenchmarkWriteKnownFile writes a hashed file's record with its answer,
// one source, as hashr-lookup over a tree does for every known file.
func BenchmarkWriteKnownFile(b *testing.B) {
	size := int64(4400)
	w := records.NewWriter(io.Discard)
	rw := newRecordWriter(nil, w, &options{})
	links := []db.Link{{Source: []byte(strings.Repeat("s", 32)), IDs: []string{"tree:1db20570273ab9d0"}, Paths: []string{"/usr/share/man/man1/ls.1.gz"}}}
	for b.Loop() {
		f := &records.File{Path: "/usr/share/man/man1/ls.1.gz", Size: &size, Mode: "0644", Mtime: "2025-04-07T10:38:46Z",
			MD5: strings.Repeat("ab", 16), SHA1: strings.Repeat("cd", 20), SHA256: strings.Repeat("ef", 32), MIME: "application/gzip"}
		q := &query{file: f, known: true, matches: []*db.SampleLinks{{Links: links}}}
		if err := rw.write(q); err != nil {
			b.Fatal(err)
		}
	}
}
