package db

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math/bits"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/hashr-dev/hashr/pkg/records"
)

// Reader reads a database in hashr's native schema, for hashr-export and
// hashr-lookup. It never writes: a SQLite file is opened read-only, and a
// database without hashr's tables is refused rather than created.
//
// Both databases are read through database/sql with the same statements:
// digests are bytes in both; arrays (source IDs, paths) are read as JSON
// text, which SQLite stores and PostgreSQL makes with array_to_json.
type Reader struct {
	loc Location
	db  *sql.DB
	pg  bool
	// citus says the PostgreSQL database has the citus extension:
	// its capped lookups by sha256 start from samples (linkcap.go).
	citus bool

	sourcesMu sync.Mutex
	sources   map[string]sourceRef // source sha256 → what lookups report of it

	stmtsMu sync.Mutex
	stmts   map[string]*sql.Stmt // by their SQL: the key lookups' (keyquery.go)

	served servedSourceCache // hashr-serve's sources (servecache.go)

	// IncludeFailed makes Lookup answer with samples known only from
	// failed sources or failed members too (Link.Failed says which);
	// without it they are unknown.
	IncludeFailed bool
	// MaxSources caps the links Lookup answers with per sample, the
	// first by source SHA-256, in the query itself (linkcap.go); 0 (the
	// zero Reader) answers with all. SampleLinks.Total counts them all.
	MaxSources int
	// linkRowsRead counts the link rows lookups read from the database:
	// the tests check that MaxSources bounds it, not only the answer.
	linkRowsRead atomic.Int64
	// samplesPage is how many link rows each of Samples' statements reads
	// from PostgreSQL; 0 is defaultSamplesPage (tests set fewer).
	samplesPage int
}

// maxReaderConns is how many connections a Reader opens at most, and
// keeps open.
const maxReaderConns = 4

// OpenReader opens the database at loc for reading, for a process that
// reads the same pages again and again (hashr-serve): SQLite maps the file
// (sqliteDSN), so a page read once costs no syscall the next time.
func OpenReader(ctx context.Context, loc Location) (*Reader, error) {
	return openReaderWith(ctx, loc, sqliteDSN(loc.Target, true), nil)
}

// OpenOnePassReader opens the database at loc for a process that reads
// most pages once and exits (hashr-lookup over a tree): SQLite reads each
// page with pread(2) rather than mapping the file. A mapped page costs a
// page fault on its first touch, and each run starts with none mapped:
// over /usr/share/man against the bench's 3M-sample file, hashr-lookup
// spent 44% of its lookups' CPU in those faults (btreeInitPage, where a
// page is first read) against 23% in the preads they replaced.
//
// PostgreSQL compiles none of its queries (jit off): its lookups are
// index probes, and a capped batch of 1,000 keys shared by thousands of
// sources was planned (with its keys, as the first runs of a prepared
// statement are) above jit_optimize_above_cost: 1.01 s of JIT in a
// 2.73 s query (EXPLAIN ANALYZE, bench/lookupcap-pg.sh).
func OpenOnePassReader(ctx context.Context, loc Location) (*Reader, error) {
	dsn := sqliteReadDSN(loc.Target, 0)
	if kib := onePassCacheKiB.Load(); kib > 0 {
		dsn += "&_pragma=cache_size(-" + strconv.FormatInt(kib, 10) + ")" // its slots are in ReservePageCache's buffer
	}
	return openReaderWith(ctx, loc, dsn, map[string]string{"jit": "off"})
}

// openReaderWith opens the database at loc, a SQLite file with dsn, or
// a PostgreSQL database with pgParams set on every connection.
func openReaderWith(ctx context.Context, loc Location, dsn string, pgParams map[string]string) (*Reader, error) {
	r := &Reader{loc: loc}
	switch loc.Driver {
	case SQLite:
		if _, err := os.Stat(loc.Target); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("opening %s: no such file (hashr-load creates it)", loc)
		}
		sqldb, err := sql.Open("sqlite", dsn)
		if err != nil {
			return nil, fmt.Errorf("opening %s: %w", loc, err)
		}
		r.db = sqldb
	case Postgres:
		cfg, err := pgx.ParseConfig(loc.Target)
		if err != nil {
			return nil, fmt.Errorf("database URL %s: %w", loc, err)
		}
		if cfg.ConnectTimeout == 0 {
			cfg.ConnectTimeout = 15 * time.Second
		}
		// Every transaction read-only: a reader never writes the set.
		cfg.RuntimeParams["default_transaction_read_only"] = "on"
		maps.Copy(cfg.RuntimeParams, pgParams)
		cfg.BuildFrontend = bufferedFrontend
		r.db, r.pg = stdlib.OpenDB(*cfg), true
	default:
		return nil, fmt.Errorf("unknown database driver %q", loc.Driver)
	}
	// A few connections: hashr-lookup sends several batches at once. All
	// of them stay open between batches: database/sql keeps only 2 idle
	// by default and closed the others as each batch ended, so the next
	// batch opened a connection with a cold page cache and prepared its
	// statements again (a sixth of hashr-lookup's CPU on a tree of tiny
	// files).
	r.db.SetMaxOpenConns(maxReaderConns)
	r.db.SetMaxIdleConns(maxReaderConns)
	if err := r.checkSchema(ctx); err != nil {
		r.db.Close()
		return nil, fmt.Errorf("reading %s: %w", loc, err)
	}
	if r.pg {
		err := r.db.QueryRowContext(ctx, `SELECT count(*) > 0 FROM pg_extension WHERE extname = 'citus'`).Scan(&r.citus)
		if err != nil {
			r.db.Close()
			return nil, fmt.Errorf("reading %s: looking for the citus extension: %w", loc, err)
		}
	}
	return r, nil
}

