package db

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"

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
// and one of the two lose its COPY nearly every time. Taking turns from
// the probe to the commit (load21c) kept them from racing but serialised
// their server work. Instead each batch claims its samples and sources in
// process (claimBatch) before its first transaction; a later batch writes
// a sample an earlier one still in flight claimed through the upserts, as
// if it existed, so the batches' COPYs of new samples are disjoint, and a
// later batch's probe, its COPYs of new samples and links and its staging
// overlap the earlier one's upserts and commit.
//
// Every wait between the batches of one process is one PostgreSQL sees.
// Each transaction of a batch first takes an advisory lock of its own
// (batchClaim.key), and a later batch waits for the earlier ones' by
// taking theirs shared before its upserts (pgWaitForEarlier). A wait in
// process while holding row locks (load21d's) formed cycles with other
// processes' loaders half out of the server's sight: A's later batch
// waited in process for A's earlier one, which waited in the database on
// a row B's later batch wrote, which waited in process for B's earlier
// one, which waited on a row A's later batch wrote; no deadlock error
// ever ended it. With the wait an advisory lock the deadlock detector
// sees the whole cycle and aborts one transaction (deadlock_detected),
// which is retried (or, met by a direct COPY, written through the
// upserts).
//
// An earlier batch rolled back and retrying no longer holds its lock: the
// later one's upserts then go first, and the earlier one's next
// transaction waits for them at its own lock. That order is as good: the
// two have no source in common (below), so they write no link, source or
// job in common, and the samples they share end with the union of the
// columns brought whichever writes first.
//
// A batch with a source an earlier one in flight has too waits in
// process, before its first transaction, holding nothing, until that one
// has ended: the same source's loads must commit in order (its status is
// its last load's), and the earlier one's upserts lock the links the
// later one's statement for re-run sources would lock. Earlier means
// formed earlier in the stream, not first to claim: the committers
// receive consecutive batches, and the later one, sorted sooner, would
// claim first and commit first (load21f-order; HashR's layout then lost
// every link of a source whose failed run was committed after its
// re-run). So each batch claims in its turn (Turns), once the batch
// formed before it has claimed, and every batch claims its sources, the
// upserts' alone too; those claim no samples and take no lock.
var batchClaims sync.Map // database URL -> *claimList

// claimList is the batches of one process in flight into one database.
type claimList struct {
	mu       sync.Mutex
	inFlight []*batchClaim
}

// batchClaim is a batch's samples, sorted, its sources, its advisory
// lock, and when the batch ended.
type batchClaim struct {
	samples [][]byte
	sources map[string]bool
	key     int32 // with claimSpace, the batch's advisory lock
	done    chan struct{}
}

// claimSpace is the first half of this process's batches' advisory lock
// keys (pg_advisory_xact_lock(int4, int4)), drawn at random; batchSeq
// numbers them. Another process drawing the same makes only a wait more,
// which the server sees too. (The two-key form does not meet the one-key
// form's schemaLockKey.)
var (
	claimSpace = rand.Int32()
	batchSeq   atomic.Int32
)

// pgLockBatch takes a batch's own advisory lock, first in each of its
// transactions: later batches of the process wait for it to end.
const pgLockBatch = `SELECT pg_advisory_xact_lock($1, $2)`

// pgWaitForEarlier waits until the transactions of the earlier batches in
// flight that hold their lock end.
const pgWaitForEarlier = `SELECT count(pg_advisory_xact_lock_shared($1, k)) FROM unnest($2::int4[]) AS k`

