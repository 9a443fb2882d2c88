// Package load is hashr-load: the last stage of a pipeline, which writes
// sources, samples, sample↔source paths and jobs into SQLite or PostgreSQL
// (internal/db), one whole source at a time.
package load

import (
	"context"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/db"
)

// Main runs hashr-load with the given arguments and streams, and returns
// its exit status.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	p := cli.New("hashr-load", stdin, stdout, stderr)
	return p.Execute(NewCommand(p), args)
}

// options are hashr-load's flags.
type options struct {
	dbURL       string
	schema      string
	payloads    bool
	payloadMax  int64
	retryFor    time.Duration
	batchFiles  int
	commitEvery time.Duration
	bulk        bool
	inputs      []string
}

const long = `
hashr-load writes a run's records into a database: each source (a
package, an archive, an image), the samples found in it (one row per
distinct SHA-256, with its other digests, size and MIME type), the paths
of each sample in each source, and a job per source (keyed by its
quick_sha256: status, error, file counts, per-stage durations).

--db sqlite:PATH (the default is sqlite:hashr.db) needs no server.
--db postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE uses PostgreSQL, or
any server that speaks its protocol; many hashr-load processes may load
into one at once. There the samples and links a batch brings new are
written by COPY straight into their tables, the rest through upserts;
a batch some of whose new rows another process wrote first is written
again through the upserts alone (--verbose says so). The schema is
created on first use and migrated forward. Digests are stored as bytes, with md5, sha1 and sha256 indexed:
look one up with unhex('HEX') in SQLite or decode('HEX', 'hex') in
PostgreSQL; the views samples_hex, sources_hex, samples_sources_hex and
jobs_hex show them as hex. --schema hashr writes HashR's own tables
instead (PostgreSQL only), so an existing HashR database keeps filling;
they cannot mark a sample untrusted, so there the samples and paths of
failed sources and failed members are not written at all, and a re-run
that fails removes what an earlier run wrote (a sample another source
holds stays).

A source record's package and verified (hashr-scan --verify) are kept in
its sources row: package as its JSON object, verified as verified_ok,
verified_by, verified_signer and verified_detail. Loaded again, a source
keeps the last package brought, and a verified that said ok over a later
one that found nothing signing the same bytes ("by": "none"); a record
without them (--verify off) changes neither. HashR's tables (--schema
hashr) have no place for them: they are not written there. A refused
source ("refused":true, it failed verification) is loaded with no
samples: its sources row (verified_ok false, status failed) and its job,
failed with its error record's message; without a sha256 (a remote
source no stage read), its job alone.

On a database with the citus extension (Citus, the distributed
PostgreSQL; --db names its coordinator), the schema is created
distributed, with no step by hand: samples, samples_sources and payloads
are spread over the workers by the sample's sha256, co-located (a
sample's rows on one shard), and sources and jobs are reference tables (a
copy on every node). Tables an older hashr-load created there
undistributed are distributed when it next opens them. It says so in one
line on stderr (unless --quiet). A worker that goes away is retried as a
server that does (--retry-for).

A source is committed only when its end record arrives, in one
transaction with the sources finished around it (up to --batch file
records, or --commit-every). Its job is "done"; "partial" when error
records with a path came with it (those members failed their own checks:
their samples are not trusted, the source's others are); or "failed" when
an error record without a path came (a check covering every member
failed: a compressed stream's CRC, a package's digests, a stream cut
short), when its end record counts errors whose records did not come or
files that did not arrive, or when a --payloads file is not the bytes its
sha256 was computed from. No sample of a failed source is known to
hashr-lookup or exported (see their --include-failed), though its rows are
written; the error column holds the messages. hashr-scan --db skips done
sources and retries partial and failed ones. A source
whose end record never arrives leaves nothing behind, so a pipeline
killed at any moment can simply be run again: loading is idempotent, and
loading a stream twice changes nothing. A sample is loaded whether or not
hashr-dedup marked it seen: the database, not the dedup store, is the
truth.

Rows of a source too large for memory are spilled to a directory
hashr-load-* in the temporary directory, removed when the run ends; those
of a run that was killed are removed by the next run (each run holds a
lock on its own).

--bulk is for a first load into an empty PostgreSQL database (a new set,
or one rebuilt from its runs' records): hashr-load drops the secondary
indexes (md5, sha1, sources by sample) and builds them once at the end,
which costs less than updating them row by row; the keys stay, so the rows
are the same as a normal load's. On a database that is not empty, or while
another --bulk load runs, it loads as usual and says so. Until it ends,
lookups by md5 or sha1 scan the table: load in bulk before the set is
used. If it is killed, the next hashr-load builds the indexes first.

When the database goes away, the transaction is retried with backoff for
--retry-for, then hashr-load stops with exit status 1, having committed
nothing of the sources not yet committed.

Stdout carries error records: those that came in, passed through
unchanged, and hashr-load's own (a source it could not load); also
records of types it does not know, unchanged. A summary goes to stderr
unless --quiet.

hashr-load collects its garbage at GOGC=400 (less CPU; about 0.5 GB of
memory at its peak on a long input at the default --batch, against 0.23
GB at GOGC=100) unless GOGC is set. On Linux, where transparent huge
pages are given to memory that asks (madvise, the usual setting), it asks
for them for the first 512 MB of its heap: one page fault for each 2 MB
instead of each 4 KB. GODEBUG=disablethp=1 turns that off.`

