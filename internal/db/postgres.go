package db

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// pgLoader writes into PostgreSQL (or a server speaking its protocol) over
// one connection: each batch of sources is one transaction, retried whole
// when the server aborts it or goes away.
type pgLoader struct {
	cfg  *pgx.ConnConfig
	conn *pgx.Conn
	loc  Location
	opts Options
	sql  *pgStatements
	// bulk: this loader dropped the secondary indexes (bulk.go) and
	// builds them in BuildIndexes; bulkRefused says why it did not when
	// Options.Bulk asked it to.
	bulk        bool
	bulkRefused string
}

// schemaLockKey serialises schema creation and migration between loaders
// starting at once (pg_advisory_xact_lock): "hashr-db" in ASCII.
const schemaLockKey = 0x6861736872_2d6462

func openPostgres(ctx context.Context, loc Location, opts Options) (Loader, error) {
	cfg, err := pgx.ParseConfig(loc.Target)
	if err != nil {
		return nil, fmt.Errorf("database URL %s: %w", loc, err)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 15 * time.Second
	}
	l := &pgLoader{cfg: cfg, loc: loc, opts: opts, sql: &pgNative}
	if opts.Schema == SchemaHashR {
		l.sql = &pgHashR
	}
	if _, err := retry(ctx, opts.RetryFor, l.logRetry, l.retryable, l.prepareSchema); err != nil {
		l.Close()
		return nil, fmt.Errorf("preparing the schema of %s: %w", loc, err)
	}
	return l, nil
}

func (l *pgLoader) logRetry(format string, args ...any) {
	l.opts.logf("%s: "+format, append([]any{l.loc}, args...)...)
}

// connect (re)opens the connection when there is none or it broke, and
// creates the session's staging tables.
func (l *pgLoader) connect(ctx context.Context) error {
	if l.conn != nil && !l.conn.IsClosed() {
		return nil
	}
	if l.conn != nil {
		l.conn.Close(ctx)
		l.conn = nil
	}
	conn, err := pgx.ConnectConfig(ctx, l.cfg)
	if err != nil {
		return err
	}
	// A batch's staging sorts fit in memory with more than the default
	// 4 MB, instead of spilling to disk; so do its staged rows, in more
	// than the default 8 MB of temp_buffers (set before the first use of
	// a temporary table): a batch of 50,000 file rows stages about 12 MB.
	if _, err := conn.Exec(ctx, "SET work_mem = '64MB'; SET temp_buffers = '256MB'"); err != nil {
		conn.Close(ctx)
		return fmt.Errorf("setting work_mem and temp_buffers: %w", err)
	}
	if _, err := conn.Exec(ctx, pgCreateStaging); err != nil {
		conn.Close(ctx)
		return fmt.Errorf("creating staging tables: %w", err)
	}
	l.conn = conn
	return nil
}

// retryable says whether an error may go away by trying again: the
// server aborted the transaction (deadlock, serialization failure), is
// shutting down or starting up, or the connection failed. Anything else
// (a constraint violated, a password refused) will not.
func (l *pgLoader) retryable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "40001", // serialization_failure
			"40P01", // deadlock_detected
			"55P03", // lock_not_available
			"57P01", // admin_shutdown
			"57P02", // crash_shutdown
			"57P03", // cannot_connect_now
			"53300", // too_many_connections
			"53400": // configuration_limit_exceeded
			return true
		}
		return strings.HasPrefix(pgErr.Code, "08") || // connection_exception
			citusNodeGone(pgErr)
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.As(err, &connectErr), errors.As(err, &netErr),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return true
	}
	return l.conn == nil || l.conn.IsClosed()
}

func (l *pgLoader) Close() error {
	if l.conn == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return l.conn.Close(ctx)
}

// begin starts a transaction, connecting first if the loader has no
// connection (the first batch, or the one after a lost connection).
func (l *pgLoader) begin(ctx context.Context) (pgx.Tx, error) {
	if err := l.connect(ctx); err != nil {
		return nil, err
	}
	return l.conn.Begin(ctx)
}