// claimBatch claims the samples (sorted) and sources of a batch in the
// database at url, in its turn: it returns the batch's claim, the claims
// of the batches in flight before it, and the function that ends its own.
// When one of them has one of its sources, it first waits for them to end
// (and returns none).
func claimBatch(ctx context.Context, turn *Turn, url string, samples [][]byte, sources []*Source) (mine *batchClaim, earlier []*batchClaim, release func(), err error) {
	if err := turn.wait(ctx); err != nil {
		return nil, nil, func() {}, fmt.Errorf("waiting for the batch before to claim its place: %w", err)
	}
	v, _ := batchClaims.LoadOrStore(url, &claimList{})
	list := v.(*claimList)
	mine = &batchClaim{samples: samples, sources: map[string]bool{}, key: batchSeq.Add(1), done: make(chan struct{})}
	for _, src := range sources {
		if src.SHA256 != nil {
			mine.sources[string(src.SHA256)] = true
		}
	}
	list.mu.Lock()
	earlier = slices.Clone(list.inFlight)
	list.inFlight = append(list.inFlight, mine)
	list.mu.Unlock()
	turn.Pass()
	release = func() {
		list.mu.Lock()
		list.inFlight = slices.DeleteFunc(list.inFlight, func(c *batchClaim) bool { return c == mine })
		list.mu.Unlock()
		close(mine.done)
	}
	for _, c := range earlier {
		for src := range mine.sources {
			if c.sources[src] {
				return mine, nil, release, waitForEarlier(ctx, earlier)
			}
		}
	}
	return mine, earlier, release, nil
}