// SetConnections sets how many connections the reader opens at most, and
// keeps open (maxReaderConns by default); it may be raised while
// connections are in use. hashr-lookup reading SQLite takes one while its
// input goes on and one per CPU for the batches left after: each
// connection has a page cache of its own, which reads the same interior
// pages again and costs this process page faults.
func (r *Reader) SetConnections(n int) {
	r.db.SetMaxOpenConns(n)
	r.db.SetMaxIdleConns(n)
}

// Close closes the connection.
func (r *Reader) Close() error {
	r.closeStatements()
	return r.db.Close()
}

// Location is where the reader reads.
func (r *Reader) Location() Location { return r.loc }

func (r *Reader) checkSchema(ctx context.Context) error {
	tables := `SELECT name FROM sqlite_master WHERE type = 'table'`
	if r.pg {
		tables = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`
	}
	rows, err := r.db.QueryContext(ctx, tables)
	if err != nil {
		return err
	}
	defer rows.Close()
	have := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return err
		}
		have[name] = true
	}
	if err := rows.Err(); err != nil {
		return err
	}
	switch {
	case have["hashr_schema_migrations"]:
	case have["samples"]:
		return errors.New("the database holds HashR's own tables (hashr-load --schema hashr), which keep no md5 or sha1: export and look up from a database in hashr's native schema")
	default:
		return errors.New("the database holds no hashr tables: load it with hashr-load first")
	}
	var version int
	if err := r.db.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM hashr_schema_migrations`).Scan(&version); err != nil {
		return err
	}
	if version > SchemaVersion {
		return fmt.Errorf("the database's schema is version %d, newer than this hashr's (%d): use a newer hashr", version, SchemaVersion)
	}
	if version < oldestReadable {
		// Readers never write, so they cannot migrate: the columns a
		// newer schema added would otherwise fail a statement later.
		return fmt.Errorf("the database's schema is version %d, older than this hashr's (%d) (hint: run hashr-load --db URL </dev/null once to migrate it; it writes nothing else)", version, SchemaVersion)
	}
	return nil
}

// Filter selects the sources whose samples are read; the zero Filter
// selects all.
type Filter struct {
	Repo   string    // sources of this repository (their repo field)
	Source []byte    // this one source, by SHA-256
	Since  time.Time // sources whose job was first loaded at or after this time
	// IncludeFailed selects the samples of failed sources and failed
	// members too; without it only trusted links are read (trustedLink).
	IncludeFailed bool
	// VerifiedOnly selects the sources whose bytes verified (their
	// verified_ok): a sample is read when one of its links to them is
	// (the trust rule applies as ever), with its paths there alone.
	VerifiedOnly bool
}

// selectsAll says whether f selects every source, trusted or not.
func (f Filter) selectsAll() bool {
	return f.Repo == "" && f.Source == nil && f.Since.IsZero() && !f.VerifiedOnly
}

// trustedLink is the SQL condition under which the link l of a sample to
// the source src vouches for the sample: the source's last job was not
// failed, and the sample is not only at members that failed their own
// checks. The few failed rows have partial indexes (schema_native.go).
const trustedLink = `NOT l.failed AND src.status <> 'failed'`

// trusted returns the trust condition on the link aliased l and the
// source aliased src, or true when f includes failed ones.
func (f Filter) trusted() string {
	if f.IncludeFailed {
		return "true"
	}
	return trustedLink
}

