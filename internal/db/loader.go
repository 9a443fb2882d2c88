package db

import (
	"context"
	"fmt"
	"time"
)

// Table layouts a loader writes.
const (
	// SchemaNative is hashr's own layout: binary digests, md5/sha1/sha512
	// and more per sample, jobs with per-stage durations, hex views.
	SchemaNative = "native"
	// SchemaHashR is HashR's PostgreSQL layout, column for column, so an
	// existing HashR database keeps filling and its queries keep working.
	// It cannot mark a sample untrusted: suspect ones are left out
	// (postgres_sql.go, pgHashRPurge).
	SchemaHashR = "hashr"
)

// Options configure a Loader.
type Options struct {
	Schema     string // SchemaNative (default) or SchemaHashR
	Payloads   bool   // store the bytes of new samples
	PayloadMax int64  // largest payload stored, in bytes
	// Bulk loads an empty PostgreSQL database with its secondary indexes
	// dropped, built by BulkLoader.BuildIndexes (bulk.go); on a database
	// that is not empty the loader loads as usual and says why.
	Bulk bool
	// RetryFor bounds how long a transaction the server aborted, or could
	// not run because the server is unreachable, is retried.
	RetryFor time.Duration
	// Logf receives notes for --verbose: retries, reconnections.
	Logf func(format string, args ...any)
	// Infof receives what a user should hear of unless --quiet: the
	// tables it distributed on Citus.
	Infof func(format string, args ...any)
}

func (o *Options) infof(format string, args ...any) {
	if o.Infof != nil {
		o.Infof(format, args...)
	}
}

func (o *Options) logf(format string, args ...any) {
	if o.Logf != nil {
		o.Logf(format, args...)
	}
}

// Loader writes complete sources into a database.
type Loader interface {
	// Load commits the sources in one transaction: all of them or, when
	// it returns an error, none. Transactions the server aborts are
	// retried for Options.RetryFor.
	Load(ctx context.Context, sources []*Source) (Stats, error)
	Close() error
}

// Open connects to the database at loc, creating or migrating its schema.
func Open(ctx context.Context, loc Location, opts Options) (Loader, error) {
	if opts.Schema == "" {
		opts.Schema = SchemaNative
	}
	if opts.Schema != SchemaNative && opts.Schema != SchemaHashR {
		return nil, fmt.Errorf("unknown schema %q: want %s or %s", opts.Schema, SchemaNative, SchemaHashR)
	}
	switch loc.Driver {
	case SQLite:
		if opts.Schema == SchemaHashR {
			return nil, fmt.Errorf("--schema hashr writes HashR's PostgreSQL tables: it needs a postgres:// database")
		}
		if opts.Bulk {
			return nil, fmt.Errorf("--bulk builds PostgreSQL's indexes after the load: it needs a postgres:// database")
		}
		return openSQLite(ctx, loc, opts)
	case Postgres:
		return openPostgres(ctx, loc, opts)
	}
	return nil, fmt.Errorf("unknown database driver %q", loc.Driver)
}
