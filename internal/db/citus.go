package db

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// On a database with the citus extension (Citus, the distributed
// PostgreSQL), hashr's tables are distributed when they are created, or
// when a loader first meets them undistributed: the per-sample tables
// (samples, samples_sources, payloads) are hash-distributed across the
// workers by the sample's SHA-256 and co-located, so a sample, its links
// and its payload live on one shard, a lookup by SHA-256 goes to that one
// shard, and every upsert's conflict target (a primary key holding the
// sample's SHA-256) is checked on its shard alone. sources and jobs, one
// row per package and far fewer than samples, are reference tables: a
// copy on every node, so joining any shard's links to their sources stays
// on that node. The migrations table stays on the coordinator, which alone
// reads it.

// citusTable is how one table is laid out on Citus.
type citusTable struct {
	name string
	// column distributes it by hash; none makes it a reference table.
	column string
}

// citusLayouts are each schema's tables, in the order they are
// distributed. HashR's layout has none: its samples_sources has foreign
// keys to samples and to sources, and Citus distributes neither end of
// such a chain as it stands (a reference table's foreign-key neighbours
// become coordinator-local tables, which then cannot be distributed), so
// its tables stay on the coordinator, as on one PostgreSQL.
var citusLayouts = map[string][]citusTable{
	SchemaNative: {{"sources", ""}, {"jobs", ""}, {"samples", "sha256"}, {"samples_sources", "sample_sha256"}, {"payloads", "sha256"}},
}

// hasCitus says whether the database has the citus extension.
func hasCitus(ctx context.Context, tx pgx.Tx) (bool, error) {
	var n int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM pg_extension WHERE extname = 'citus'`).Scan(&n); err != nil {
		return false, fmt.Errorf("looking for the citus extension: %w", err)
	}
	if n == 0 {
		return false, nil
	}
	// The schema's statements run one after another on one connection
	// per worker: DDL and distribution in one transaction need it.
	if _, err := tx.Exec(ctx, `SET LOCAL citus.multi_shard_modify_mode TO 'sequential'`); err != nil {
		return false, fmt.Errorf("setting citus.multi_shard_modify_mode: %w", err)
	}
	return true, nil
}

// distribute lays out the schema's existing tables that are not yet
// distributed as citusLayouts says, and returns their names.
func distribute(ctx context.Context, tx pgx.Tx, schema string) ([]string, error) {
	var done []string
	for _, t := range citusLayouts[schema] {
		var exists, distributed bool
		if err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL,
				EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = to_regclass($1))`, t.name).Scan(&exists, &distributed); err != nil {
			return done, fmt.Errorf("reading how %s is distributed: %w", t.name, err)
		}
		if !exists || distributed {
			continue
		}
		call, args := `SELECT create_reference_table($1)`, []any{t.name}
		if t.column != "" {
			call, args = `SELECT create_distributed_table($1, $2, colocate_with => $3)`, []any{t.name, t.column, "default"}
			if t.name != "samples" {
				args[2] = "samples"
			}
		}
		if _, err := tx.Exec(ctx, call, args...); err != nil {
			return done, fmt.Errorf("distributing %s on Citus: %w", t.name, err)
		}
		done = append(done, t.name)
	}
	return done, nil
}

// citusNote is the line a loader writes when it distributed tables.
func citusNote(tables []string) string {
	return fmt.Sprintf("the database has the citus extension: distributed %s (samples, samples_sources and payloads by the sample's sha256, co-located; sources and jobs as reference tables)",
		strings.Join(tables, ", "))
}

// pgNativeCitus are the native schema's statements for Citus. Citus plans
// a subquery that correlates a distributed table with a local one (the
// session's staging tables) only by pulling one side to the other, which
// it does for uncorrelated subqueries and CTEs but refuses for correlated
// ones ("direct joins between distributed and local tables are not
// supported"). So the two statements that ask "is this staged row in a
// distributed table?" with a correlated NOT EXISTS ask it here of a
// set computed first; on one PostgreSQL the correlated form stays, whose
// anti-join plans do not depend on the set fitting in work_mem.
var pgNativeCitus = func() pgStatements {
	s := pgNative
	s.missingPayloads = `
WITH held AS (SELECT p.sha256 FROM payloads p WHERE p.sha256 IN (SELECT sha256 FROM hashr_stage_files))
SELECT DISTINCT ON (f.sha256) f.sha256, f.local, f.size, f.path, f.source
FROM hashr_stage_files f
WHERE f.sha256 NOT IN (SELECT sha256 FROM held)
ORDER BY f.sha256, f.seq`
	s.linkMissingPayloads = `
WITH held AS (SELECT p.sha256 FROM payloads p WHERE p.sha256 IN (SELECT sha256 FROM hashr_stage_links WHERE first))
SELECT l.sha256, l.local, l.size, l.paths[1], l.source
FROM hashr_stage_links l
WHERE l.first AND l.sha256 NOT IN (SELECT sha256 FROM held)`
	s.distrust = `
UPDATE samples_sources r SET failed = true
FROM sources s
WHERE s.status = 'failed' AND r.source_sha256 = s.sha256 AND NOT r.failed
	AND s.sha256 IN (SELECT sha256 FROM hashr_stage_sources WHERE sha256 IS NOT NULL AND status <> 'failed')
	AND (r.sample_sha256, r.source_sha256) NOT IN (
		SELECT sha256, source FROM hashr_stage_files UNION ALL SELECT sha256, source FROM hashr_stage_links)`
	return s
}()

// citusNodeLost are the messages of the errors a Citus coordinator
// reports, as internal_error (XX000), when a connection to a worker
// failed in the middle of a transaction: the worker stopped or restarted.
// Trying again reaches it once it is back. (When the coordinator cannot
// connect at all, it reports connection_failure, 08006, which is
// retried as any connection error.)
var citusNodeLost = []string{
	"failure on connection marked as essential",
	"connection to the remote node",
	"could not establish any connections to the node",
	"connection not open",
	"server closed the connection unexpectedly",
}

// citusNodeGone says whether a server error is Citus's for a worker that
// went away.
func citusNodeGone(pgErr *pgconn.PgError) bool {
	if pgErr.Code != "XX000" {
		return false
	}
	for _, m := range citusNodeLost {
		if strings.Contains(pgErr.Message, m) {
			return true
		}
	}
	return false
}