// where returns the SQL condition on the source column col (a source
// SHA-256) and on the sources row aliased src, with its arguments numbered
// from $1.
func (f Filter) where(col string, args *[]any) string {
	var conds []string
	arg := func(v any) string {
		*args = append(*args, v)
		return "$" + strconv.Itoa(len(*args))
	}
	if f.Repo != "" {
		conds = append(conds, "src.repo = "+arg(f.Repo))
	}
	if f.Source != nil {
		conds = append(conds, col+" = "+arg(f.Source))
	}
	if f.VerifiedOnly {
		conds = append(conds, "src.verified_ok") // NULL (never checked) is not true
	}
	if !f.Since.IsZero() {
		// SQLite keeps imported_at as RFC 3339 text in UTC, which sorts as
		// time does; PostgreSQL as timestamptz, which reads that text.
		conds = append(conds, col+" IN (SELECT sha256 FROM jobs WHERE imported_at >= "+arg(f.Since.UTC().Format(time.RFC3339))+")")
	}
	if len(conds) == 0 {
		return "true"
	}
	return strings.Join(conds, " AND ")
}

// Sample is one row of samples: digests as bytes (nil when absent).
type Sample struct {
	SHA256, MD5, SHA1, SHA512, CRC32, BLAKE3 []byte
	SSDEEP, TLSH, MIME                       string
	Size                                     int64 // -1 when unknown
}

// Link is a sample's presence in one source: the source, and the sample's
// paths in it.
type Link struct {
	Source []byte   // the source's SHA-256
	Code   int64    // the source's package code (SourceInfo.Code), when asked for
	Repo   string   // the source's repository
	IDs    []string // the source's IDs
	Paths  []string // sorted, distinct
	// Failed says the link does not vouch for the sample: its source's
	// job failed (Status), or the sample is only at failed members.
	Failed bool
	Status string // the source's status: StatusDone, StatusPartial or StatusFailed
	// Package and Verified are the source's (nil when it has none); only
	// Lookup fills them in.
	Package  *records.Package
	Verified *records.Verified
}

// SampleLinks is a sample with every link of it that the filter selects.
type SampleLinks struct {
	Sample
	Links []Link
	// Total is how many links the filter selects: more than len(Links)
	// when Reader.MaxSources left the others out. Only Lookup sets it.
	Total int64
}

// SourceInfo is one row of sources.
type SourceInfo struct {
	SHA256      []byte
	IDs         []string
	Repo        string
	RepoPath    string
	URI         string
	Format      string
	Size        int64 // -1 when unknown
	Description string
	// Code numbers the sources of the database 1, 2, … in SHA-256 order:
	// the package and product codes of the NSRL formats.
	Code int64
	// Package and Verified are the source's, nil when it has none.
	Package  *records.Package
	Verified *records.Verified
}

// jsonArray is the SQL expression that reads an array column as JSON text.
func (r *Reader) jsonArray(col string) string {
	if r.pg {
		return "array_to_json(" + col + ")::text"
	}
	return col
}

// codes is a table of every source's package code.
const codes = `(SELECT sha256, row_number() OVER (ORDER BY sha256) AS code FROM sources)`

// CountSamples counts the distinct samples the filter selects.
func (r *Reader) CountSamples(ctx context.Context, f Filter) (int64, error) {
	var args []any
	query := `SELECT count(*) FROM samples`
	if !f.selectsAll() || !f.IncludeFailed && r.anyFailed(ctx) {
		query = `SELECT count(DISTINCT l.sample_sha256) FROM samples_sources l JOIN sources src ON src.sha256 = l.source_sha256 WHERE ` +
			f.where("l.source_sha256", &args) + ` AND ` + f.trusted()
	}
	var n int64
	if err := r.db.QueryRowContext(ctx, query, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting the samples of %s: %w", r.loc, err)
	}
	return n, nil
}