func (l *pgLoader) prepareSchema(ctx context.Context) error {
	tx, err := l.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(schemaLockKey)); err != nil {
		return err
	}
	citus, err := hasCitus(ctx, tx)
	if err != nil {
		return err
	}
	var native, others int
	if err := tx.QueryRow(ctx, `SELECT count(*) FILTER (WHERE table_name = 'hashr_schema_migrations'),
			count(*) FILTER (WHERE table_name IN ('samples', 'sources', 'samples_sources', 'jobs', 'payloads'))
		FROM information_schema.tables WHERE table_schema = current_schema()`).Scan(&native, &others); err != nil {
		return err
	}
	var distributed []string
	if l.opts.Schema == SchemaHashR {
		if l.opts.Bulk {
			return errBulkSchema
		}
		if native > 0 {
			return errors.New("the database holds hashr's native tables; load it without --schema hashr, or use another database")
		}
		for _, stmt := range hashrTables {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return err
			}
		}
		if citus {
			l.opts.infof("%s: the database has the citus extension, but HashR's layout (--schema hashr) cannot be distributed as it stands (foreign keys): its tables stay on the coordinator", l.loc)
		}
	} else {
		if native == 0 && others > 0 {
			return errors.New("the database holds tables hashr did not create (HashR's own?); load it with --schema hashr, or use another database")
		}
		if distributed, err = l.migrateWithBulk(ctx, tx, citus); err != nil {
			return err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	if len(distributed) > 0 {
		l.opts.infof("%s: %s", l.loc, citusNote(distributed))
	}
	if citus && l.opts.Schema == SchemaNative {
		l.sql = &pgNativeCitus
	}
	return nil
}

// migrateWithBulk migrates the native schema between a bulk load's two
// steps (bulk.go): the indexes a killed one left dropped are built before
// anything else, and this one's dropped once the schema is whole.
func (l *pgLoader) migrateWithBulk(ctx context.Context, tx pgx.Tx, citus bool) ([]string, error) {
	if err := l.buildPendingIndexes(ctx, tx, false); err != nil {
		return nil, fmt.Errorf("building the indexes an interrupted bulk load dropped: %w", err)
	}
	distributed, err := migrateNative(ctx, tx, citus)
	if err != nil || !l.opts.Bulk {
		return distributed, err
	}
	if l.bulkRefused, err = l.startBulk(ctx, tx); err != nil {
		return nil, fmt.Errorf("starting the bulk load: %w", err)
	}
	return distributed, nil
}

// migrateNative applies the native schema's missing migrations. On Citus
// the tables are distributed as soon as they exist, before the later
// migrations, which then change them as distributed tables (the views
// and indexes they add are created on every node); it returns the tables
// it distributed.
func migrateNative(ctx context.Context, tx pgx.Tx, citus bool) ([]string, error) {
	if _, err := tx.Exec(ctx, createMigrationsTable); err != nil {
		return nil, err
	}
	var current int
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM hashr_schema_migrations`).Scan(&current); err != nil {
		return nil, err
	}
	if current > SchemaVersion {
		return nil, fmt.Errorf("the database's schema is version %d, newer than this hashr-load's (%d): use a newer hashr", current, SchemaVersion)
	}
	var distributed []string
	layOut := func() error {
		if !citus {
			return nil
		}
		tables, err := distribute(ctx, tx, SchemaNative)
		distributed = append(distributed, tables...)
		return err
	}
	if err := layOut(); err != nil {
		return nil, err
	}
	now := time.Now().UTC().Format(time.RFC3339)
	for _, m := range nativeMigrations {
		if m.version <= current {
			continue
		}
		for _, stmt := range m.postgres {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return nil, fmt.Errorf("migration %d: %w", m.version, err)
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO hashr_schema_migrations (version, applied_at) VALUES ($1, $2)`, m.version, now); err != nil {
			return nil, err
		}
		if err := layOut(); err != nil {
			return nil, err
		}
	}
	return distributed, nil
}

var _ OrderedLoader = (*pgLoader)(nil)

func (l *pgLoader) Load(ctx context.Context, sources []*Source) (Stats, error) {
	return l.LoadInTurn(ctx, nil, sources)
}

