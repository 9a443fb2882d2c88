package db

import (
	"context"
	"encoding/binary"
	"io"
	"strings"

	"github.com/jackc/pgx/v5"
)

// The loader's large COPYs (the staged links, and the direct path's new
// samples and links) are encoded here in COPY's binary format and handed
// to pgconn, not to pgx's CopyFrom: pgx takes each row as a []any and
// looks each value's encoding up in its type map, so the batch's rows
// were boxed into interfaces, an allocation for most cells, and every
// value went through a lookup and an interface call. With the collection
// of that garbage it was a fifth of hashr-load's instructions (47,670 a
// record against 37,300 without, at GOGC=100; allocations 17.3 a record
// against 9.0: bench/README.md, load21h). The columns are known and few
// (bytea, text, bigint, boolean, text[]), so the format's few rules are
// written out below and checked against pgx's own encoding of the same
// rows (pgcopy_test.go).

// copyBinarySignature begins COPY's binary format: the signature, flags
// (none) and the header extension's length (none).
var copyBinarySignature = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

// textOID is the element type of a text[] in its binary form.
const textOID = 25

// copyRow appends COPY's binary fields of one row to b.
type copyRow struct{ b []byte }

// fields begins a row of n fields.
func (w *copyRow) fields(n int) { w.b = binary.BigEndian.AppendUint16(w.b, uint16(n)) }

func (w *copyRow) null() { w.b = binary.BigEndian.AppendUint32(w.b, 0xffffffff) }

// bytea writes v, NULL when it is nil (as pgx writes a nil []byte).
func (w *copyRow) bytea(v []byte) {
	if v == nil {
		w.null()
		return
	}
	w.b = binary.BigEndian.AppendUint32(w.b, uint32(len(v)))
	w.b = append(w.b, v...)
}

// text writes s; its bytes are the binary form of text.
func (w *copyRow) text(s string) {
	w.b = binary.BigEndian.AppendUint32(w.b, uint32(len(s)))
	w.b = append(w.b, s...)
}

// textOrNull writes s, NULL when it is empty (nullText's rule).
func (w *copyRow) textOrNull(s string) {
	if s == "" {
		w.null()
		return
	}
	w.text(s)
}

// int8OrNull writes a bigint, NULL when it is negative (nullSize's rule).
func (w *copyRow) int8OrNull(n int64) {
	if n < 0 {
		w.null()
		return
	}
	w.b = binary.BigEndian.AppendUint32(w.b, 8)
	w.b = binary.BigEndian.AppendUint64(w.b, uint64(n))
}

func (w *copyRow) boolean(v bool) {
	w.b = binary.BigEndian.AppendUint32(w.b, 1)
	if v {
		w.b = append(w.b, 1)
	} else {
		w.b = append(w.b, 0)
	}
}

// textArray writes a one-dimensional text[] with no NULL element: its
// dimension (of length 0 when it is empty, as pgx writes it), then each
// element as text; NULL when ss is nil (as pgx writes a nil []string).
func (w *copyRow) textArray(ss []string) {
	if ss == nil {
		w.null()
		return
	}
	size := 20
	for _, s := range ss {
		size += 4 + len(s)
	}
	w.b = binary.BigEndian.AppendUint32(w.b, uint32(size))
	w.b = binary.BigEndian.AppendUint32(w.b, 1) // dimensions
	w.b = binary.BigEndian.AppendUint32(w.b, 0) // no NULL element
	w.b = binary.BigEndian.AppendUint32(w.b, textOID)
	w.b = binary.BigEndian.AppendUint32(w.b, uint32(len(ss)))
	w.b = binary.BigEndian.AppendUint32(w.b, 1) // lower bound
	for _, s := range ss {
		w.text(s)
	}
}

// copyChunk is about how much of the stream copyStream encodes ahead of
// its reader: pgconn sends COPY data in messages of up to 64 KiB.
const copyChunk = 64 << 10

// copyStream is rows in COPY's binary format, encoded a chunk at a time
// as pgconn reads them, so a batch's rows are never held encoded whole.
type copyStream struct {
	rows   int
	encode func(w *copyRow, i int) // appends row i's fields
	at     int
	w      copyRow
	off    int // of w.b, read so far
	begun  bool
	ended  bool
}

func (s *copyStream) Read(p []byte) (int, error) {
	if s.off == len(s.w.b) {
		if s.ended {
			return 0, io.EOF
		}
		s.w.b, s.off = s.w.b[:0], 0
		if !s.begun {
			s.w.b = append(s.w.b, copyBinarySignature...)
			s.begun = true
		}
		for ; s.at < s.rows && len(s.w.b) < copyChunk; s.at++ {
			s.encode(&s.w, s.at)
		}
		if s.at == s.rows {
			s.w.b = binary.BigEndian.AppendUint16(s.w.b, 0xffff) // the trailer
			s.ended = true
		}
	}
	n := copy(p, s.w.b[s.off:])
	s.off += n
	return n, nil
}

// copyBinary writes rows into table's columns by COPY in binary format,
// each row's fields appended by encode, and returns the rows written.
func copyBinary(ctx context.Context, tx pgx.Tx, table string, columns []string, rows int, encode func(w *copyRow, i int)) (int64, error) {
	quoted := make([]string, len(columns))
	for i, c := range columns {
		quoted[i] = pgx.Identifier{c}.Sanitize()
	}
	sql := "COPY " + pgx.Identifier{table}.Sanitize() + " (" + strings.Join(quoted, ", ") + ") FROM STDIN (FORMAT binary)"
	tag, err := tx.Conn().PgConn().CopyFrom(ctx, &copyStream{rows: rows, encode: encode}, sql)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}