// anyFailed says whether the database holds a failed source or link (two
// probes of partial indexes); when it cannot tell, it says yes.
func (r *Reader) anyFailed(ctx context.Context) bool {
	var n int
	err := r.db.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM (SELECT 1 FROM sources WHERE status = 'failed' LIMIT 1) a)
		+ (SELECT count(*) FROM (SELECT 1 FROM samples_sources WHERE failed LIMIT 1) b)`).Scan(&n)
	return err != nil || n > 0
}

// Samples calls each with every sample the filter selects, in SHA-256
// order, with its links in source order. Rows are streamed: memory holds
// one sample's links at a time (and with withCodes, every source's
// SHA-256: 32 bytes a source). withCodes fills Link.Code. It reads in one
// snapshot, a read-only transaction.
func (r *Reader) Samples(ctx context.Context, f Filter, withCodes bool, each func(*SampleLinks) error) error {
	var args []any
	query := `SELECT l.sample_sha256, s.md5, s.sha1, s.sha512, s.crc32, s.blake3, s.ssdeep, s.tlsh, s.size, s.mime,
			l.source_sha256, ` + r.jsonArray("l.paths") + `, 0, src.repo, ` + r.jsonArray("src.ids") + `,
			l.failed, src.status
		FROM samples_sources l
		JOIN samples s ON s.sha256 = l.sample_sha256
		JOIN sources src ON src.sha256 = l.source_sha256
		WHERE ` + f.where("l.source_sha256", &args) + ` AND ` + f.trusted()
	err := r.readSnapshot(ctx, func(tx *sql.Tx) error {
		g := &sampleGrouper{each: each}
		if withCodes {
			var err error
			if g.codes, err = sourceOrder(ctx, tx); err != nil {
				return err
			}
		}
		read := r.samplesAtOnce
		switch {
		case r.citus:
			read = r.samplesInRanges
		case r.pg:
			read = r.samplesPaged
		}
		if err := read(ctx, tx, query, args, g); err != nil {
			return fmt.Errorf("reading the samples of %s: %w", r.loc, err)
		}
		return g.flush()
	})
	return err
}

// readSnapshot calls read with a read-only transaction, which sees the
// database as it was when it began (PostgreSQL's repeatable read;
// SQLite's read transaction).
func (r *Reader) readSnapshot(ctx context.Context, read func(*sql.Tx) error) error {
	var opts *sql.TxOptions
	if r.pg {
		opts = &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
	}
	tx, err := r.db.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("reading %s: %w", r.loc, err)
	}
	defer tx.Rollback()
	return read(tx)
}

// sourceOrder is every source's SHA-256, in order: a source's package
// code (SourceInfo.Code) is its place in it, from 1. Numbering them in
// Samples' statement, by a window over every source, sorted the sources
// again for each statement.
func sourceOrder(ctx context.Context, tx *sql.Tx) ([][]byte, error) {
	rows, err := tx.QueryContext(ctx, `SELECT sha256 FROM sources ORDER BY sha256`)
	if err != nil {
		return nil, fmt.Errorf("numbering the sources: %w", err)
	}
	defer rows.Close()
	var order [][]byte
	for rows.Next() {
		var sha []byte
		if err := rows.Scan(&sha); err != nil {
			return nil, fmt.Errorf("numbering the sources: %w", err)
		}
		order = append(order, sha)
	}
	return order, rows.Err()
}

// defaultSamplesPage is how many link rows each of Samples' statements
// reads from PostgreSQL: few enough that the server reads them in key
// order from the links' primary key with no sort, many enough that the
// statements' own cost (a plan each) stays small.
const defaultSamplesPage = 20_000

// How Samples reads the set. One statement over every link, ordered, was
// planned on a 30M-sample PostgreSQL as a sort of all 42M joined rows, and
// run on a 30M-sample Citus as such a sort on the coordinator: each
// spilled more temporary files than the disk held. So PostgreSQL reads a
// page of rows after the last one read, by the links' primary key, with
// no sort (samplesPaged); Citus, which would send each page's LIMIT to
// every shard and read 32 pages for one, reads a range of SHA-256s at a
// time, each range's rows few enough to sort in memory (samplesInRanges);
// SQLite walks the primary key for the one statement (samplesAtOnce).

// page is how many link rows each of Samples' statements reads.
func (r *Reader) page() int {
	if r.samplesPage > 0 {
		return r.samplesPage
	}
	return defaultSamplesPage
}

// samplesAtOnce reads query's rows, ordered, in one statement.
func (r *Reader) samplesAtOnce(ctx context.Context, tx *sql.Tx, query string, args []any, g *sampleGrouper) error {
	return r.readSamples(ctx, tx, query+` ORDER BY l.sample_sha256, l.source_sha256`, args, g)
}

// samplesPaged reads query's rows a page at a time, each page the rows
// after the last one read in (sample, source) order.
func (r *Reader) samplesPaged(ctx context.Context, tx *sql.Tx, query string, args []any, g *sampleGrouper) error {
	page := r.page()
	n := len(args)
	// s.sha256 bounded too: a merge join with the samples' key would
	// otherwise read it from its start for every page.
	query += fmt.Sprintf(` AND (l.sample_sha256, l.source_sha256) > ($%[1]d, $%[2]d) AND s.sha256 >= $%[1]d
		ORDER BY l.sample_sha256, l.source_sha256 LIMIT %[3]d`, n+1, n+2, page)
	lastSample, lastSource := []byte{}, []byte{} // before every key
	for {
		rows, err := tx.QueryContext(ctx, query, append(args, lastSample, lastSource)...)
		if err != nil {
			return err
		}
		read := 0
		for rows.Next() {
			if err := r.scanInto(rows, g); err != nil {
				rows.Close()
				return err
			}
			read++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if read < page {
			return nil
		}
		lastSample, lastSource = g.last.SHA256, g.last.Links[len(g.last.Links)-1].Source
	}
}

// samplesInRanges reads query's rows a range of sample SHA-256s at a
// time, in order: as many ranges, of equal width, as pages of links the
// set holds, so that a range holds about a page (SHA-256s are uniform).
// The ranges are bounded by the first 8 bytes of a SHA-256, each its
// lower bound included: a bytea that is a prefix of another sorts first.
func (r *Reader) samplesInRanges(ctx context.Context, tx *sql.Tx, query string, args []any, g *sampleGrouper) error {
	var links uint64
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM samples_sources`).Scan(&links); err != nil {
		return fmt.Errorf("counting the links: %w", err)
	}
	page := uint64(r.page())
	ranges := max(1, (links+page-1)/page)
	n := len(args)
	query += fmt.Sprintf(` AND l.sample_sha256 >= $%[1]d AND l.sample_sha256 < $%[2]d
		AND s.sha256 >= $%[1]d AND s.sha256 < $%[2]d
		ORDER BY l.sample_sha256, l.source_sha256`, n+1, n+2)
	after := bytes.Repeat([]byte{0xff}, 33) // after every SHA-256
	for i := range ranges {
		lo, hi := rangeBound(i, ranges), after
		if i+1 < ranges {
			hi = rangeBound(i+1, ranges)
		}
		if err := r.readSamples(ctx, tx, query, append(args, lo, hi), g); err != nil {
			return err
		}
	}
	return nil
}

