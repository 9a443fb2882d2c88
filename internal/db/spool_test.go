package db

import (
	"strconv"
	"testing"
)

// FileRows gives back every row in the order added, across its chunks
// and the spills between them, and again on a second read.
func TestFileRowsKeepsOrderAcrossChunksAndSpills(t *testing.T) {
	for _, c := range []struct{ rows, memLimit int }{
		{0, 10}, {1, 10}, {4, 10}, {5, 100}, {10_000, 100_000}, {10_000, 3000}, {7, 1}, {9000, 4096},
	} {
		rows := NewFileRows(c.memLimit, func() (string, error) { return t.TempDir(), nil })
		for i := range c.rows {
			if err := rows.Add(File{Path: strconv.Itoa(i), Size: int64(i)}); err != nil {
				t.Fatal(err)
			}
		}
		if rows.Len() != c.rows {
			t.Errorf("%+v: Len %d", c, rows.Len())
		}
		for read := range 2 {
			i := 0
			for f, err := range rows.All() {
				if err != nil {
					t.Fatal(err)
				}
				if f.Path != strconv.Itoa(i) || f.Size != int64(i) {
					t.Fatalf("%+v, read %d: row %d is %+v", c, read, i, f)
				}
				i++
			}
			if i != c.rows {
				t.Errorf("%+v, read %d: %d rows, want %d", c, read, i, c.rows)
			}
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
