package db

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
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

// citusLayouts are each schema's tables, in an order in which a table
// comes after those its foreign keys reference (HashR's layout has some).
var citusLayouts = map[string][]citusTable{
	SchemaNative: {{"sources", ""}, {"jobs", ""}, {"samples", "sha256"}, {"samples_sources", "sample_sha256"}, {"payloads", "sha256"}},
	SchemaHashR:  {{"sources", ""}, {"jobs", ""}, {"samples", "sha256"}, {"samples_sources", "sample_sha256"}, {"payloads", "sha256"}},
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
