// Package dbtest reads hashr databases back for tests: table dumps that
// compare two databases row by row, and counts.
package dbtest

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"
)

// Tables are the tables a dump compares, in both schemas.
var Tables = []string{"sources", "samples", "samples_sources", "payloads", "jobs"}

// Volatile are columns that differ between two runs of the same stream:
// the time a job was loaded.
var Volatile = []string{"imported_at"}

// Open opens a database URL as a database/sql handle.
func Open(t testing.TB, dbURL string) *sql.DB {
	t.Helper()
	driver, dsn := "pgx", dbURL
	if path, ok := strings.CutPrefix(dbURL, "sqlite:"); ok {
		driver, dsn = "sqlite", strings.TrimPrefix(path, "//")+"?_pragma=busy_timeout(60000)"
	}
	sqldb, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sqldb.Close() })
	return sqldb
}

// Dump returns every table's rows as sorted text lines, without the
// volatile columns, so two databases compare with reflect.DeepEqual.
func Dump(t testing.TB, dbURL string) map[string][]string {
	t.Helper()
	return DumpExcept(t, dbURL)
}

// DumpExcept is Dump leaving out more columns, of any table: what differs
// between two runs of the same pipeline, such as the durations in jobs.ms.
func DumpExcept(t testing.TB, dbURL string, columns ...string) map[string][]string {
	t.Helper()
	skip := append(slices.Clone(Volatile), columns...)
	sqldb := Open(t, dbURL)
	out := map[string][]string{}
	for _, table := range Tables {
		rows, err := sqldb.QueryContext(context.Background(), "SELECT * FROM "+table)
		if err != nil {
			t.Fatalf("dumping %s: %v", table, err)
		}
		cols, _ := rows.Columns()
		var lines []string
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatalf("dumping %s: %v", table, err)
			}
			var b strings.Builder
			for i, c := range cols {
				if slices.Contains(skip, strings.ToLower(c)) {
					continue
				}
				fmt.Fprintf(&b, "%s=%s ", c, format(vals[i]))
			}
			lines = append(lines, b.String())
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("dumping %s: %v", table, err)
		}
		rows.Close()
		slices.Sort(lines)
		out[table] = lines
	}
	return out
}

func format(v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case []byte:
		return fmt.Sprintf("%x", v)
	default:
		return fmt.Sprint(v)
	}
}

// Count runs a SELECT count(*)-like query and returns its number.
func Count(t testing.TB, dbURL, query string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := Open(t, dbURL).QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// Diff describes how two dumps differ, or returns "" when they are equal.
func Diff(a, b map[string][]string) string {
	var out strings.Builder
	for _, table := range Tables {
		x, y := a[table], b[table]
		if slices.Equal(x, y) {
			continue
		}
		fmt.Fprintf(&out, "table %s: %d rows vs %d rows\n", table, len(x), len(y))
		inX, inY := set(x), set(y)
		shown := 0
		for _, line := range x {
			if !inY[line] && shown < 5 {
				fmt.Fprintf(&out, "  only in first:  %s\n", line)
				shown++
			}
		}
		for _, line := range y {
			if !inX[line] && shown < 10 {
				fmt.Fprintf(&out, "  only in second: %s\n", line)
				shown++
			}
		}
	}
	return out.String()
}

func set(lines []string) map[string]bool {
	m := make(map[string]bool, len(lines))
	for _, l := range lines {
		m[l] = true
	}
	return m
}
