package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// sqliteLoader writes into an SQLite file in large transactions (one per
// batch of sources) of prepared statements, with write-ahead logging:
// readers are not blocked, and a process killed mid-transaction leaves the
// last committed state.
type sqliteLoader struct {
	db   *sql.DB
	loc  Location
	opts Options
}

// sqliteDSN opens path with WAL, a generous busy timeout (other loaders,
// readers checkpointing), a 64 MiB page cache (the default 2 MiB made
// index inserts re-read pages from the file), and BEGIN IMMEDIATE so a
// transaction takes the write lock up front instead of failing half way.
// synchronous=NORMAL is safe in WAL mode against process crashes; only a
// power loss can lose the last transactions, never corrupt the file.
// Readers map the file (up to 1 GiB) instead of reading each page with a
// syscall into a 2 MiB cache per connection: a 1,000-hash bulk of
// hashr-serve spent a quarter of its CPU in those reads.
func sqliteDSN(path string, readOnly bool) string {
	dsn := path + "?_pragma=busy_timeout(60000)&_pragma=cache_size(-65536)&_pragma=temp_store(memory)&_txlock=immediate"
	if readOnly {
		return sqliteReadDSN(path, 1<<30)
	}
	return dsn + "&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
}

// sqliteReadDSN opens path read-only, mapping up to mmapSize bytes of it
// (0: every page is read with pread(2) into the page cache).
func sqliteReadDSN(path string, mmapSize int64) string {
	return "file:" + path + "?mode=ro&_pragma=busy_timeout(60000)&_pragma=mmap_size(" + strconv.FormatInt(mmapSize, 10) + ")"
}

func openSQLite(ctx context.Context, loc Location, opts Options) (Loader, error) {
	if dir := filepath.Dir(loc.Target); dir != "" {
		if _, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("opening %s: directory %s: %w", loc, dir, err)
		}
	}
	sqldb, err := sql.Open("sqlite", sqliteDSN(loc.Target, false))
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", loc, err)
	}
	sqldb.SetMaxOpenConns(1)
	l := &sqliteLoader{db: sqldb, loc: loc, opts: opts}
	if _, err := retry(ctx, opts.RetryFor, opts.logf, isSQLiteBusy, l.migrate); err != nil {
		sqldb.Close()
		return nil, fmt.Errorf("preparing the schema of %s: %w", loc, err)
	}
	return l, nil
}

func isSQLiteBusy(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		code := se.Code() & 0xff // the primary code, without the extended bits
		return code == sqlite3.SQLITE_BUSY || code == sqlite3.SQLITE_LOCKED
	}
	return false
}