// rangeBound is the first SHA-256 prefix of the i-th of n equal ranges.
func rangeBound(i, n uint64) []byte {
	q, _ := bits.Div64(i, 0, n) // i × 2⁶⁴ / n, i < n
	return binary.BigEndian.AppendUint64(nil, q)
}

// readSamples reads the rows of one of Samples' statements into g.
func (r *Reader) readSamples(ctx context.Context, tx *sql.Tx, query string, args []any, g *sampleGrouper) error {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := r.scanInto(rows, g); err != nil {
			return err
		}
	}
	return rows.Err()
}

// scanInto reads a row of Samples' statement into g.
func (r *Reader) scanInto(rows *sql.Rows, g *sampleGrouper) error {
	var s Sample
	var l Link
	if err := r.scanLink(rows, &s, &l); err != nil {
		return err
	}
	return g.add(s, l)
}

// sampleGrouper gathers rows of links, in sample order, into samples,
// calling each with a sample once its links are all read.
type sampleGrouper struct {
	each  func(*SampleLinks) error
	last  *SampleLinks // the sample whose links are being read
	codes [][]byte     // every source's SHA-256 in order, to fill Link.Code; nil: none
}

func (g *sampleGrouper) add(s Sample, l Link) error {
	if g.last != nil && string(g.last.SHA256) != string(s.SHA256) {
		if err := g.flush(); err != nil {
			return err
		}
	}
	if g.last == nil {
		g.last = &SampleLinks{Sample: s}
	}
	if g.codes != nil {
		i, found := slices.BinarySearchFunc(g.codes, l.Source, bytes.Compare)
		if !found {
			return fmt.Errorf("numbering source %x: it is not in the sources table", l.Source)
		}
		l.Code = int64(i) + 1
	}
	g.last.Links = append(g.last.Links, l)
	return nil
}

// flush ends the sample being read.
func (g *sampleGrouper) flush() error {
	if g.last == nil {
		return nil
	}
	s := g.last
	g.last = nil
	return g.each(s)
}

// scanLink reads a row of Samples' or lookup's columns into s and l, and
// the columns after them into extra.
func (r *Reader) scanLink(rows *sql.Rows, s *Sample, l *Link, extra ...any) error {
	var ssdeep, tlsh, mime, repo, paths, ids sql.NullString
	var size, code sql.NullInt64
	var failed bool
	if err := rows.Scan(append([]any{&s.SHA256, &s.MD5, &s.SHA1, &s.SHA512, &s.CRC32, &s.BLAKE3, &ssdeep, &tlsh, &size, &mime,
		&l.Source, &paths, &code, &repo, &ids, &failed, &l.Status}, extra...)...); err != nil {
		return err
	}
	l.Failed = failed || l.Status == StatusFailed
	s.SSDEEP, s.TLSH, s.MIME, l.Repo = ssdeep.String, tlsh.String, mime.String, repo.String
	s.Size = -1
	if size.Valid {
		s.Size = size.Int64
	}
	l.Code = code.Int64
	if err := decodeArray(paths, &l.Paths); err != nil {
		return fmt.Errorf("paths of sample %x in source %x: %w", s.SHA256, l.Source, err)
	}
	if err := decodeArray(ids, &l.IDs); err != nil {
		return fmt.Errorf("IDs of source %x: %w", l.Source, err)
	}
	return nil
}