const example = `  # The whole pipeline into SQLite:
  hashr-scan ~/mirror | hashr-fetch | hashr-extract | hashr-hash --delete | hashr-dedup | hashr-load --db sqlite:hashr.db

  # Into PostgreSQL, password from the environment, failures kept:
  HASHR_DB=postgres://hashr:$PGPASSWORD@db.example.org/hashr hashr-load run.ndjson > failures.ndjson

  # A new set from many runs' records, indexes built once at the end:
  cat runs/*.ndjson | hashr-load --db postgres://hashr@localhost/hashr --bulk

  # Into an existing HashR database, with file contents:
  hashr-load --db postgres://hashr@localhost/hashr --schema hashr --payloads < run.ndjson

  # Look a file up afterwards (a point query on the sha256 key):
  sqlite3 hashr.db "SELECT lower(hex(sha256)), size, mime FROM samples WHERE sha256 = unhex('$(sha256sum /usr/bin/ls | cut -c1-64)')"`

// NewCommand builds hashr-load's command; its work is done by run.
func NewCommand(p *cli.Program) *cobra.Command {
	var o options
	cmd := p.Command("hashr-load [flags] [FILE...]",
		"Load sources, samples, paths and jobs into SQLite or PostgreSQL", long, example,
		func(ctx context.Context, args []string) error {
			o.inputs = args
			if err := o.validate(); err != nil {
				return err
			}
			return run(ctx, p, o)
		})
	p.AddInputFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&o.dbURL, "db", "sqlite:hashr.db", "database: sqlite:PATH or postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE")
	f.StringVar(&o.schema, "schema", db.SchemaNative, "table layout: native, or hashr for HashR's own PostgreSQL tables")
	f.BoolVar(&o.payloads, "payloads", false, "store the bytes of samples the database has no payload for (read from the file records' local copies)")
	f.Int64Var(&o.payloadMax, "payload-max", 16<<20, "largest payload stored, in bytes; larger files are loaded without one")
	f.DurationVar(&o.retryFor, "retry-for", time.Minute, "how long to retry a transaction while the database is unreachable or aborts it")
	f.IntVar(&o.batchFiles, "batch", 50_000, "file records per transaction: small sources share one, a large source has its own")
	f.DurationVar(&o.commitEvery, "commit-every", 5*time.Second, "longest a finished source waits for its commit")
	f.BoolVar(&o.bulk, "bulk", false, "first load into an empty PostgreSQL database: build the md5, sha1 and other secondary indexes once at the end (loads as usual, with a warning, on a database that is not empty)")
	return cmd
}

func (o *options) validate() error {
	if _, err := db.ParseLocation(o.dbURL); err != nil {
		return cli.Usagef("--db: %w", err)
	}
	if o.schema != db.SchemaNative && o.schema != db.SchemaHashR {
		return cli.Usagef("--schema %q: want native or hashr", o.schema)
	}
	if loc, _ := db.ParseLocation(o.dbURL); o.schema == db.SchemaHashR && loc.Driver != db.Postgres {
		return cli.Usagef("--schema hashr writes HashR's PostgreSQL tables: it needs --db postgres://…")
	}
	if loc, _ := db.ParseLocation(o.dbURL); o.bulk && (loc.Driver != db.Postgres || o.schema != db.SchemaNative) {
		return cli.Usagef("--bulk builds the indexes of hashr's own PostgreSQL tables after the load: it needs --db postgres://… and the native schema")
	}
	if o.payloadMax < 0 {
		return cli.Usagef("--payload-max %d: want a number of bytes, 0 or more", o.payloadMax)
	}
	if o.retryFor < 0 {
		return cli.Usagef("--retry-for %s: want a duration, 0 or more", o.retryFor)
	}
	if o.batchFiles < 1 {
		return cli.Usagef("--batch %d: want 1 or more", o.batchFiles)
	}
	if o.commitEvery <= 0 {
		return cli.Usagef("--commit-every %s: want a positive duration", o.commitEvery)
	}
	return nil
}
