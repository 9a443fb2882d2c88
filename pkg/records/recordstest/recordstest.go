// Package recordstest reads and writes records in tests, so that each
// stage's tests do not hand-roll it: a stage's NDJSON output decoded into
// typed records, the records of one type picked out, records written as
// a stage's input lines.
package recordstest

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/pkg/records"
)

// Decode decodes every line of a stage's NDJSON output into its typed
// record, in order; blank lines are skipped. A line that is not a record
// fails the test, naming it.
func Decode(t testing.TB, ndjson string) []records.Record {
	t.Helper()
	var recs []records.Record
	for line := range strings.Lines(ndjson) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		rec, err := records.Unmarshal([]byte(line))
		if err != nil {
			t.Fatalf("output line %q: %v", line, err)
		}
		recs = append(recs, rec)
	}
	return recs
}

// Raws reads NDJSON as a stage reads it, into records.Raw; a line that
// is not a record fails the test.
func Raws(t testing.TB, ndjson []byte) []*records.Raw {
	t.Helper()
	var raws []*records.Raw
	r := records.NewReader(bytes.NewReader(ndjson), "stream")
	for {
		raw, err := r.Next()
		if errors.Is(err, io.EOF) {
			return raws
		}
		if err != nil {
			t.Fatalf("reading records: %v", err)
		}
		raws = append(raws, raw)
	}
}

// Raw reads one line as a stage reads it.
func Raw(t testing.TB, line string) *records.Raw {
	t.Helper()
	raws := Raws(t, []byte(line))
	if len(raws) != 1 {
		t.Fatalf("want one record, got %d from %q", len(raws), line)
	}
	return raws[0]
}

// Of returns the records of type T, in order.
func Of[T records.Record](recs []records.Record) []T {
	var of []T
	for _, rec := range recs {
		if r, ok := rec.(T); ok {
			of = append(of, r)
		}
	}
	return of
}

// Only returns the records as type T, failing the test at the first that
// is another type.
func Only[T records.Record](t testing.TB, recs []records.Record) []T {
	t.Helper()
	of := make([]T, 0, len(recs))
	for _, rec := range recs {
		r, ok := rec.(T)
		if !ok {
			line, _ := records.Marshal(rec)
			t.Fatalf("output has a %s record, want only %T: %s", rec.RecordType(), r, line)
		}
		of = append(of, r)
	}
	return of
}

// Lines writes records as NDJSON input lines, each ending in a newline.
func Lines(t testing.TB, recs ...records.Record) string {
	t.Helper()
	var b strings.Builder
	for _, rec := range recs {
		line, err := records.Marshal(rec)
		if err != nil {
			t.Fatalf("encoding a %s record: %v", rec.RecordType(), err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.String()
}