// LoadInTurn loads the batch once the batches of earlier turns have
// claimed their place (claimBatch): a batch with one of their sources
// then commits after them.
func (l *pgLoader) LoadInTurn(ctx context.Context, turn *Turn, sources []*Source) (Stats, error) {
	defer turn.Pass() // however it ends, the next batch need not wait for its place
	var stats Stats
	b, err := l.prepare(sources)
	if err != nil {
		return Stats{}, fmt.Errorf("loading %d sources into %s: %w", len(sources), l.loc, err)
	}
	direct, fallbacks := b.links != nil && l.canCopyDirect(), 0
	// Every batch claims its sources; only the direct path claims its
	// samples, and has its later batches wait for its lock.
	var keys [][]byte
	if direct {
		keys = sampleKeys(b.links)
	}
	claim, earlier, release, err := claimBatch(ctx, turn, l.cfg.ConnString(), keys, sources)
	defer release()
	if err != nil {
		return Stats{}, fmt.Errorf("loading %d sources into %s: %w", len(sources), l.loc, err)
	}
	if direct {
		b.claim, b.earlier = claim, earlier
	}
	n, err := retry(ctx, l.opts.RetryFor, l.logRetry, l.retryable, func(ctx context.Context) error {
		stats = Stats{}
		err := l.loadOnce(ctx, sources, b, &stats, direct)
		if errors.Is(err, errDirectLost) {
			// Another loader wrote some of the new rows first: the
			// upserts merge with them.
			l.rollback(ctx)
			l.logRetry("%v; writing the batch again through the upserts", err)
			direct, fallbacks = false, fallbacks+1
			stats = Stats{}
			err = l.loadOnce(ctx, sources, b, &stats, direct)
		}
		l.rollback(ctx)
		return err
	})
	stats.Attempts, stats.Fallbacks = n, fallbacks
	if err != nil {
		return Stats{Attempts: n}, fmt.Errorf("loading %d sources into %s: %w", len(sources), l.loc, err)
	}
	return stats, nil
}

// preparedBatch is the client's work on a batch, done once, before its
// transaction and whatever retries it: when the file rows fit in memory,
// them sorted and grouped (linkRows), which the next batch's committer
// does while the server writes this one.
type preparedBatch struct {
	files int64
	links []linkRow // nil: the file rows are staged as they come
	// claim is the batch's own (claimBatch), nil when it does not take
	// the direct path; earlier are the batches of this process in flight
	// before it, whose transactions its upserts wait for (pgdirect.go).
	claim   *batchClaim
	earlier []*batchClaim
}

func (l *pgLoader) prepare(sources []*Source) (*preparedBatch, error) {
	rows, sorted, err := sortedFiles(sources)
	if err != nil || !sorted {
		return &preparedBatch{}, err
	}
	return &preparedBatch{files: int64(len(rows)), links: linkRows(rows, l.opts.Payloads)}, nil
}

// rollback ends a transaction a failed try left open, before the next.
func (l *pgLoader) rollback(ctx context.Context) {
	if l.conn != nil && !l.conn.IsClosed() && l.conn.PgConn().TxStatus() != 'I' {
		l.conn.Exec(ctx, "ROLLBACK")
	}
}

