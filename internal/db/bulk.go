package db

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// A bulk load (Options.Bulk, hashr-load --bulk) fills an empty PostgreSQL
// database without its secondary indexes, and builds them once at the
// end: building an index over sorted rows costs far less than updating it
// row by row (samples' md5 and sha1 hash indexes took about half of the
// samples' inserts; bench/README.md). The keys stay, so the upserts and
// the rows they leave are the same as a normal load's.
//
// The dropped indexes' definitions are kept in hashr_pending_indexes until
// they are built again, and the table dropped then. The bulk loader holds a session advisory lock
// (bulkLockKey) while it loads; a loader that opens the database and finds
// pending indexes with no bulk loader holding that lock (one that was
// killed) builds them before it loads, so a database is never left
// without its indexes for longer than until the next hashr-load.

// BulkLoader is a Loader that can load in bulk (Options.Bulk).
type BulkLoader interface {
	Loader
	// BulkRefused says why the bulk load asked for was not started (the
	// database is not empty, another bulk load is running); "" when it
	// was, or none was asked for. A refused loader loads as usual.
	BulkRefused() string
	// BuildIndexes builds the indexes the bulk load dropped; nothing for
	// a loader that is not loading in bulk.
	BuildIndexes(ctx context.Context) error
}

// bulkLockKey is held by a bulk loader's connection while its indexes are
// dropped: "hashr-bk" in ASCII.
const bulkLockKey = 0x6861736872_2d626b

// bulkTables are the tables a bulk load needs empty and drops the
// secondary indexes of.
var bulkTables = []string{"sources", "samples", "samples_sources", "jobs", "payloads"}

const pgPendingIndexes = `CREATE TABLE IF NOT EXISTS hashr_pending_indexes (
	name text PRIMARY KEY,
	definition text NOT NULL
)`

// startBulk drops the secondary indexes of an empty database, in the
// schema's transaction, and says why not when it does not.
func (l *pgLoader) startBulk(ctx context.Context, tx pgx.Tx) (refused string, err error) {
	var locked bool
	if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, int64(bulkLockKey)).Scan(&locked); err != nil {
		return "", err
	}
	if !locked {
		return "another hashr-load --bulk is loading this database", nil
	}
	var empty bool
	var checks []string
	for _, t := range bulkTables {
		checks = append(checks, "NOT EXISTS (SELECT 1 FROM "+t+")")
	}
	if err := tx.QueryRow(ctx, "SELECT "+strings.Join(checks, " AND ")).Scan(&empty); err != nil {
		return "", err
	}
	if !empty {
		_, err := tx.Exec(ctx, `SELECT pg_advisory_unlock($1)`, int64(bulkLockKey))
		return "the database is not empty", err
	}
	if _, err := tx.Exec(ctx, pgPendingIndexes); err != nil {
		return "", err
	}
	// Every index but the keys: the upserts need those.
	if _, err := tx.Exec(ctx, `
INSERT INTO hashr_pending_indexes (name, definition)
SELECT i.indexname, i.indexdef FROM pg_indexes i JOIN pg_index x ON x.indexrelid = to_regclass(quote_ident(i.schemaname) || '.' || quote_ident(i.indexname))
WHERE i.schemaname = current_schema() AND i.tablename = ANY($1) AND NOT x.indisunique
ON CONFLICT (name) DO NOTHING`, bulkTables); err != nil {
		return "", fmt.Errorf("listing the indexes to drop: %w", err)
	}
	rows, err := tx.Query(ctx, `SELECT name FROM hashr_pending_indexes ORDER BY name`)
	if err != nil {
		return "", err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", err
	}
	for _, name := range names {
		if _, err := tx.Exec(ctx, "DROP INDEX IF EXISTS "+pgx.Identifier{name}.Sanitize()); err != nil {
			return "", fmt.Errorf("dropping index %s: %w", name, err)
		}
	}
	l.bulk = true
	return "", nil
}

// buildPendingIndexes builds the indexes a bulk load dropped, unless a
// bulk loader (another, or this one when mine is false) still holds them
// dropped. It runs in the schema's transaction, or in one of its own.
func (l *pgLoader) buildPendingIndexes(ctx context.Context, tx pgx.Tx, mine bool) error {
	var pending bool
	if err := tx.QueryRow(ctx, `SELECT to_regclass('hashr_pending_indexes') IS NOT NULL`).Scan(&pending); err != nil || !pending {
		return err
	}
	if !mine {
		var free bool
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, int64(bulkLockKey)).Scan(&free); err != nil || !free {
			return err // a bulk load is running: it builds them
		}
	}
	rows, err := tx.Query(ctx, `SELECT name, definition FROM hashr_pending_indexes ORDER BY name`)
	if err != nil {
		return err
	}
	type index struct{ Name, Definition string }
	indexes, err := pgx.CollectRows(rows, pgx.RowToStructByPos[index])
	if err != nil {
		return err
	}
	// Built, the indexes leave no trace: the database is as a normal
	// load leaves it.
	if _, err := tx.Exec(ctx, `DROP TABLE hashr_pending_indexes`); err != nil {
		return err
	}
	if len(indexes) == 0 {
		return nil
	}
	// The sorts of the builds fit in memory instead of spilling to disk.
	if _, err := tx.Exec(ctx, `SET LOCAL maintenance_work_mem = '1GB'`); err != nil {
		return err
	}
	for _, ix := range indexes {
		l.opts.logf("%s: building index %s", l.loc, ix.Name)
		if _, err := tx.Exec(ctx, ix.Definition); err != nil {
			return fmt.Errorf("building index %s (%s): %w", ix.Name, ix.Definition, err)
		}
	}
	return nil
}

func (l *pgLoader) BulkRefused() string { return l.bulkRefused }

func (l *pgLoader) BuildIndexes(ctx context.Context) error {
	if !l.bulk {
		return nil
	}
	_, err := retry(ctx, l.opts.RetryFor, l.logRetry, l.retryable, func(ctx context.Context) error {
		tx, err := l.begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(ctx)
		if err := l.buildPendingIndexes(ctx, tx, true); err != nil {
			return err
		}
		if err := tx.Commit(ctx); err != nil {
			return err
		}
		_, err = l.conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, int64(bulkLockKey))
		return err
	})
	if err != nil {
		return fmt.Errorf("building the indexes of %s after the bulk load: %w", l.loc, err)
	}
	l.bulk = false
	return nil
}

var errBulkSchema = errors.New("--bulk loads hashr's native tables, not --schema hashr")
