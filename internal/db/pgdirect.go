package db

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Most of a load's rows are new: samples and links the database has never
// held. The loader writes those with COPY straight into samples and
// samples_sources, as a raw COPY of the final rows does (PostgreSQL then
// inserts them a page at a time, with no executor and no speculative
// insertion per row), and sends through the staging tables and their
// upserts only the rows that may meet a row already there: samples that
// exist and gain digests, links that exist, and every source and job.
//
// Which rows are new is asked first, read only (splitDirect). Another
// loader may insert one of them between that question and the COPY: the
// COPY then fails on the table's key (unique_violation), or, the other
// transaction not yet committed, waits for it and fails, or deadlocks
// against it. The batch is then rolled back and written again through the
// upserts alone (pgLoader.Load), which are always right: the key checks
// make the direct path exactly as safe, only dearer when it loses a race.
//
// A deadlock met by the upserts after a direct COPY is retried as any
// other. Only the native schema's batches that the loader sorts in memory
// take it; payloads (which list the staged samples that lack one) and HashR's
// layout (hex keys, suspect rows left out) keep the upserts.

// The loaders of one process into one database (hashr-load's two
// committers) would race each other on every sample their batches share,
// and one of the two lose its COPY nearly every time: they take turns
// from the probe to the commit instead (directTurn), each preparing its
// next batch meanwhile. Other processes' loaders still race, rarely.
var directTurns sync.Map // database URL -> *sync.Mutex