// Sources calls each with every source the filter selects, in SHA-256
// order.
func (r *Reader) Sources(ctx context.Context, f Filter, each func(*SourceInfo) error) error {
	var args []any
	query := `SELECT src.sha256, ` + r.jsonArray("src.ids") + `, src.repo, src.repo_path, src.uri, src.format, src.size,
			src.description, c.code, ` + r.provenanceColumns("src") + `
		FROM sources src JOIN ` + codes + ` c ON c.sha256 = src.sha256
		WHERE ` + f.where("src.sha256", &args) + ` AND (` + strconv.FormatBool(f.IncludeFailed) + ` OR src.status <> 'failed')
		ORDER BY src.sha256`
	rows, err := r.db.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("reading the sources of %s: %w", r.loc, err)
	}
	defer rows.Close()
	for rows.Next() {
		var s SourceInfo
		var ids, repo, repoPath, uri, format, desc sql.NullString
		var size sql.NullInt64
		var prov provenanceRow
		if err := rows.Scan(append([]any{&s.SHA256, &ids, &repo, &repoPath, &uri, &format, &size, &desc, &s.Code}, prov.targets()...)...); err != nil {
			return fmt.Errorf("reading the sources of %s: %w", r.loc, err)
		}
		if s.Package, s.Verified, err = prov.decode(); err != nil {
			return fmt.Errorf("reading the sources of %s: source %x: %w", r.loc, s.SHA256, err)
		}
		s.Repo, s.RepoPath, s.URI, s.Format, s.Description = repo.String, repoPath.String, uri.String, format.String, desc.String
		s.Size = -1
		if size.Valid {
			s.Size = size.Int64
		}
		if err := decodeArray(ids, &s.IDs); err != nil {
			return fmt.Errorf("reading the sources of %s: IDs of %x: %w", r.loc, s.SHA256, err)
		}
		if err := each(&s); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading the sources of %s: %w", r.loc, err)
	}
	return nil
}

// FailedSource is a source that does not vouch for some of its samples.
type FailedSource struct {
	SHA256 []byte
	IDs    []string
	Status string // StatusFailed, or the status of a source with failed members
}

