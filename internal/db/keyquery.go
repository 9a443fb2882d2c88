package db

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"strings"
)

// keyList stands in a key query for the list of its keys' placeholders.
const keyList = "/*keys*/"

// keyTable stands in a key query for its keys as a table of one column,
// each key once, in SHA-256 order: in SQLite a subquery that splits the
// one parameter bound, a JSON array of the keys in hex; in PostgreSQL
// the one parameter, an array, unnested.
const keyTable = "/*key table*/"

// queryKeys runs query with keyList replaced by an IN list of keys. The
// list is padded with NULLs (which match nothing) to a power of two, so
// that a reader prepares each statement once for a dozen lengths and
// then only binds and steps it: a 1,000-key statement took SQLite longer
// to parse than to run (it finds each of 1,000 "$N" names by a linear
// search of the names before it: 14% of a lookup's CPU), and SQLite's
// placeholders are "?", which it numbers as it reads them.
func (r *Reader) queryKeys(ctx context.Context, query string, keys [][]byte) (*sql.Rows, error) {
	if strings.Contains(query, keyTable) {
		return r.queryKeyTable(ctx, query, keys)
	}
	n := 1 << bits.Len(uint(max(len(keys)-1, 0)))
	args := make([]any, n) // nil: NULL
	for i, k := range keys {
		args[i] = k
	}
	stmt, err := r.prepared(ctx, r.keyStatement(query, n))
	if err != nil {
		return nil, err
	}
	return stmt.QueryContext(ctx, args...)
}

// queryKeyTable runs query with keyTable replaced by a table of keys made
// from one parameter: in SQLite the keys, sorted, one after another in
// one blob, which a recursive subquery cuts into keys of their width (the
// second parameter). hashr-lookup's keys were 1,024 "(?)" rows of a
// VALUES list first: SQLite compiled that list into a statement of its
// own for each length (its parse alone 13 ms and 1.4 MB of fresh memory
// a run over /usr/share/man), and each key was a parameter of its own to
// convert and bind. Then a JSON array of the keys in hex, split by
// json_each: SQLite's unhex took 3,000 instructions a key (callgrind,
// modernc's SQLite), and the key table 11,800 a key where the blob's
// takes 9,800. In SHA-256 order, the keys' descents into samples_sources
// go through its interior pages in turn, each read once a batch (4% fewer
// reads than in input order). The keys must all be of one width (one
// digest's): keys of several widths are refused.
//
// Each key appears once in the table: a key twice in a batch (two files
// of the same content) would otherwise join its links twice.
//
// PostgreSQL takes the keys as one bytea[] parameter, unnested: one
// statement for every length, and no text to decode.
func (r *Reader) queryKeyTable(ctx context.Context, query string, keys [][]byte) (*sql.Rows, error) {
	sorted := distinctKeys(keys)
	if r.pg {
		stmt, err := r.prepared(ctx, r.keyStatement(query, len(sorted)))
		if err != nil {
			return nil, err
		}
		return stmt.QueryContext(ctx, sorted)
	}
	width := 0
	if len(sorted) > 0 {
		width = len(sorted[0])
	}
	blob := make([]byte, 0, len(sorted)*width)
	for _, k := range sorted {
		if len(k) != width || width == 0 {
			return nil, fmt.Errorf("looking up keys of %d and %d bytes in one statement: give it keys of one digest", width, len(k))
		}
		blob = append(blob, k...)
	}
	stmt, err := r.prepared(ctx, r.keyStatement(query, len(sorted)))
	if err != nil {
		return nil, err
	}
	return stmt.QueryContext(ctx, blob, width)
}

// keyStatement is the statement queryKeys prepares for query and n keys
// (n a power of two for keyList).
func (r *Reader) keyStatement(query string, n int) string {
	switch {
	case !strings.Contains(query, keyTable):
		return strings.Replace(query, keyList, r.placeholders(n), 1)
	case r.pg:
		return strings.Replace(query, keyTable, `(SELECT unnest($1::bytea[]))`, 1)
	}
	return strings.Replace(query, keyTable, sqliteKeyTable, 1)
}

// distinctKeys returns keys sorted, each once (a new slice; the keys
// themselves are not copied).
func distinctKeys(keys [][]byte) [][]byte {
	sorted := slices.SortedFunc(slices.Values(keys), compareDigests)
	return slices.CompactFunc(sorted, bytes.Equal)
}

// compareDigests orders digests as bytes.Compare does, by their first 8
// bytes as a number first: sorting a bulk's 1,000 keys and its samples
// takes some 20,000 comparisons, and bytes.Compare's call into
// assembly for 20 or 32 bytes was a tenth of hashr-serve's instructions
// for a bulk. Random digests nearly always differ in those 8 bytes.
func compareDigests(a, b []byte) int {
	if len(a) >= 8 && len(b) >= 8 {
		if x, y := binary.BigEndian.Uint64(a), binary.BigEndian.Uint64(b); x != y {
			return cmp.Compare(x, y)
		}
	}
	return bytes.Compare(a, b)
}

// sqliteKeyTable is SQLite's table of keys: the blob ?1 cut into keys of
// ?2 bytes, in order.
const sqliteKeyTable = `(WITH RECURSIVE at(i) AS (SELECT 1 UNION ALL SELECT i + ?2 FROM at WHERE i + ?2 <= length(?1))
	SELECT substr(?1, i, ?2) FROM at)`

// placeholders is a list of n parameters: ?,?,… in SQLite, $1,$2,… in
// PostgreSQL.
func (r *Reader) placeholders(n int) string {
	if !r.pg {
		return strings.TrimSuffix(strings.Repeat("?,", n), ",")
	}
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("$" + strconv.Itoa(i+1))
	}
	return b.String()
}

// prepared returns the statement for query, prepared on first use and
// kept until Close; database/sql prepares it again on each connection
// that runs it.
func (r *Reader) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	r.stmtsMu.Lock()
	defer r.stmtsMu.Unlock()
	if stmt, ok := r.stmts[query]; ok {
		return stmt, nil
	}
	stmt, err := r.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if r.stmts == nil {
		r.stmts = map[string]*sql.Stmt{}
	}
	r.stmts[query] = stmt
	return stmt, nil
}

func (r *Reader) closeStatements() {
	r.stmtsMu.Lock()
	defer r.stmtsMu.Unlock()
	for _, stmt := range r.stmts {
		stmt.Close()
	}
	r.stmts = nil
}
