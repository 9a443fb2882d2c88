package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hashr-dev/hashr/internal/db/pgtest"
)

// What the server is asked to do, in counts rather than times
// (-server-stats): every statement a run sends (pg_stat_statements with
// track = all, so COPY, utility statements and the statements inside
// functions count too), its rows, the shared buffers it hit, read, dirtied
// and wrote, the local buffers of temporary tables, and the write-ahead
// log it wrote; and the server's whole WAL (pg_stat_wal, which counts
// commits and the background processes' too). Per file record, so that
// hashr-load's runs and COPY's compare directly.

// serverStatsSettings load pg_stat_statements into the bench's server.
var serverStatsSettings = []string{
	"shared_preload_libraries=pg_stat_statements",
	"pg_stat_statements.track=all",
	"pg_stat_statements.track_utility=on",
	"pg_stat_statements.max=10000",
}

// statsReset empties the server's statement and WAL counters, before a
// run whose counts are wanted.
func statsReset(ctx context.Context, pg *pgtest.Server) error {
	return pg.Exec(ctx, "postgres", `CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
SELECT pg_stat_statements_reset(); SELECT pg_stat_reset_shared('wal')`)
}

// statementCounts are one statement's counters, summed over its calls.
type statementCounts struct {
	query                                           string
	calls, rows                                     int64
	sharedHit, sharedRead, sharedDirtied, sharedWrt int64
	localHit, localDirtied, localWritten, tempWrt   int64
	walRecords, walFPI                              int64
	walBytes                                        float64
	execMS                                          float64 // total_exec_time
}

// spaces collapses a statement's text to one line.
var spaces = regexp.MustCompile(`\s+`)

// statsPrint writes what the server did for the run into dbURL since the
// last statsReset: each statement of that database, then the totals, per
// file record.
func statsPrint(ctx context.Context, w io.Writer, pg *pgtest.Server, name, dbURL string, records int) error {
	u, err := url.Parse(dbURL)
	if err != nil {
		return err
	}
	database := strings.TrimPrefix(u.Path, "/")
	conn, err := pgx.Connect(ctx, pg.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	if err := waitForBackends(ctx, conn, database); err != nil {
		return err
	}
	stmts, err := readStatements(ctx, conn, database)
	if err != nil {
		return err
	}
	var walRecords, walFPI, walBytes int64
	if err := conn.QueryRow(ctx, `SELECT wal_records, wal_fpi, wal_bytes::int8 FROM pg_stat_wal`).Scan(&walRecords, &walFPI, &walBytes); err != nil {
		return fmt.Errorf("reading pg_stat_wal: %w", err)
	}
	n := float64(records)
	fmt.Fprintf(w, "\n%s: what the server did, %d file records (pg_stat_statements, track = all)\n\n", name, records)
	fmt.Fprintln(w, "| statement | calls | rows | ms | shared hit / read / dirtied / written | local hit / dirtied / written, temp written | WAL records / FPI / bytes |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|")
	var sum statementCounts
	for _, s := range stmts {
		q := s.query
		if len(q) > 90 {
			q = q[:90] + "…"
		}
		fmt.Fprintf(w, "| `%s` | %d | %d | %.0f | %d / %d / %d / %d | %d / %d / %d, %d | %d / %d / %.0f |\n", strings.ReplaceAll(q, "|", "\\|"),
			s.calls, s.rows, s.execMS, s.sharedHit, s.sharedRead, s.sharedDirtied, s.sharedWrt, s.localHit, s.localDirtied, s.localWritten,
			s.tempWrt, s.walRecords, s.walFPI, s.walBytes)
		sum.calls, sum.rows, sum.execMS = sum.calls+s.calls, sum.rows+s.rows, sum.execMS+s.execMS
		sum.sharedHit, sum.sharedRead, sum.sharedDirtied = sum.sharedHit+s.sharedHit, sum.sharedRead+s.sharedRead, sum.sharedDirtied+s.sharedDirtied
		sum.localHit, sum.localDirtied, sum.localWritten = sum.localHit+s.localHit, sum.localDirtied+s.localDirtied, sum.localWritten+s.localWritten
		sum.walRecords, sum.walFPI, sum.walBytes = sum.walRecords+s.walRecords, sum.walFPI+s.walFPI, sum.walBytes+s.walBytes
	}
	fmt.Fprintf(w, "\nstatements' execution time %.0f ms in all\n", sum.execMS)
	fmt.Fprintf(w, "per file record: %.4f statements, %.3f rows, shared %.2f hit %.3f read %.3f dirtied, local %.2f hit %.3f dirtied, "+
		"statements' WAL %.2f records %.4f FPI %.0f bytes; the server's whole WAL %.2f records %.4f FPI %.0f bytes\n",
		float64(sum.calls)/n, float64(sum.rows)/n, float64(sum.sharedHit)/n, float64(sum.sharedRead)/n, float64(sum.sharedDirtied)/n,
		float64(sum.localHit)/n, float64(sum.localDirtied)/n, float64(sum.walRecords)/n, float64(sum.walFPI)/n, sum.walBytes/n,
		float64(walRecords)/n, float64(walFPI)/n, float64(walBytes)/n)
	return nil
}

// waitForBackends waits until the database has no backend left: a backend
// adds its counters to the shared ones when it exits, a moment after its
// client has gone.
func waitForBackends(ctx context.Context, conn *pgx.Conn, database string) error {
	for range 100 {
		var left int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = $1`, database).Scan(&left); err != nil {
			return err
		}
		if left == 0 {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

// readStatements reads the counters of the database's statements, those
// that wrote the most WAL first.
func readStatements(ctx context.Context, conn *pgx.Conn, database string) ([]statementCounts, error) {
	rows, err := conn.Query(ctx, `
SELECT query, calls, rows, shared_blks_hit, shared_blks_read, shared_blks_dirtied, shared_blks_written,
	local_blks_hit, local_blks_dirtied, local_blks_written, temp_blks_written, wal_records, wal_fpi, wal_bytes::float8, total_exec_time
FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
WHERE d.datname = $1 ORDER BY wal_bytes DESC, shared_blks_hit DESC`, database)
	if err != nil {
		return nil, fmt.Errorf("reading pg_stat_statements: %w", err)
	}
	var stmts []statementCounts
	var c statementCounts
	if _, err := pgx.ForEachRow(rows, []any{&c.query, &c.calls, &c.rows, &c.sharedHit, &c.sharedRead, &c.sharedDirtied,
		&c.sharedWrt, &c.localHit, &c.localDirtied, &c.localWritten, &c.tempWrt, &c.walRecords, &c.walFPI, &c.walBytes, &c.execMS}, func() error {
		c.query = strings.TrimSpace(spaces.ReplaceAllString(c.query, " "))
		stmts = append(stmts, c)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("reading pg_stat_statements: %w", err)
	}
	return stmts, nil
}