// FailedSources lists the sources the filter selects whose job failed or
// that hold failed members, in SHA-256 order: what --include-failed adds.
func (r *Reader) FailedSources(ctx context.Context, f Filter) ([]FailedSource, error) {
	var args []any
	// The sources of failed links as a set, not a correlated EXISTS: Citus
	// plans no correlated subquery beside a reference table (sources),
	// and the set is small (samples_sources_failed indexes it).
	query := `SELECT src.sha256, ` + r.jsonArray("src.ids") + `, src.status FROM sources src
		WHERE ` + f.where("src.sha256", &args) + ` AND (src.status = 'failed'
			OR src.sha256 IN (SELECT l.source_sha256 FROM samples_sources l WHERE l.failed))
		ORDER BY src.sha256`
	rows, err := r.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("listing the failed sources of %s: %w", r.loc, err)
	}
	defer rows.Close()
	var out []FailedSource
	for rows.Next() {
		var s FailedSource
		var ids sql.NullString
		if err := rows.Scan(&s.SHA256, &ids, &s.Status); err != nil {
			return nil, fmt.Errorf("listing the failed sources of %s: %w", r.loc, err)
		}
		if err := decodeArray(ids, &s.IDs); err != nil {
			return nil, fmt.Errorf("listing the failed sources of %s: IDs of %x: %w", r.loc, s.SHA256, err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// Digest columns a lookup can search: each is indexed.
const (
	BySHA256 = "sha256"
	BySHA1   = "sha1"
	ByMD5    = "md5"
)

// MaxLookupBatch is the most keys one Lookup call sends: SQLite and
// PostgreSQL both take this many parameters in one statement.
const MaxLookupBatch = 2000

// Lookup finds the samples whose digest column by (BySHA256, BySHA1 or
// ByMD5) is one of keys, with all their links, in one query per
// MaxLookupBatch keys. Looked up by sha256, a sample holds only its
// SHA256: the caller has the digests it looked up with (LookupSamples
// reads the rest). A key found in no sample is absent from the result; a
// key that several samples share (an md5 collision) maps to each of them.
func (r *Reader) Lookup(ctx context.Context, by string, keys [][]byte) (map[string][]*SampleLinks, error) {
	return r.lookupAll(ctx, by, keys, false)
}

// LookupSamples is Lookup with every sample's own row read whatever the
// key (digests, size, MIME type): what a lookup service answers with, for
// one key or a bulk request of many, in one query per MaxLookupBatch keys.
func (r *Reader) LookupSamples(ctx context.Context, by string, keys [][]byte) (map[string][]*SampleLinks, error) {
	return r.lookupAll(ctx, by, keys, true)
}

func (r *Reader) lookupAll(ctx context.Context, by string, keys [][]byte, full bool) (map[string][]*SampleLinks, error) {
	if by != BySHA256 && by != BySHA1 && by != ByMD5 {
		return nil, fmt.Errorf("looking up by %q: want sha256, sha1 or md5", by)
	}
	found := make(map[string][]*SampleLinks, len(keys)) // sized once: grown from empty, it was copied at each doubling
	for len(keys) > 0 {
		batch := keys[:min(len(keys), MaxLookupBatch)]
		keys = keys[len(batch):]
		var err error
		if by == BySHA256 && !full {
			err = r.lookupSHA256(ctx, batch, found)
		} else {
			err = r.lookup(ctx, by, batch, found)
		}
		if err != nil {
			return nil, fmt.Errorf("looking up %d digests in %s: %w", len(batch), r.loc, err)
		}
	}
	return found, nil
}

// lookup reads the samples whose column by is one of keys, each with its
// own row and its links, joined in one query.
func (r *Reader) lookup(ctx context.Context, by string, keys [][]byte, found map[string][]*SampleLinks) error {
	rows, err := r.queryKeys(ctx, r.joinedLinksQuery(by), keys)
	if err != nil {
		return err
	}
	defer rows.Close()
	// Rows come in no particular order (sorting them cost the database
	// more than grouping them here); links are sorted by source after.
	samples := map[string]*SampleLinks{}
	for rows.Next() {
		var s Sample
		var l Link
		if err := r.scanLink(rows, &s, &l); err != nil {
			return err
		}
		r.linkRowsRead.Add(1)
		cur := samples[string(s.SHA256)]
		if cur == nil {
			cur = &SampleLinks{Sample: s}
			samples[string(s.SHA256)] = cur
			key := s.SHA256
			switch by {
			case BySHA1:
				key = s.SHA1
			case ByMD5:
				key = s.MD5
			}
			found[string(key)] = append(found[string(key)], cur)
		}
		cur.Links = append(cur.Links, l)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	rows.Close()
	for _, s := range samples {
		slices.SortFunc(s.Links, func(a, b Link) int { return bytes.Compare(a.Source, b.Source) })
	}
	if err := r.capLinks(ctx, slices.Collect(maps.Values(samples))); err != nil {
		return err
	}
	return r.addProvenance(ctx, slices.Collect(maps.Values(samples)))
}

// lookupSHA256 looks samples up by sha256 in samples_sources alone, which
// is keyed by it: the samples table, and half the pages a lookup reads,
// are left out (the caller has the digests it looked up with), and the
// few sources are read once and kept, rather than joined on every row.
func (r *Reader) lookupSHA256(ctx context.Context, keys [][]byte, found map[string][]*SampleLinks) error {
	b := &sha256Batch{r: r, found: found, refs: map[string]sourceRef{}}
	var err error
	if r.MaxSources > 0 && !r.pg {
		err = r.readFirstLinksInTurn(ctx, keys, b)
	} else {
		err = r.readSHA256Links(ctx, keys, b)
	}
	if err != nil {
		return err
	}
	if err := r.cacheSources(ctx, b.unknownSources, b.refs); err != nil {
		return err
	}
	return r.capLinks(ctx, r.completeLinks(b.samples, b.refs, found))
}

// readSHA256Links reads the links of keys that sha256LinksQuery selects
// into b.
func (r *Reader) readSHA256Links(ctx context.Context, keys [][]byte, b *sha256Batch) error {
	rows, err := r.queryKeys(ctx, r.sha256LinksQuery(), keys)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if _, _, err := b.scan(rows); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return rows.Close()
}

// sha256Batch gathers the link rows of a lookup by sha256.
type sha256Batch struct {
	r              *Reader
	found          map[string][]*SampleLinks // the lookup's answers, by key
	samples        []*SampleLinks            // this batch's, in the order read
	refs           map[string]sourceRef      // this batch's sources, those known
	unknownSources [][]byte                  // and those to read
}

// scan reads a row of sha256LinksQuery's columns into b, and returns its
// sample and source.
func (b *sha256Batch) scan(rows *sql.Rows) (sample, source []byte, err error) {
	var paths sql.NullString
	var failed bool
	if err := rows.Scan(&sample, &source, &paths, &failed); err != nil {
		return nil, nil, err
	}
	b.r.linkRowsRead.Add(1)
	l := Link{Source: source, Failed: failed}
	if err := decodeArray(paths, &l.Paths); err != nil {
		return nil, nil, fmt.Errorf("paths of sample %x in source %x: %w", sample, source, err)
	}
	cur := b.found[string(sample)]
	if cur == nil {
		cur = []*SampleLinks{{Sample: Sample{SHA256: sample, Size: -1}}}
		b.found[string(sample)] = cur
		b.samples = append(b.samples, cur[0])
	}
	cur[0].Links = append(cur[0].Links, l)
	if _, ok := b.refs[string(source)]; !ok {
		if ref, ok := b.r.cachedSource(source); ok {
			b.refs[string(source)] = ref
		} else {
			b.unknownSources = append(b.unknownSources, source)
		}
	}
	return sample, source, nil
}

// completeLinks fills in the batch's links from their sources, leaves the
// failed ones out (unless IncludeFailed), and drops a sample with no
// link left from found; it returns the samples left.
func (r *Reader) completeLinks(batch []*SampleLinks, refs map[string]sourceRef, found map[string][]*SampleLinks) []*SampleLinks {
	kept := batch[:0]
	for _, s := range batch {
		for i := range s.Links {
			l := &s.Links[i]
			src := refs[string(l.Source)]
			l.Repo, l.IDs, l.Status, l.Package, l.Verified = src.repo, src.ids, src.status, src.pkg, src.verified
			l.Failed = l.Failed || src.status == StatusFailed
		}
		if !r.IncludeFailed {
			// Only trusted links vouch for a sample; with none it is unknown.
			s.Links = slices.DeleteFunc(s.Links, func(l Link) bool { return l.Failed })
			if len(s.Links) == 0 {
				delete(found, string(s.SHA256))
				continue
			}
		}
		slices.SortFunc(s.Links, func(a, b Link) int { return bytes.Compare(a.Source, b.Source) })
		kept = append(kept, s)
	}
	return kept
}

// sourceRef is what a lookup reports of a source.
type sourceRef struct {
	repo     string
	ids      []string
	status   string
	pkg      *records.Package
	verified *records.Verified
}

// maxCachedSources bounds the sources a Reader keeps; past it the cache
// starts over.
const maxCachedSources = 1 << 20

func (r *Reader) cachedSource(sha []byte) (sourceRef, bool) {
	r.sourcesMu.Lock()
	defer r.sourcesMu.Unlock()
	ref, ok := r.sources[string(sha)]
	return ref, ok
}

// cacheSources reads the named sources into refs and the cache.
func (r *Reader) cacheSources(ctx context.Context, shas [][]byte, refs map[string]sourceRef) error {
	slices.SortFunc(shas, bytes.Compare)
	shas = slices.CompactFunc(shas, bytes.Equal)
	for len(shas) > 0 {
		batch := shas[:min(len(shas), MaxLookupBatch)]
		shas = shas[len(batch):]
		rows, err := r.queryKeys(ctx, `SELECT src.sha256, src.repo, `+r.jsonArray("src.ids")+`, src.status, `+r.provenanceColumns("src")+`
			FROM sources src WHERE src.sha256 IN (`+keyList+`)`, batch)
		if err != nil {
			return err
		}
		for rows.Next() {
			var sha []byte
			var repo, ids sql.NullString
			var ref sourceRef
			var prov provenanceRow
			if err := rows.Scan(append([]any{&sha, &repo, &ids, &ref.status}, prov.targets()...)...); err != nil {
				rows.Close()
				return err
			}
			ref.repo = repo.String
			var err error
			if ref.pkg, ref.verified, err = prov.decode(); err != nil {
				rows.Close()
				return fmt.Errorf("source %x: %w", sha, err)
			}
			if err := decodeArray(ids, &ref.ids); err != nil {
				rows.Close()
				return fmt.Errorf("IDs of source %x: %w", sha, err)
			}
			refs[string(sha)] = ref
			r.sourcesMu.Lock()
			if r.sources == nil || len(r.sources) >= maxCachedSources {
				r.sources = map[string]sourceRef{}
			}
			r.sources[string(sha)] = ref
			r.sourcesMu.Unlock()
		}
		if err := rows.Close(); err != nil {
			return err
		}
	}
	return nil
}

// readBufferSize is how much of an answer a connection takes from its
// socket in one read. pgx reads in chunks of 8 KB, so a bulk of 1,000
// lookups (some 400 KB of rows) took about 64 read calls (strace, serve20h);
// through this buffer each call takes whatever the socket holds.
const readBufferSize = 256 << 10

// bufferedFrontend is pgx's protocol reader over a large read buffer.
// What the buffer holds is hidden from pgconn's SyncConn, which only
// Hijack and Conn need, and a reader uses neither.
func bufferedFrontend(r io.Reader, w io.Writer) *pgproto3.Frontend {
	return pgproto3.NewFrontend(bufio.NewReaderSize(r, readBufferSize), w)
}