func (l *sqliteLoader) migrate(ctx context.Context) error {
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, createMigrationsTable); err != nil {
		return err
	}
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM hashr_schema_migrations`).Scan(&current); err != nil {
		return err
	}
	if current > SchemaVersion {
		return fmt.Errorf("the database's schema is version %d, newer than this hashr-load's (%d): use a newer hashr", current, SchemaVersion)
	}
	if current == 0 {
		var foreign int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('samples', 'sources', 'samples_sources', 'jobs', 'payloads')`).Scan(&foreign); err != nil {
			return err
		}
		if foreign > 0 {
			return errors.New("the database has samples/sources/jobs tables that hashr did not create; use another database")
		}
	}
	now := time.Now().UTC().Format(time.RFC3339)
	for _, m := range nativeMigrations {
		if m.version <= current {
			continue
		}
		for _, stmt := range m.sqlite {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("migration %d: %w", m.version, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO hashr_schema_migrations (version, applied_at) VALUES (?, ?)`, m.version, now); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func (l *sqliteLoader) Close() error { return l.db.Close() }

func (l *sqliteLoader) Load(ctx context.Context, sources []*Source) (Stats, error) {
	var stats Stats
	n, err := retry(ctx, l.opts.RetryFor, l.opts.logf, isSQLiteBusy, func(ctx context.Context) error {
		stats = Stats{}
		return l.loadOnce(ctx, sources, &stats)
	})
	stats.Attempts = n
	if err != nil {
		return Stats{Attempts: n}, fmt.Errorf("loading %d sources into %s: %w", len(sources), l.loc, err)
	}
	return stats, nil
}

// A batch reaches SQLite as file rows staged in a temporary table keyed by
// sample, source and path (sorted first, so they are appended), then one
// set-based upsert per table that reads them in key order: B-tree inserts
// in key order touch each page once, where the same inserts in arrival
// order (random, for digests) touched pages all over the file and took a
// third more processor time. Paths and source IDs are JSON arrays kept
// sorted and distinct (byte order, as in PostgreSQL).
const (
	// Keyed by sample, source and path: the upserts below read it in that
	// order, with no sorting, and a duplicate file record is dropped.
	sqliteCreateStaging = `CREATE TEMP TABLE IF NOT EXISTS hashr_stage_files (
		sha256 BLOB NOT NULL,
		source BLOB NOT NULL,
		path TEXT NOT NULL,
		md5 BLOB, sha1 BLOB, sha512 BLOB, crc32 BLOB, blake3 BLOB, ssdeep TEXT, tlsh TEXT,
		size INTEGER, mime TEXT, local TEXT, failed INTEGER NOT NULL,
		PRIMARY KEY (sha256, source, path)) WITHOUT ROWID`
	sqliteClearStaging = `DELETE FROM temp.hashr_stage_files`
	// Rows are staged stageChunk at a time: one statement per row cost
	// more in binding and calling than SQLite spent storing the row.
	sqliteStageFiles = `INSERT OR IGNORE INTO temp.hashr_stage_files
		(sha256, source, path, md5, sha1, sha512, crc32, blake3, ssdeep, tlsh, size, mime, local, failed) VALUES `
	// A sample's digests from all its staged rows (the same content has the
	// same digests; a record may lack some). A sample seen before gains only
	// the digests it lacked (a later run's --algos).
	sqliteUpsertSamples = `INSERT INTO samples (sha256, md5, sha1, sha512, crc32, blake3, ssdeep, tlsh, size, mime)
		SELECT sha256, max(md5), max(sha1), max(sha512), max(crc32), max(blake3), max(ssdeep), max(tlsh), max(size), max(mime)
		FROM temp.hashr_stage_files WHERE true GROUP BY sha256
		ON CONFLICT (sha256) DO UPDATE SET md5 = coalesce(samples.md5, excluded.md5), sha1 = coalesce(samples.sha1, excluded.sha1),
			sha512 = coalesce(samples.sha512, excluded.sha512), crc32 = coalesce(samples.crc32, excluded.crc32),
			blake3 = coalesce(samples.blake3, excluded.blake3), ssdeep = coalesce(samples.ssdeep, excluded.ssdeep),
			tlsh = coalesce(samples.tlsh, excluded.tlsh), size = coalesce(samples.size, excluded.size),
			mime = coalesce(samples.mime, excluded.mime)
		WHERE samples.md5 IS NULL AND excluded.md5 IS NOT NULL OR samples.sha1 IS NULL AND excluded.sha1 IS NOT NULL
			OR samples.sha512 IS NULL AND excluded.sha512 IS NOT NULL OR samples.crc32 IS NULL AND excluded.crc32 IS NOT NULL
			OR samples.blake3 IS NULL AND excluded.blake3 IS NOT NULL OR samples.ssdeep IS NULL AND excluded.ssdeep IS NOT NULL
			OR samples.tlsh IS NULL AND excluded.tlsh IS NOT NULL OR samples.size IS NULL AND excluded.size IS NOT NULL
			OR samples.mime IS NULL AND excluded.mime IS NOT NULL`
	// A link is failed when every path of the sample in the source is a
	// failed member; the last load of the source decides.
	sqliteUpsertPaths = `INSERT INTO samples_sources (sample_sha256, source_sha256, paths, failed)
		SELECT sha256, source, json_group_array(path ORDER BY path), min(failed)
		FROM temp.hashr_stage_files WHERE true GROUP BY sha256, source
		ON CONFLICT (sample_sha256, source_sha256) DO UPDATE SET paths = (
			SELECT json_group_array(value ORDER BY value) FROM (
				SELECT value FROM json_each(samples_sources.paths) UNION SELECT value FROM json_each(excluded.paths))),
			failed = excluded.failed
		WHERE EXISTS (SELECT 1 FROM json_each(excluded.paths) AS e WHERE e.value NOT IN (SELECT value FROM json_each(samples_sources.paths)))
			OR samples_sources.failed IS NOT excluded.failed`
	sqliteMissingPayloads = `SELECT sha256, max(local), max(size), min(path), min(source) FROM temp.hashr_stage_files AS t
		WHERE NOT EXISTS (SELECT 1 FROM payloads AS p WHERE p.sha256 = t.sha256) GROUP BY sha256`
	sqliteInsertPayload = `INSERT INTO payloads (sha256, payload) VALUES (?, ?) ON CONFLICT (sha256) DO NOTHING`
	// The job is rewritten only when something other than the time
	// changed, so loading a stream twice changes nothing.
	sqliteUpsertJob = `INSERT INTO jobs (quick_sha256, id, repo, repo_path, location, sha256, status, error,
			files_extracted, files_loaded, new_files, errors, bytes, ms, imported_at)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
		ON CONFLICT (quick_sha256) DO UPDATE SET id = excluded.id, repo = excluded.repo, repo_path = excluded.repo_path,
			location = excluded.location, sha256 = excluded.sha256, status = excluded.status, error = excluded.error,
			files_extracted = excluded.files_extracted, files_loaded = excluded.files_loaded, new_files = excluded.new_files,
			errors = excluded.errors, bytes = excluded.bytes, ms = excluded.ms, imported_at = excluded.imported_at
		WHERE (jobs.id, jobs.repo, jobs.repo_path, jobs.location, jobs.sha256, jobs.status, jobs.error, jobs.files_extracted,
			jobs.files_loaded, jobs.new_files, jobs.errors, jobs.bytes, jobs.ms)
			IS NOT (excluded.id, excluded.repo, excluded.repo_path, excluded.location, excluded.sha256, excluded.status,
			excluded.error, excluded.files_extracted, excluded.files_loaded, excluded.new_files, excluded.errors,
			excluded.bytes, excluded.ms)`
)

// sqliteUpsertSource writes a source's row. Its status is its last load's;
// its package and verified are as provenanceUpdate says.
var sqliteUpsertSource = func() string {
	setProvenance, provenanceChanged := provenanceUpdate("sources", "excluded", "IS NOT")
	return `INSERT INTO sources (sha256, ids, repo, repo_path, uri, format, size, mtime, quick_sha256, description, status,
			package, verified_ok, verified_by, verified_signer, verified_detail)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
		ON CONFLICT (sha256) DO UPDATE SET ids = (
			SELECT json_group_array(value ORDER BY value) FROM (
				SELECT value FROM json_each(sources.ids) UNION SELECT value FROM json_each(excluded.ids))),
			status = excluded.status, ` + setProvenance + `
		WHERE EXISTS (SELECT 1 FROM json_each(excluded.ids) AS e WHERE e.value NOT IN (SELECT value FROM json_each(sources.ids)))
			OR sources.status IS NOT excluded.status OR ` + provenanceChanged
}()

func (l *sqliteLoader) loadOnce(ctx context.Context, sources []*Source, stats *Stats) error {
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, q := range []string{sqliteCreateStaging, sqliteClearStaging} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("preparing the staging table: %w", err)
		}
	}
	importedAt := time.Now().UTC().Format(time.RFC3339)
	if err := l.stageFiles(ctx, tx, sources, stats); err != nil {
		return err
	}
	// Payloads first: a payload whose bytes are not the ones hashed fails
	// its source's job, which is written next.
	if l.opts.Payloads {
		if err := l.loadPayloads(ctx, tx, stats); err != nil {
			return err
		}
		failChangedPayloads(sources, stats.Problems)
	}
	if err := l.writeSources(ctx, tx, sources, stats, importedAt); err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, sqliteUpsertSamples)
	if err != nil {
		return fmt.Errorf("writing samples: %w", err)
	}
	// Rows inserted, and the rare rows that gained digests.
	stats.NewSamples, _ = res.RowsAffected()
	if _, err := tx.ExecContext(ctx, sqliteUpsertPaths); err != nil {
		return fmt.Errorf("writing paths: %w", err)
	}
	if _, err := tx.ExecContext(ctx, sqliteClearStaging); err != nil {
		return err
	}
	return tx.Commit()
}

// writeSources writes the batch's source rows and their jobs.
func (l *sqliteLoader) writeSources(ctx context.Context, tx *sql.Tx, sources []*Source, stats *Stats, importedAt string) error {
	upsertSource, err := tx.PrepareContext(ctx, sqliteUpsertSource)
	if err != nil {
		return err
	}
	defer upsertSource.Close()
	upsertJob, err := tx.PrepareContext(ctx, sqliteUpsertJob)
	if err != nil {
		return err
	}
	defer upsertJob.Close()
	for _, src := range sources {
		if src.SHA256 != nil {
			if err := l.distrustLeftovers(ctx, tx, src); err != nil {
				return err
			}
			if err := l.upsertSource(ctx, upsertSource, src); err != nil {
				return err
			}
		}
		if src.QuickSHA256 != nil {
			if err := l.upsertJob(ctx, upsertJob, src, importedAt); err != nil {
				return fmt.Errorf("writing the job of source %s: %w", src.ID, err)
			}
		}
		stats.Sources++
	}
	return nil
}

// stageChunk is how many file rows one staging statement inserts.
const stageChunk = 64

// stageFiles stages the files of the batch's sources.
func (l *sqliteLoader) stageFiles(ctx context.Context, tx *sql.Tx, sources []*Source, stats *Stats) error {
	full, err := tx.PrepareContext(ctx, stagingSQL(stageChunk))
	if err != nil {
		return err
	}
	defer full.Close()
	st := &sqliteStager{ctx: ctx, tx: tx, full: full, payloads: l.opts.Payloads, stats: stats,
		args: make([]any, 0, stageColumns*stageChunk)}
	rows, sorted, err := sortedFiles(sources)
	if err != nil {
		return err
	}
	if !sorted {
		for _, src := range sources {
			if src.SHA256 == nil {
				continue
			}
			for f, err := range src.Files.All() {
				if err != nil {
					return err
				}
				// f is reused by the iteration: its fields are copied into args.
				if err := st.stage(src.SHA256, f, src.failedMember(f.Path)); err != nil {
					return err
				}
			}
		}
		return st.send()
	}
	for i := range rows {
		if err := st.stage(rows[i].src.SHA256, rows[i].file, rows[i].failed); err != nil {
			return err
		}
	}
	return st.send()
}

// stageColumns is how many columns a staged file row has.
const stageColumns = 14

// stagingSQL is the statement that stages n file rows.
func stagingSQL(n int) string {
	placeholders := "(" + strings.TrimSuffix(strings.Repeat("?,", stageColumns), ",") + ")"
	return sqliteStageFiles + strings.TrimSuffix(strings.Repeat(placeholders+",", n), ",")
}

// sqliteStager stages file rows stageChunk at a time.
type sqliteStager struct {
	ctx      context.Context
	tx       *sql.Tx
	full     *sql.Stmt // stages a whole chunk
	payloads bool
	stats    *Stats
	args     []any
}

func (st *sqliteStager) stage(source []byte, f *File, failed bool) error {
	var local any
	if st.payloads {
		local = nullText(f.Local)
	}
	st.args = append(st.args, f.SHA256, source, f.Path, nullBytes(f.MD5), nullBytes(f.SHA1), nullBytes(f.SHA512),
		nullBytes(f.CRC32), nullBytes(f.BLAKE3), nullText(f.SSDEEP), nullText(f.TLSH), nullSize(f.Size), nullText(f.MIME), local, failed)
	st.stats.Files++
	if len(st.args) == cap(st.args) {
		return st.send()
	}
	return nil
}

// send stages the rows collected.
func (st *sqliteStager) send() error {
	if len(st.args) == 0 {
		return nil
	}
	// The rows' own context is not cancellable: watching one for every
	// statement cost more than the statement; cancellation is checked
	// between chunks instead.
	if err := st.ctx.Err(); err != nil {
		return err
	}
	var err error
	if len(st.args) == cap(st.args) {
		_, err = st.full.ExecContext(context.Background(), st.args...)
	} else {
		_, err = st.tx.ExecContext(context.Background(), stagingSQL(len(st.args)/stageColumns), st.args...)
	}
	st.args = st.args[:0]
	if err != nil {
		return fmt.Errorf("staging files: %w", err)
	}
	return nil
}

// sqliteDistrustLeftovers fails the links of a failed source that a
// successful re-run of it did not bring: bytes read under the check that
// failed, which the re-run found otherwise.
const sqliteDistrustLeftovers = `UPDATE samples_sources SET failed = true
	WHERE source_sha256 = ?1 AND NOT failed
		AND sample_sha256 NOT IN (SELECT sha256 FROM temp.hashr_stage_files WHERE source = ?1)`

// distrustLeftovers runs sqliteDistrustLeftovers when src was failed and
// is not now; a point query on sources otherwise. A partial source's
// leftovers stay as they were: see pgDistrustLeftovers for why.
func (l *sqliteLoader) distrustLeftovers(ctx context.Context, tx *sql.Tx, src *Source) error {
	if src.Job.Status == StatusFailed {
		return nil
	}
	var was string
	err := tx.QueryRowContext(ctx, `SELECT status FROM sources WHERE sha256 = ?`, src.SHA256).Scan(&was)
	if errors.Is(err, sql.ErrNoRows) || err == nil && was != StatusFailed {
		return nil
	}
	if err == nil {
		_, err = tx.ExecContext(ctx, sqliteDistrustLeftovers, src.SHA256)
	}
	if err != nil {
		return fmt.Errorf("re-checking the links of source %x: %w", src.SHA256, err)
	}
	return nil
}

// upsertSource writes a source's row.
func (l *sqliteLoader) upsertSource(ctx context.Context, upsertSource *sql.Stmt, src *Source) error {
	ids := []string{}
	if src.ID != "" {
		ids = append(ids, src.ID)
	}
	idsJSON, _ := json.Marshal(ids)
	var mtime any
	if src.Mtime != nil {
		mtime = src.Mtime.UTC().Format(time.RFC3339Nano)
	}
	args := append([]any{src.SHA256, string(idsJSON), nullText(src.Repo), nullText(src.RepoPath),
		nullText(src.URI), nullText(src.Format), nullInt(src.Size), mtime, nullBytes(src.QuickSHA256), nullText(src.Description),
		sourceStatus(src.Job.Status)}, src.provenanceArgs()...)
	if _, err := upsertSource.ExecContext(ctx, args...); err != nil {
		return fmt.Errorf("writing source %x: %w", src.SHA256, err)
	}
	return nil
}

// loadPayloads stores the bytes of the staged samples that have no
// payload yet.
func (l *sqliteLoader) loadPayloads(ctx context.Context, tx *sql.Tx, stats *Stats) error {
	rows, err := tx.QueryContext(ctx, sqliteMissingPayloads)
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
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("listing missing payloads: %w", err)
	}
	insert, err := tx.PrepareContext(ctx, sqliteInsertPayload)
	if err != nil {
		return err
	}
	defer insert.Close()
	for {
		sha256, data, ok := missing.next(l.opts.PayloadMax, stats)
		if !ok {
			return nil
		}
		if _, err := insert.ExecContext(ctx, sha256, data); err != nil {
			return fmt.Errorf("writing the payload of %x: %w", sha256, err)
		}
	}
}

func (l *sqliteLoader) upsertJob(ctx context.Context, upsertJob *sql.Stmt, src *Source, importedAt string) error {
	j := src.Job
	var ms any
	if len(j.MS) > 0 {
		b, _ := json.Marshal(j.MS) // sorted keys: the same map gives the same text
		ms = string(b)
	}
	_, err := upsertJob.ExecContext(ctx, src.QuickSHA256, nullText(src.ID), nullText(src.Repo), nullText(src.RepoPath),
		nullText(src.URI), nullBytes(src.SHA256), j.Status, nullText(j.Error), j.FilesExtracted, j.FilesLoaded, j.NewFiles,
		j.Errors, j.Bytes, ms, importedAt)
	return err
}

// Empty values are stored as NULL, the same in both databases.
func nullText(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullBytes(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

func nullInt(n *int64) any {
	if n == nil {
		return nil
	}
	return *n
}

func nullSize(n int64) any {
	if n < 0 {
		return nil
	}
	return n
}