// loadOnce writes the batch in one transaction; direct, the new samples
// and links of a batch sorted in memory are written by COPY (pgdirect.go).
func (l *pgLoader) loadOnce(ctx context.Context, sources []*Source, b *preparedBatch, stats *Stats, direct bool) error {
	tx, err := l.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if b.claim != nil {
		// Before anything else: the later batches of this process wait
		// for this transaction at this lock.
		if _, err := tx.Exec(ctx, pgLockBatch, claimSpace, b.claim.key); err != nil {
			return fmt.Errorf("taking the batch's advisory lock: %w", err)
		}
	}

	// A batch that sorts in memory is sent grouped, one row per sample and
	// source; a larger one as file rows, which the database groups.
	samplesSQL, pathsSQL, missingPayloadsSQL := l.sql.linkSamples, l.sql.linkPaths, l.sql.linkMissingPayloads
	var split *directBatch
	if b.links != nil {
		stats.Files = b.files
		if split, err = stageLinks(ctx, tx, b, direct); err != nil {
			return err
		}
	} else {
		samplesSQL, pathsSQL, missingPayloadsSQL = l.sql.samples, l.sql.paths, l.sql.missingPayloads
		files := &fileRowsCopy{sources: sources, withLocal: l.opts.Payloads}
		defer files.close()
		if stats.Files, err = tx.CopyFrom(ctx, pgx.Identifier{"hashr_stage_files"}, stageFileColumns, files); err != nil {
			return fmt.Errorf("staging files: %w", err)
		}
	}
	// Payloads before the sources and jobs: a payload whose bytes are not
	// the ones hashed fails its source's job.
	if l.opts.Payloads {
		if err := l.loadPayloads(ctx, tx, missingPayloadsSQL, stats); err != nil {
			return err
		}
		failChangedPayloads(sources, stats.Problems)
	}
	if err := l.stageSources(ctx, tx, sources); err != nil {
		return err
	}
	distrust, copied := l.sql.distrust, 0
	if split != nil {
		if err := l.writeNewLinks(ctx, tx, split); err != nil {
			return err
		}
		distrust, copied = "", len(split.samples) // done; counted after the upserts' count
	}
	if err := l.sendBatch(ctx, tx, b.earlier, distrust, samplesSQL, pathsSQL, stats); err != nil {
		return err
	}
	stats.NewSamples += int64(copied)
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	stats.Sources = len(sources)
	return nil
}

// stageLinks stages a sorted batch's rows (linkRows); direct, it first
// writes the new samples by COPY and stages only the rows that need an
// upsert, and returns the split with the new links still to write.
func stageLinks(ctx context.Context, tx pgx.Tx, b *preparedBatch, direct bool) (*directBatch, error) {
	var split *directBatch
	rows, encode := len(b.links), func(w *copyRow, i int) { b.links[i].encodeStaged(w) }
	if direct {
		var err error
		if split, err = splitDirect(ctx, tx, b.links, sampleKeys(b.links), b.earlier); err != nil {
			return nil, err
		}
		if err := split.copySamples(ctx, tx); err != nil {
			return nil, err
		}
		rows, encode = len(split.staged), func(w *copyRow, i int) { split.staged[i].encodeStaged(w) }
	}
	if _, err := copyBinary(ctx, tx, "hashr_stage_links", stageLinkColumns, rows, encode); err != nil {
		return nil, fmt.Errorf("staging files: %w", err)
	}
	return split, nil
}

// writeNewLinks fails the leftover links of the batch's re-run sources,
// then writes its new links by COPY, which that statement must not see.
// Both touch only links of the batch's own sources, which no other batch
// of this process in flight has (claimBatch): they need not wait for the
// earlier batches.
func (l *pgLoader) writeNewLinks(ctx context.Context, tx pgx.Tx, split *directBatch) error {
	if l.sql.distrust != "" {
		if _, err := tx.Exec(ctx, l.sql.distrust); err != nil {
			return fmt.Errorf("writing the links of re-run sources: %w", err)
		}
	}
	return split.copyLinks(ctx, tx)
}

func (l *pgLoader) stageSources(ctx context.Context, tx pgx.Tx, sources []*Source) error {
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"hashr_stage_sources"}, stageSourceColumns,
		pgx.CopyFromSlice(len(sources), func(i int) ([]any, error) { return l.stageSourceRow(i, sources[i]), nil })); err != nil {
		return fmt.Errorf("staging sources: %w", err)
	}
	return nil
}

