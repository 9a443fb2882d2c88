package db

import (
	"context"
	"database/sql"
	"math/bits"
	"strconv"
	"strings"
)

// keyList stands in a key query for the list of its keys' placeholders.
const keyList = "/*keys*/"

// keyRows stands in a key query for its keys as rows of a VALUES list:
// (?),(?),…
const keyRows = "/*key rows*/"

// queryKeys runs query with keyList replaced by an IN list of keys. The
// list is padded with NULLs (which match nothing) to a power of two, so
// that a reader prepares each statement once for a dozen lengths and
// then only binds and steps it: a 1,000-key statement took SQLite longer
// to parse than to run (it finds each of 1,000 "$N" names by a linear
// search of the names before it: 14% of a lookup's CPU), and SQLite's
// placeholders are "?", which it numbers as it reads them.
func (r *Reader) queryKeys(ctx context.Context, query string, keys [][]byte) (*sql.Rows, error) {
	n := 1 << bits.Len(uint(max(len(keys)-1, 0)))
	args := make([]any, n) // nil: NULL
	for i, k := range keys {
		args[i] = k
	}
	query = strings.Replace(query, keyList, r.placeholders(n), 1)
	query = strings.Replace(query, keyRows, "("+strings.ReplaceAll(r.placeholders(n), ",", "),(")+")", 1)
	stmt, err := r.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	return stmt.QueryContext(ctx, args...)
}

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