// directTurn waits for this process's turn to write new rows into the
// database at url, and returns the function that ends it.
func directTurn(url string) (done func()) {
	mu, _ := directTurns.LoadOrStore(url, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	return mu.(*sync.Mutex).Unlock
}

// beforeDirectCopy, when set (by tests), runs between the probe and the
// COPY: where another loader's insert makes the direct path fall back.
var beforeDirectCopy func(ctx context.Context)

// pgProbeSamples lists which of a batch's samples exist, and which of
// their columns are NULL: bit i set for samplesColumns[i+1] (sums, as
// PostgreSQL's | and << share one precedence).
const pgProbeSamples = `
SELECT sha256, (md5 IS NULL)::int + (sha1 IS NULL)::int * 2 + (sha512 IS NULL)::int * 4 + (crc32 IS NULL)::int * 8
	+ (blake3 IS NULL)::int * 16 + (ssdeep IS NULL)::int * 32 + (tlsh IS NULL)::int * 64 + (size IS NULL)::int * 128
	+ (mime IS NULL)::int * 256
FROM samples WHERE sha256 = ANY($1)`

// pgProbeLinks lists which of the batch's links of existing samples (a
// new sample has none) exist: one key lookup each, however many sources
// a sample has (an empty file's are millions), and with or without the
// index by source (--bulk drops it).
const pgProbeLinks = `
SELECT r.sample_sha256, r.source_sha256 FROM unnest($1::bytea[], $2::bytea[]) AS k(sample, source)
	JOIN samples_sources r ON r.sample_sha256 = k.sample AND r.source_sha256 = k.source`

// samplesColumns are the columns of samples the direct COPY writes, and
// samplesFromLinks where a sample's first stageLinkColumns row holds them.
var (
	samplesColumns   = []string{"sha256", "md5", "sha1", "sha512", "crc32", "blake3", "ssdeep", "tlsh", "size", "mime"}
	samplesFromLinks = []int{0, 3, 4, 5, 6, 7, 8, 9, 10, 11}
	linksColumns     = []string{"sample_sha256", "source_sha256", "paths", "failed"}
	linksFromLinks   = []int{0, 1, 12, 14}
)

// directBatch is a sorted batch's stageLinkColumns rows split three ways.
type directBatch struct {
	staged  [][]any // through staging and the upserts
	samples [][]any // first rows of new samples, COPY into samples
	links   [][]any // new links, COPY into samples_sources
}

// errDirectLost marks a direct COPY that met another transaction's row.
var errDirectLost = errors.New("another loader wrote some of the batch's new rows first")

// canCopyDirect says whether this loader's batches may take the direct
// path. Not on Citus: its coordinator sends the probe's whole key array
// to every shard the keys fall in (EXPLAIN: each task's index condition
// is sha256 = ANY of all of them), so the probe costs shards times keys,
// and the coordinator's backend spent its CPU deparsing them: 100,000
// records into 2 workers took 13.0 s against the upserts' 4.9 s
// (bench/load-vs-main.sh -db, one round), and the 30M set's first slice
// loaded at 6,710 records a second against one PostgreSQL's 47,341.
func (l *pgLoader) canCopyDirect() bool {
	return l.opts.Schema == SchemaNative && !l.opts.Payloads && l.sql != &pgNativeCitus
}

// splitDirect asks the database which of the batch's samples and links
// exist, and splits the rows (linkRows, in key order) accordingly.
func splitDirect(ctx context.Context, tx pgx.Tx, rows [][]any) (*directBatch, error) {
	var keys [][]byte
	for _, r := range rows {
		if r[2].(bool) {
			keys = append(keys, r[0].([]byte))
		}
	}
	nulls := map[string]int32{}
	probe, _ := tx.Query(ctx, pgProbeSamples, keys)
	var key []byte
	var mask int32
	if _, err := pgx.ForEachRow(probe, []any{&key, &mask}, func() error {
		nulls[string(key)] = mask
		return nil
	}); err != nil {
		return nil, fmt.Errorf("asking which of %d samples exist: %w", len(keys), err)
	}
	links := map[[2]string]bool{}
	var samples, sources [][]byte
	for _, r := range rows {
		if _, held := nulls[string(r[0].([]byte))]; held {
			samples, sources = append(samples, r[0].([]byte)), append(sources, r[1].([]byte))
		}
	}
	if len(samples) > 0 {
		probe, _ := tx.Query(ctx, pgProbeLinks, samples, sources)
		var sample, source []byte
		if _, err := pgx.ForEachRow(probe, []any{&sample, &source}, func() error {
			links[[2]string{string(sample), string(source)}] = true
			return nil
		}); err != nil {
			return nil, fmt.Errorf("asking which of %d links exist: %w", len(samples), err)
		}
	}
	return splitRows(rows, nulls, links), nil
}

// splitRows sends a new sample's row to samples, a new link to links, and
// to staged a link that exists and the first row of an existing sample
// that gains a digest (whose link is then upserted too, new or not).
func splitRows(rows [][]any, nulls map[string]int32, links map[[2]string]bool) *directBatch {
	d := &directBatch{links: make([][]any, 0, len(rows))}
	gains := false
	for _, r := range rows {
		sample, source := r[0].([]byte), r[1].([]byte)
		mask, held := nulls[string(sample)]
		first := r[2].(bool)
		if first && !held {
			d.samples = append(d.samples, r)
		}
		if first {
			gains = held && gainsDigests(r, mask)
		}
		switch {
		case links[[2]string{string(sample), string(source)}], first && gains:
			d.staged = append(d.staged, r)
		default:
			d.links = append(d.links, r)
		}
	}
	return d
}

// gainsDigests says whether a sample's first row brings a column the
// database holds NULL (mask: pgProbeSamples').
func gainsDigests(row []any, mask int32) bool {
	for i := range 9 {
		if mask&(1<<i) != 0 && row[3+i] != nil {
			return true
		}
	}
	return false
}

// copySamples writes the new samples, before the upserts so that a lost
// race is found early.
func (d *directBatch) copySamples(ctx context.Context, tx pgx.Tx) error {
	if beforeDirectCopy != nil {
		beforeDirectCopy(ctx)
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"samples"}, samplesColumns, &columnsCopy{rows: d.samples, from: samplesFromLinks}); err != nil {
		return directErr("writing new samples", err)
	}
	return nil
}

// copyLinks writes the new links, after the upserts: the statement that
// fails a re-run source's leftover links (distrust) must not see them.
func (d *directBatch) copyLinks(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"samples_sources"}, linksColumns, &columnsCopy{rows: d.links, from: linksFromLinks}); err != nil {
		return directErr("writing new links", err)
	}
	return nil
}

// directErr marks the errors after which the batch is written again
// through the upserts: another transaction's row met (unique_violation),
// or a deadlock with it.
func directErr(what string, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "23505" || pgErr.Code == "40P01") {
		return fmt.Errorf("%s: %w: %w", what, errDirectLost, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// columnsCopy feeds COPY some columns of rows (from: their indexes), with
// no copy of each row.
type columnsCopy struct {
	rows [][]any
	from []int
	at   int
	row  []any
}

func (c *columnsCopy) Next() bool {
	if c.at >= len(c.rows) {
		return false
	}
	if c.row == nil {
		c.row = make([]any, len(c.from))
	}
	for i, col := range c.from {
		c.row[i] = c.rows[c.at][col]
	}
	c.at++
	return true
}

func (c *columnsCopy) Values() ([]any, error) { return c.row, nil }
func (c *columnsCopy) Err() error             { return nil }