// sendBatch runs the batch's statements once everything is staged: first
// the wait for the earlier batches of this process in flight (their
// advisory locks, pgdirect.go), whose rows the upserts may lock, then
// distrust unless it is "".
func (l *pgLoader) sendBatch(ctx context.Context, tx pgx.Tx, earlier []*batchClaim, distrust, samplesSQL, pathsSQL string, stats *Stats) error {
	type step struct {
		what, sql string
		args      []any
	}
	var steps []step
	if len(earlier) > 0 {
		steps = append(steps, step{"waiting for this process's earlier batches", pgWaitForEarlier, []any{claimSpace, earlierKeys(earlier)}})
	}
	if distrust != "" {
		steps = append(steps, step{"writing the links of re-run sources", distrust, nil})
	}
	steps = append(steps, step{"writing sources", l.sql.sources, nil})
	for _, stmt := range l.sql.purge {
		steps = append(steps, step{"writing the removal of samples read under a failed check", stmt, nil})
	}
	steps = append(steps, step{"writing samples", samplesSQL, nil}, step{"writing paths", pathsSQL, nil})
	if l.opts.Payloads {
		steps = append(steps, step{"writing payloads", l.sql.payloads, nil})
	}
	if l.sql.cleanup != "" {
		steps = append(steps, step{"writing the removal of samples left with no source", l.sql.cleanup, nil})
	}
	steps = append(steps, step{"writing jobs", l.sql.jobs, nil})
	b := &pgx.Batch{}
	for _, s := range steps {
		b.Queue(s.sql, s.args...)
	}
	br := tx.SendBatch(ctx, b)
	defer br.Close()
	for _, s := range steps {
		var err error
		if s.what == "writing samples" {
			err = br.QueryRow().Scan(&stats.NewSamples)
		} else {
			_, err = br.Exec()
		}
		if err != nil {
			return fmt.Errorf("%s: %w", s.what, err)
		}
	}
	return br.Close()
}

func (l *pgLoader) stageSourceRow(i int, src *Source) []any {
	j := src.Job
	status := sourceStatus(j.Status)
	if l.opts.Schema == SchemaHashR {
		status = hashrStatus(status)
	}
	var ms any
	if len(j.MS) > 0 {
		b, _ := json.Marshal(j.MS)
		ms = string(b)
	}
	pre, proc, export := hashrDurations(j.MS)
	var mtime any
	if src.Mtime != nil {
		mtime = *src.Mtime
	}
	return append([]any{int32(i), nullBytes(src.SHA256), nullText(src.ID), nullText(src.Repo), nullText(src.RepoPath),
		nullText(src.URI), nullText(src.Format), nullInt(src.Size), mtime, nullBytes(src.QuickSHA256),
		nullText(src.Description), status, nullText(j.Error), j.FilesExtracted, j.FilesLoaded, j.NewFiles, j.Errors,
		j.Bytes, ms, pre, proc, export}, src.provenanceArgs()...)
}

// loadPayloads sends the bytes of the staged samples that have no payload
// yet, reading each file only when it is its turn to be copied.
func (l *pgLoader) loadPayloads(ctx context.Context, tx pgx.Tx, missingPayloadsSQL string, stats *Stats) error {
	rows, err := tx.Query(ctx, missingPayloadsSQL)
	if err != nil {
		return fmt.Errorf("listing missing payloads: %w", err)
	}
	var missing missingPayloads
	for rows.Next() {
		if err := missing.scan(rows.Scan); err != nil {
			rows.Close()
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("listing missing payloads: %w", err)
	}
	src := pgx.CopyFromFunc(func() ([]any, error) {
		sha256, data, ok := missing.next(l.opts.PayloadMax, stats)
		if !ok {
			return nil, nil
		}
		return []any{sha256, data}, nil
	})
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"hashr_stage_payloads"}, []string{"sha256", "payload"}, src); err != nil {
		return fmt.Errorf("staging payloads: %w", err)
	}
	return nil // written after the samples (sendBatch)
}

// linkRow is one hashr_stage_links row: a sample in a source, with the
// sample's distinct paths there. A sample's first row (first) carries its
// columns in sample; the others' sample is nil.
type linkRow struct {
	sha256, source     []byte
	first, failed      bool // failed: every path a failed member
	paths, failedPaths []string
	sample             *File // its first file row, or merged from all of them (mergedSample)
}

