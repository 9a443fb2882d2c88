package db

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// DoneJobs returns the quick_sha256 (lowercase hex) of every source whose
// job is done in the database at dbURL, for hashr-scan --db to skip them.
// Failed jobs are not done: they are retried. A database that does not
// exist yet, or has no jobs table, has no done jobs; it is not created.
// Both layouts are read: hashr's own, and HashR's, where a finished job's
// status is "exported".
func DoneJobs(ctx context.Context, dbURL string) (map[string]bool, error) {
	loc, err := ParseLocation(dbURL)
	if err != nil {
		return nil, err
	}
	var done map[string]bool
	switch loc.Driver {
	case SQLite:
		done, err = doneJobsSQLite(ctx, loc.Target)
	case Postgres:
		done, err = doneJobsPostgres(ctx, loc.Target)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the jobs of %s: %w", loc, err)
	}
	return done, nil
}

func doneJobsSQLite(ctx context.Context, path string) (map[string]bool, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return map[string]bool{}, nil
	}
	sqldb, err := sql.Open("sqlite", sqliteDSN(path, true))
	if err != nil {
		return nil, err
	}
	defer sqldb.Close()
	var tables int
	if err := sqldb.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'jobs'`).Scan(&tables); err != nil {
		return nil, err
	}
	if tables == 0 {
		return map[string]bool{}, nil
	}
	rows, err := sqldb.QueryContext(ctx, `SELECT quick_sha256 FROM jobs WHERE status = 'done'`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	done := map[string]bool{}
	for rows.Next() {
		var q []byte
		if err := rows.Scan(&q); err != nil {
			return nil, err
		}
		done[hex.EncodeToString(q)] = true
	}
	return done, rows.Err()
}

func doneJobsPostgres(ctx context.Context, url string) (map[string]bool, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 15 * time.Second
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	// Which layout: hashr's keeps binary digests, HashR's hex text.
	var quickType *string
	if err := conn.QueryRow(ctx, `SELECT data_type FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = 'jobs' AND column_name = 'quick_sha256'`).Scan(&quickType); err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, err
	}
	done := map[string]bool{}
	if quickType == nil {
		return done, nil
	}
	query := `SELECT encode(quick_sha256, 'hex') FROM jobs WHERE status = 'done'`
	if *quickType != "bytea" {
		query = `SELECT lower(quick_sha256) FROM jobs WHERE status IN ('done', 'exported')`
	}
	rows, err := conn.Query(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var q string
		if err := rows.Scan(&q); err != nil {
			return nil, err
		}
		done[strings.ToLower(q)] = true
	}
	return done, rows.Err()
}
