// Package db holds hashr's database schema and the loaders that write a
// run's sources, samples, paths and jobs into SQLite (modernc.org/sqlite,
// no cgo) or PostgreSQL (github.com/jackc/pgx/v5).
//
// A Loader commits whole sources only. hashr-load hands it a batch of
// sources whose end record has arrived; their rows are held client side
// (FileRows: memory, then a temporary file), not in an open transaction,
// so that a transaction lasts only as long as the database takes to write
// the batch, and a transaction the server aborts (deadlock, restart,
// connection lost) can be sent again from the same rows. A batch commits
// in one transaction or not at all: a process killed at any moment leaves
// the database as it was after the last commit, and re-running the same
// stream gives the database a clean run gives, because every write is an
// upsert that changes nothing when the row already holds what it brings.
//
// PostgreSQL gets each batch as COPY into session-local staging tables
// followed by one set-based upsert per table (postgres_sql.go); SQLite as
// prepared statements into a staging table and the same upserts, in one
// large transaction with write-ahead logging. A batch that fits in memory
// is sorted by sample, source and path first (batchsort.go), so that the
// databases append to their B-trees and need not sort or group.
//
// The native schema (schema_native.go) is versioned and migrated forward
// when a loader opens the database. SchemaHashR writes HashR's own
// PostgreSQL tables instead (schema_hashr.go).
package db