// waitForEarlier waits in process until every earlier batch has ended;
// only before the batch's first transaction, when it holds no lock.
func waitForEarlier(ctx context.Context, earlier []*batchClaim) error {
	for _, c := range earlier {
		select {
		case <-c.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// earlierKeys are the second halves of the earlier batches' lock keys.
func earlierKeys(earlier []*batchClaim) []int32 {
	keys := make([]int32, len(earlier))
	for i, c := range earlier {
		keys[i] = c.key
	}
	return keys
}

// claimedEarlier marks which of keys (sorted) an earlier batch claimed:
// a merge of sorted lists, no map of the keys.
func claimedEarlier(keys [][]byte, earlier []*batchClaim) []bool {
	claimed := make([]bool, len(keys))
	for _, c := range earlier {
		j := 0
		for i, k := range keys {
			for j < len(c.samples) && bytes.Compare(c.samples[j], k) < 0 {
				j++
			}
			if j < len(c.samples) && bytes.Equal(c.samples[j], k) {
				claimed[i] = true
			}
		}
	}
	return claimed
}

// sampleKeys are the samples of a batch's linkRows, sorted.
func sampleKeys(rows []linkRow) [][]byte {
	var keys [][]byte
	for i := range rows {
		if rows[i].first {
			keys = append(keys, rows[i].sha256)
		}
	}
	return keys
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
// index by source (--bulk drops it). The lookup is a LIMIT 1 subquery,
// which the planner cannot turn into a join: as a join it chose, for
// tables a load had just filled and not yet analysed, to read the whole
// of samples_sources into a hash table at every batch, 10% of the
// backend's processor time in a load of 200,000 records, for a few
// thousand keys (perf, bench/README.md).
const pgProbeLinks = `
SELECT k.sample, k.source FROM unnest($1::bytea[], $2::bytea[]) AS k(sample, source)
	CROSS JOIN LATERAL (SELECT FROM samples_sources r
		WHERE r.sample_sha256 = k.sample AND r.source_sha256 = k.source LIMIT 1) AS r`

// pgProbeSources lists which of a batch's sources exist. A link is
// written in the transaction that writes its source's row, so a source the
// database does not hold has no link: only the held samples' links in held
// sources are probed (pgProbeLinks). In a first load every source is new
// and that probe is not sent: it was 2-5% of the statements' time over
// loadbench's 200,000 records, finding no row (load21j). A link left
// without its source (a row deleted by hand) is met by the COPY's key
// check, and the batch written through the upserts, as when another
// loader wins.
const pgProbeSources = `SELECT sha256 FROM sources WHERE sha256 = ANY($1)`

// heldSources asks which of the sources of rows with a held sample (a key
// of nulls) the database holds.
func heldSources(ctx context.Context, tx pgx.Tx, rows []linkRow, nulls map[string]int32) (map[string]bool, error) {
	seen := map[string]bool{}
	var keys [][]byte
	for i := range rows {
		if _, held := nulls[string(rows[i].sha256)]; held && !seen[string(rows[i].source)] {
			seen[string(rows[i].source)] = true
			keys = append(keys, rows[i].source)
		}
	}
	held := map[string]bool{}
	probe, _ := tx.Query(ctx, pgProbeSources, keys)
	var key []byte
	if _, err := pgx.ForEachRow(probe, []any{&key}, func() error {
		held[string(key)] = true
		return nil
	}); err != nil {
		return nil, fmt.Errorf("asking which of %d sources exist: %w", len(keys), err)
	}
	return held, nil
}

// samplesColumns are the columns of samples the direct COPY writes
// (linkRow.encodeSample), linksColumns those of samples_sources
// (linkRow.encodeLink).
var (
	samplesColumns = []string{"sha256", "md5", "sha1", "sha512", "crc32", "blake3", "ssdeep", "tlsh", "size", "mime"}
	linksColumns   = []string{"sample_sha256", "source_sha256", "paths", "failed"}
)

// directBatch is a sorted batch's linkRows split three ways.
type directBatch struct {
	staged  []*linkRow // through staging and the upserts
	samples []*linkRow // first rows of new samples, COPY into samples
	links   []*linkRow // new links, COPY into samples_sources
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

// claimedMask marks, in splitDirect's nulls, a sample an earlier batch of
// this process claimed and the database does not hold: its first row is
// upserted, never written by COPY.
const claimedMask int32 = -1

// splitDirect asks the database which of the batch's samples (keys, from
// sampleKeys) and links exist, and splits the rows (linkRows, in key
// order) accordingly; a sample an earlier batch claimed counts as held.
func splitDirect(ctx context.Context, tx pgx.Tx, rows []linkRow, keys [][]byte, earlier []*batchClaim) (*directBatch, error) {
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
	if len(nulls) > 0 {
		known, err := heldSources(ctx, tx, rows, nulls)
		if err != nil {
			return nil, err
		}
		for i := range rows {
			if _, held := nulls[string(rows[i].sha256)]; held && known[string(rows[i].source)] {
				samples, sources = append(samples, rows[i].sha256), append(sources, rows[i].source)
			}
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
	for i, claimed := range claimedEarlier(keys, earlier) {
		if _, held := nulls[string(keys[i])]; claimed && !held {
			nulls[string(keys[i])] = claimedMask
		}
	}
	return splitRows(rows, nulls, links), nil
}

// splitRows sends a new sample's row to samples, a new link to links, and
// to staged a link that exists and the first row of an existing sample
// that gains a digest, or of one an earlier batch claimed (whose link is
// then upserted too, new or not).
func splitRows(rows []linkRow, nulls map[string]int32, links map[[2]string]bool) *directBatch {
	d := &directBatch{links: make([]*linkRow, 0, len(rows))}
	gains := false
	for i := range rows {
		r := &rows[i]
		mask, held := nulls[string(r.sha256)]
		if r.first && !held {
			d.samples = append(d.samples, r)
		}
		if r.first {
			gains = held && (mask == claimedMask || gainsDigests(r.sample, mask))
		}
		switch {
		case links[[2]string{string(r.sha256), string(r.source)}], r.first && gains:
			d.staged = append(d.staged, r)
		default:
			d.links = append(d.links, r)
		}
	}
	return d
}

// gainsDigests says whether a sample's first row brings a column the
// database holds NULL (mask: pgProbeSamples').
func gainsDigests(s *File, mask int32) bool {
	for i, b := range s.sampleColumns() {
		if b && mask&(1<<i) != 0 {
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
	if _, err := copyBinary(ctx, tx, "samples", samplesColumns, len(d.samples), func(w *copyRow, i int) { d.samples[i].encodeSample(w) }); err != nil {
		return directErr("writing new samples", err)
	}
	return nil
}

// copyLinks writes the new links, after the statement that fails a re-run
// source's leftover links (distrust), which must not see them.
func (d *directBatch) copyLinks(ctx context.Context, tx pgx.Tx) error {
	if _, err := copyBinary(ctx, tx, "samples_sources", linksColumns, len(d.links), func(w *copyRow, i int) { d.links[i].encodeLink(w) }); err != nil {
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