// encodeStaged appends the row's hashr_stage_links fields
// (stageLinkColumns).
func (r *linkRow) encodeStaged(w *copyRow) {
	w.fields(len(stageLinkColumns))
	w.bytea(r.sha256)
	w.bytea(r.source)
	w.boolean(r.first)
	if s := r.sample; s != nil {
		w.sampleFields(s)
	} else {
		for range sampleFieldCount {
			w.null()
		}
	}
	w.textArray(r.paths)
	if r.sample != nil {
		w.textOrNull(r.sample.Local)
	} else {
		w.null()
	}
	w.boolean(r.failed)
	w.textArray(r.failedPaths)
}

// encodeSample appends a sample's first row's samples fields
// (samplesColumns).
func (r *linkRow) encodeSample(w *copyRow) {
	w.fields(len(samplesColumns))
	w.bytea(r.sha256)
	w.sampleFields(r.sample)
}

// sampleFieldCount is how many fields sampleFields writes.
const sampleFieldCount = 9

// sampleFields appends a sample's fields after its sha256, in
// samplesColumns' order (and hashr_stage_links', which repeats them).
func (w *copyRow) sampleFields(s *File) {
	w.bytea(s.MD5)
	w.bytea(s.SHA1)
	w.bytea(s.SHA512)
	w.bytea(s.CRC32)
	w.bytea(s.BLAKE3)
	w.textOrNull(s.SSDEEP)
	w.textOrNull(s.TLSH)
	w.int8OrNull(s.Size)
	w.textOrNull(s.MIME)
}

// encodeLink appends the row's samples_sources fields (linksColumns).
func (r *linkRow) encodeLink(w *copyRow) {
	w.fields(len(linksColumns))
	w.bytea(r.sha256)
	w.bytea(r.source)
	w.textArray(r.paths)
	w.boolean(r.failed)
}

// linkRows groups sorted file rows into hashr_stage_links rows: one per
// sample and source, with the sample's distinct paths in the source. A
// sample's first row carries its digests, merged from all its file rows
// (a record may lack some), and a local copy of its bytes for payloads.
// The rows' paths and merged samples are cut from a few large slices: an
// allocation each per row was most of the committers' allocations. A
// sample whose other rows bring nothing its first lacks (nearly every one:
// the same bytes hashed by the same stages) is its first row, not a copy:
// the copies, 240 bytes a sample, were a quarter of what a committer's
// batch held, and hashr-load's peak RSS is what it holds times the
// collector's target: over loadbench's 200,000 records, 302-339 MB and
// 75-85k minor page faults before, 264-268 MB and 66-67k after
// (bench/README.md, load21j).
func linkRows(rows []sourcedFile, withLocal bool) []linkRow {
	out := make([]linkRow, 0, len(rows)) // at most a row per file row
	allPaths := make([]string, 0, len(rows))
	var allFailed []string
	var samples []File
	for i := 0; i < len(rows); {
		j := i + 1
		for j < len(rows) && rows[j].key == rows[i].key && bytes.Equal(rows[j].file.SHA256, rows[i].file.SHA256) {
			j++
		}
		sample := rows[i].file
		if !withLocal && sample.Local != "" || fillsGaps(rows[i:j], withLocal) {
			if len(samples) == cap(samples) {
				samples = make([]File, 0, 1024)
			}
			samples = append(samples, mergedSample(rows[i:j]))
			sample = &samples[len(samples)-1]
			if !withLocal {
				sample.Local = ""
			}
		}
		for a := i; a < j; {
			paths, failedPaths := len(allPaths), len(allFailed)
			failed := true // every path a failed member
			b := a
			for ; b < j && (rows[b].src == rows[a].src || bytes.Equal(rows[b].src.SHA256, rows[a].src.SHA256)); b++ {
				if p := rows[b].file.Path; len(allPaths) == paths || p != allPaths[len(allPaths)-1] {
					allPaths = append(allPaths, p)
					if rows[b].failed {
						allFailed = append(allFailed, p)
					}
				}
				failed = failed && rows[b].failed
			}
			row := linkRow{sha256: sample.SHA256, source: rows[a].src.SHA256, first: a == i, failed: failed,
				paths: allPaths[paths:len(allPaths):len(allPaths)], failedPaths: noPaths}
			if len(allFailed) > failedPaths {
				row.failedPaths = allFailed[failedPaths:len(allFailed):len(allFailed)]
			}
			if a == i {
				row.sample = sample
			}
			out = append(out, row)
			a = b
		}
		i = j
	}
	return out
}

// mergedSample is the first of a sample's file rows with the digests,
// size, MIME type and local copy it lacks taken from the others.
func mergedSample(rows []sourcedFile) File {
	sample := *rows[0].file
	for _, r := range rows[1:] {
		f := r.file
		sample.MD5, sample.SHA1, sample.SHA512 = or(sample.MD5, f.MD5), or(sample.SHA1, f.SHA1), or(sample.SHA512, f.SHA512)
		sample.CRC32, sample.BLAKE3 = or(sample.CRC32, f.CRC32), or(sample.BLAKE3, f.BLAKE3)
		sample.SSDEEP, sample.TLSH = cmp.Or(sample.SSDEEP, f.SSDEEP), cmp.Or(sample.TLSH, f.TLSH)
		sample.MIME, sample.Local = cmp.Or(sample.MIME, f.MIME), cmp.Or(sample.Local, f.Local)
		if sample.Size < 0 {
			sample.Size = f.Size
		}
	}
	return sample
}

// fillsGaps says whether a sample's later file rows bring a column, or a
// local copy when withLocal, that its first lacks (mergedSample's).
func fillsGaps(rows []sourcedFile, withLocal bool) bool {
	first := rows[0].file
	has := first.sampleColumns()
	for _, r := range rows[1:] {
		if withLocal && first.Local == "" && r.file.Local != "" {
			return true
		}
		for i, brings := range r.file.sampleColumns() {
			if brings && !has[i] {
				return true
			}
		}
	}
	return false
}

// sampleColumns says which of the sample's columns after sha256 the file
// row brings, in samplesColumns' order (pgProbeSamples' mask bits).
func (f *File) sampleColumns() [sampleFieldCount]bool {
	return [...]bool{f.MD5 != nil, f.SHA1 != nil, f.SHA512 != nil, f.CRC32 != nil, f.BLAKE3 != nil,
		f.SSDEEP != "", f.TLSH != "", f.Size >= 0, f.MIME != ""}
}

// noPaths is an empty list of failed paths (not NULL).
var noPaths = []string{}

// or returns a, or b when a is absent.
func or(a, b []byte) []byte {
	if a == nil {
		return b
	}
	return a
}

// fileRowsCopy feeds the file rows of a batch's sources to COPY.
type fileRowsCopy struct {
	sources   []*Source
	withLocal bool
	i         int
	next      func() (*File, error, bool)
	stop      func()
	row       []any
	err       error
	seq       int64
}

func (c *fileRowsCopy) Next() bool {
	for {
		if c.next == nil {
			for c.i < len(c.sources) && (c.sources[c.i].SHA256 == nil || c.sources[c.i].Files == nil) {
				c.i++
			}
			if c.i >= len(c.sources) {
				return false
			}
			c.next, c.stop = iter.Pull2(c.sources[c.i].Files.All())
		}
		f, err, ok := c.next()
		if !ok {
			c.close()
			c.i++
			continue
		}
		if err != nil {
			c.err = err
			return false
		}
		c.seq++
		var local any
		if c.withLocal {
			local = nullText(f.Local)
		}
		c.row = []any{c.seq, c.sources[c.i].SHA256, f.SHA256, nullBytes(f.MD5), nullBytes(f.SHA1), nullBytes(f.SHA512),
			nullBytes(f.CRC32), nullBytes(f.BLAKE3), nullText(f.SSDEEP), nullText(f.TLSH), nullSize(f.Size),
			nullText(f.MIME), f.Path, local, c.sources[c.i].failedMember(f.Path)}
		return true
	}
}

func (c *fileRowsCopy) Values() ([]any, error) { return c.row, nil }
func (c *fileRowsCopy) Err() error             { return c.err }

func (c *fileRowsCopy) close() {
	if c.stop != nil {
		c.stop()
	}
	c.next, c.stop = nil, nil
}
