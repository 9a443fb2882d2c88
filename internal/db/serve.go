package db

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/hashr-dev/hashr/pkg/records"
)

// The read queries of hashr-serve (internal/serve). Each request is
// answered by one or two statements whatever its size: a bulk lookup of
// a thousand hashes is one "WHERE md5 IN (...)" query, not a thousand.
// Trust is that of every reader: only links that vouch for a sample
// (trustedLink) are read unless the Reader has IncludeFailed.

// ServedSource is what hashr-serve shows of a source.
type ServedSource struct {
	SHA256 []byte
	// MD5 and SHA1 are the source's own digests when it is also a sample
	// of the set (a package found inside another source); nil otherwise.
	MD5, SHA1   []byte
	IDs         []string
	Repo        string
	URI         string
	Format      string
	Description string
	Status      string // StatusDone, StatusPartial or StatusFailed
	Size        int64  // -1 when unknown
	// Package and Verified are the source's, nil when it has none
	// (ServeLookup only).
	Package  *records.Package
	Verified *records.Verified
	// Memo keeps what a reader derives from the source (hashr-serve:
	// its JSON), made once and shared by every link that names it, as
	// long as the source is cached; nil outside ServeLookup.
	Memo *SourceMemo
}

// SourceMemo is a ServedSource's memo: a source never changes once read,
// so what is derived from it holds as long as it is cached (servecache.go),
// and a bulk's answer names each of a few thousand sources request after
// request. Its value is the deriver's own type.
type SourceMemo struct {
	once sync.Once
	v    any
}

// Get returns the memo's value, made by derive on the first call; a nil
// memo makes it anew each time.
func (m *SourceMemo) Get(derive func() any) any {
	if m == nil {
		return derive()
	}
	m.once.Do(func() { m.v = derive() })
	return m.v
}

// ServedLink is a sample's presence in one source.
type ServedLink struct {
	Source ServedSource
	Paths  []string // the sample's paths in the source, sorted
	Failed bool     // the link does not vouch for the sample (IncludeFailed only)
}

// ServedSample is a sample with the links of it that the reader trusts,
// in source order: the first MaxServedLinks of them, LinkTotal in all.
type ServedSample struct {
	Sample
	Links     []ServedLink
	LinkTotal int64
}

// MaxServedLinks bounds the links ServeLookup reads per sample: a content
// in thousands of sources (an empty file, a common license text) would
// otherwise make one answer megabytes long and one bulk read all of
// them. As CIRCL's hashlookup:parent-total, LinkTotal still counts them
// all, and ServeParents pages through them.
const MaxServedLinks = 100

// MaxServeBatch is the most keys ServeLookup takes in its one statement:
// below SQLite's limit of 32766 parameters and PostgreSQL's of 65535.
const MaxServeBatch = 10000

// trusted is the trust condition on the link l and source src.
func (r *Reader) trusted() string { return Filter{IncludeFailed: r.IncludeFailed}.trusted() }

// ServeLookup finds the samples whose digest column by (BySHA256, BySHA1 or
// ByMD5) is one of keys, each with its digests and the links the reader
// trusts (the first MaxServedLinks by source; LinkTotal counts them all).
// A sample known only from failed sources or members is absent.
// Samples come in SHA-256 order.
//
// It reads the samples and their links in one statement, then the
// distinct sources those links name, with their own digests, once each:
// from the reader's cache of sources when the database is as it was when
// they were read (servedSources), else in a second statement. Joining
// them per row read a source and probed samples for its digests once per
// link: half of the 14,000 buffers a bulk of 1,000 SHA-1s touched in a
// set of 10M samples, for a few hundred distinct sources.
func (r *Reader) ServeLookup(ctx context.Context, by string, keys [][]byte) ([]*ServedSample, error) {
	if by != BySHA256 && by != BySHA1 && by != ByMD5 {
		return nil, fmt.Errorf("looking up by %q: want sha256, sha1 or md5", by)
	}
	if len(keys) == 0 {
		return nil, nil
	}
	if len(keys) > MaxServeBatch {
		return nil, fmt.Errorf("looking up %d digests at once: at most %d", len(keys), MaxServeBatch)
	}
	samples, snapshot, err := r.serveSamples(ctx, by, distinctKeys(keys))
	if err != nil {
		return nil, fmt.Errorf("looking up %d digests in %s: %w", len(keys), r.loc, err)
	}
	var shas [][]byte
	for _, s := range samples {
		for _, l := range s.Links {
			shas = append(shas, l.Source.SHA256)
		}
	}
	sources, err := r.servedSources(ctx, snapshot, shas)
	if err != nil {
		return nil, fmt.Errorf("reading the sources of %d samples in %s: %w", len(samples), r.loc, err)
	}
	out := make([]*ServedSample, 0, len(samples))
	for _, s := range samples {
		if r.completeServed(s, sources) {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b *ServedSample) int { return compareDigests(a.SHA256, b.SHA256) })
	return out, nil
}

// serveSamples reads the samples whose column by is one of keys (each
// key once), each with its links (only their sources' SHA-256 filled
// in), and the snapshot they were read in (see servedSources).
func (r *Reader) serveSamples(ctx context.Context, by string, keys [][]byte) (map[string]*ServedSample, string, error) {
	query := r.serveSamplesQuery(by, len(keys))
	samples := servedRows{samples: make(map[string]*ServedSample, len(keys))}
	if r.pg {
		return samples.samples, samples.snapshot, r.serveSamplesPG(ctx, query, keys, &samples)
	}
	rows, err := r.queryServeKeys(ctx, query, keys)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	var rowSnapshot sql.RawBytes // the same in every row: made a string once
	for rows.Next() {
		// Each row is read straight into the sample it may start: a
		// Sample and a link scanned into, then copied into their
		// places, were a quarter of the bytes a bulk allocated.
		row := &ServedSample{Links: make([]ServedLink, 1)}
		if err := scanServed(rows, &row.Sample, &row.Links[0], &rowSnapshot, &row.LinkTotal); err != nil {
			return nil, "", err
		}
		samples.add(row, string(row.SHA256), rowSnapshot)
	}
	return samples.samples, samples.snapshot, rows.Err()
}

// servedLinkTrusted is the trust condition of serveSamples' statements
// on a link l.
func (r *Reader) servedLinkTrusted() string {
	if r.IncludeFailed {
		return "true"
	}
	return "NOT l.failed AND l.source_sha256 NOT IN (SELECT sha256 FROM sources WHERE status = 'failed')"
}

// serveSamplesQuery is serveSamples' statement for n distinct keys: in
// PostgreSQL its one parameter is the keys' bytea[], in SQLite keyList
// stands for them.
func (r *Reader) serveSamplesQuery(by string, n int) string {
	linkTrusted := r.servedLinkTrusted()
	// The samples of the keys. PostgreSQL's md5 and sha1 indexes are hash
	// indexes, which always make the executor check the condition again
	// on each row they find; "sha1 = ANY($1)" of a parameter (a prepared
	// statement's generic plan) is checked by a linear search of the
	// array, as PostgreSQL 15 makes a hash table of it only for a
	// constant: 1,000 keys took 504,498 byte comparisons, 46% of the
	// backend's instructions for the statement. Joined to the keys
	// unnested, each key is one probe of the index and one comparison
	// (63% fewer instructions for 1,000 SHA-1s); the keys must then be
	// distinct (ServeLookup makes them so), as each joins its samples
	// once. By sha256 (the primary key, a B-tree, which takes the array
	// as its own condition and checks no row again) the two cost the
	// same. Citus keeps the array: the join was not tried there.
	//
	// A single key is the parameter itself, not an array of one: with
	// "= ANY($1)" PostgreSQL estimated the plan for that one key (one row)
	// cheaper than the generic plan (an array of 10) and so planned every
	// single anew, 0.2 ms of its CPU each; an equality's plan is the same
	// for any key, and after its first five PostgreSQL keeps the generic.
	samplesOfKeys, keyCond := `samples s`, `s.`+by+` IN (`+keyList+`) AND `
	switch {
	case !r.pg:
	case n == 1:
		keyCond = `s.` + by + ` = $1 AND `
	case by == BySHA256 || n == 0 || r.citus:
		keyCond = `s.` + by + ` = ANY($1::bytea[]) AND `
	default:
		samplesOfKeys, keyCond = `unnest($1::bytea[]) AS k(key) JOIN samples s ON s.`+by+` = k.key`, ``
	}
	// Each sample's first MaxServedLinks links by source, and the count
	// of all; the links of failed sources are left out here, not after,
	// so that the count is of those the reader trusts. In SQLite and
	// Citus, by window functions over all the rows.
	if r.pg && !r.citus {
		return r.serveSamplesLateral(samplesOfKeys, keyCond, linkTrusted)
	}
	return `SELECT sha256, md5, sha1, sha512, crc32, blake3, ssdeep, tlsh, size, mime,
			source_sha256, paths, failed, snapshot, link_total
		FROM (SELECT s.sha256, s.md5, s.sha1, s.sha512, s.crc32, s.blake3, s.ssdeep, s.tlsh, s.size, s.mime,
				l.source_sha256, ` + r.jsonArray("l.paths") + ` AS paths, l.failed, ` + r.snapshotExpr() + ` AS snapshot,
				row_number() OVER (PARTITION BY s.sha256 ORDER BY l.source_sha256) AS link_rank,
				count(*) OVER (PARTITION BY s.sha256) AS link_total
			FROM ` + samplesOfKeys + `
			JOIN samples_sources l ON l.sample_sha256 = s.sha256
			WHERE ` + keyCond + linkTrusted + `) ranked
		WHERE link_rank <= ` + strconv.Itoa(MaxServedLinks)
}

// serveSamplesLateral is serveSamplesQuery's statement in PostgreSQL (not
// Citus, where it was not tried): a lateral subquery reads at most
// MaxServedLinks+1 links of each sample. The window functions over all
// the rows (SQLite has no LATERAL) sorted the whole answer by sample
// first: with the snapshot computed once (an InitPlan) rather than once
// a row, the backend's instructions for a bulk of 1,000 SHA-1s fell by
// 24% (43.6M → 33.1M, callgrind).
//
// It reads the links in no order, one more than it keeps, and no count
// of them all (its last column is NULL). A sample with no more links
// than that has them all, which completeServed sorts; the rare one with
// more has its first ones by source read again, in order, and counted
// (cappedServedLinks). In source order (ORDER BY l.source_sha256), the
// links found by the hash index on the links (schema version 5) were
// sorted for every key, a fifth of a bulk's execution (200,000-sample
// set, warm: 1.8–1.9 ms without, 2.2–2.5 ms with). A window count(*)
// OVER () in the subquery kept each sample's links in a tuple store of
// their own, made and freed for every key. The paths go as the text[]
// they are (servedRowDecoder reads its binary form), not as JSON text:
// array_to_json was 4.1M of the 33.1M.
func (r *Reader) serveSamplesLateral(samplesOfKeys, keyCond, linkTrusted string) string {
	return `SELECT s.sha256, s.md5, s.sha1, s.sha512, s.crc32, s.blake3, s.ssdeep, s.tlsh, s.size, s.mime,
			l.source_sha256, l.paths, l.failed, (SELECT ` + r.snapshotExpr() + `), NULL::bigint
		FROM ` + samplesOfKeys + `
		CROSS JOIN LATERAL (SELECT l.source_sha256, l.paths, l.failed
			FROM samples_sources l
			WHERE l.sample_sha256 = s.sha256 AND ` + linkTrusted + `
			LIMIT ` + strconv.Itoa(MaxServedLinks+1) + `) l
		WHERE ` + keyCond + `true`
}

// servedRows gathers serveSamples' rows into samples.
type servedRows struct {
	samples  map[string]*ServedSample
	snapshot string
}

// add takes a row read into row (one link), the sample's SHA-256 as a
// string (key), and the row's snapshot text.
func (s *servedRows) add(row *ServedSample, key string, snapshot []byte) {
	if string(snapshot) != s.snapshot {
		s.snapshot = string(snapshot)
	}
	if cur := s.samples[key]; cur != nil {
		cur.Links = append(cur.Links, row.Links[0])
	} else {
		s.samples[key] = row
	}
}

// scanServed reads one row of serveSamples' statement.
func scanServed(rows *sql.Rows, s *Sample, l *ServedLink, snapshot *sql.RawBytes, linkTotal *int64) error {
	var ssdeep, tlsh, mime, paths sql.NullString
	var size sql.NullInt64
	if err := rows.Scan(&s.SHA256, &s.MD5, &s.SHA1, &s.SHA512, &s.CRC32, &s.BLAKE3, &ssdeep, &tlsh, &size, &mime,
		&l.Source.SHA256, &paths, &l.Failed, snapshot, linkTotal); err != nil {
		return err
	}
	return fillServed(s, l, ssdeep, tlsh, mime, size, paths)
}

// fillServed sets the fields of s and l that a row of serveSamples'
// statement gives as nullable columns, whichever driver read them.
func fillServed(s *Sample, l *ServedLink, ssdeep, tlsh, mime sql.NullString, size sql.NullInt64, paths sql.NullString) error {
	s.SSDEEP, s.TLSH, s.MIME = ssdeep.String, tlsh.String, mime.String
	s.Size = sizeOrUnknown(size)
	if err := decodeArray(paths, &l.Paths); err != nil {
		return fmt.Errorf("paths of sample %x in source %x: %w", s.SHA256, l.Source.SHA256, err)
	}
	return nil
}

// completeServed fills in s's links from their sources, leaves out the
// links the reader does not trust and those whose source has no row (the
// join did), and sorts them by source; false when no link is left.
func (r *Reader) completeServed(s *ServedSample, sources map[string]*ServedSource) bool {
	read := len(s.Links)
	// One pass, one look-up of the source a link: two passes and two
	// look-ups took some 0.6M of the 13M instructions of a bulk of 1,000.
	kept := s.Links[:0]
	for _, l := range s.Links {
		src, ok := sources[string(l.Source.SHA256)]
		if !ok {
			continue
		}
		l.Source = *src
		l.Failed = l.Failed || src.Status == StatusFailed
		if l.Failed && !r.IncludeFailed { // a source that failed since the links were read
			continue
		}
		kept = append(kept, l)
	}
	clear(s.Links[len(kept):])
	s.Links = kept
	s.LinkTotal -= int64(read - len(s.Links))
	slices.SortFunc(s.Links, func(a, b ServedLink) int { return compareDigests(a.Source.SHA256, b.Source.SHA256) })
	return len(s.Links) > 0
}

func sizeOrUnknown(n sql.NullInt64) int64 {
	if n.Valid {
		return n.Int64
	}
	return -1
}

// ServeParents pages through the sources of the samples whose digest
// column by is key, in SHA-256 order: at most limit from offset, and how
// many there are in all. A sample known only from failed sources has none.
func (r *Reader) ServeParents(ctx context.Context, by string, key []byte, limit, offset int) (parents [][]byte, total int64, err error) {
	if by != BySHA256 && by != BySHA1 && by != ByMD5 {
		return nil, 0, fmt.Errorf("listing parents by %q: want sha256, sha1 or md5", by)
	}
	from := `FROM samples s JOIN samples_sources l ON l.sample_sha256 = s.sha256
		JOIN sources src ON src.sha256 = l.source_sha256
		WHERE s.` + by + ` = $1 AND ` + r.trusted()
	if err := r.db.QueryRowContext(ctx, `SELECT count(DISTINCT l.source_sha256) `+from, key).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("counting the sources of %x in %s: %w", key, r.loc, err)
	}
	if total == 0 || int64(offset) >= total {
		return nil, total, nil
	}
	parents, err = r.column(ctx, `SELECT DISTINCT l.source_sha256 `+from+` ORDER BY l.source_sha256 LIMIT $2 OFFSET $3`, key, limit, offset)
	if err != nil {
		return nil, 0, fmt.Errorf("listing the sources of %x in %s: %w", key, r.loc, err)
	}
	return parents, total, nil
}

// column reads the single bytes column of query's rows.
func (r *Reader) column(ctx context.Context, query string, args ...any) ([][]byte, error) {
	rows, err := r.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// Child is a sample of a source with its paths there.
type Child struct {
	Sample
	Paths []string
}

// sourceKey is the condition that selects a source by its SHA-256, or by
// the MD5 or SHA-1 it has as a sample of the set (a nested package).
func sourceKey(by string) string {
	if by == BySHA256 {
		return `l.source_sha256 = $1`
	}
	return `l.source_sha256 IN (SELECT sha256 FROM samples WHERE ` + by + ` = $1)`
}

// ServeChildren pages through the samples of the source whose digest is
// key (see sourceKey), in SHA-256 order: at most limit from offset, and
// how many there are in all. A failed source has none.
func (r *Reader) ServeChildren(ctx context.Context, by string, key []byte, limit, offset int) (children []Child, total int64, err error) {
	if by != BySHA256 && by != BySHA1 && by != ByMD5 {
		return nil, 0, fmt.Errorf("listing children by %q: want sha256, sha1 or md5", by)
	}
	from := `FROM samples_sources l JOIN sources src ON src.sha256 = l.source_sha256
		WHERE ` + sourceKey(by) + ` AND ` + r.trusted()
	if err := r.db.QueryRowContext(ctx, `SELECT count(*) `+from, key).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("counting the samples of source %x in %s: %w", key, r.loc, err)
	}
	if total == 0 || int64(offset) >= total {
		return nil, total, nil
	}
	rows, err := r.db.QueryContext(ctx, `SELECT s.sha256, s.md5, s.sha1, s.size, s.mime, `+r.jsonArray("l.paths")+`
		`+strings.Replace(from, "WHERE", "JOIN samples s ON s.sha256 = l.sample_sha256 WHERE", 1)+`
		ORDER BY l.sample_sha256, l.source_sha256 LIMIT $2 OFFSET $3`, key, limit, offset)
	if err != nil {
		return nil, 0, fmt.Errorf("listing the samples of source %x in %s: %w", key, r.loc, err)
	}
	defer rows.Close()
	for rows.Next() {
		var c Child
		var size sql.NullInt64
		var mime, paths sql.NullString
		if err := rows.Scan(&c.SHA256, &c.MD5, &c.SHA1, &size, &mime, &paths); err != nil {
			return nil, 0, fmt.Errorf("listing the samples of source %x in %s: %w", key, r.loc, err)
		}
		c.Size, c.MIME = sizeOrUnknown(size), mime.String
		if err := decodeArray(paths, &c.Paths); err != nil {
			return nil, 0, fmt.Errorf("paths of sample %x in source %x: %w", c.SHA256, key, err)
		}
		children = append(children, c)
	}
	return children, total, rows.Err()
}

// SourcePage is one page of the set's sources, each with its count of
// samples.
type SourcePage struct {
	Sources []ServedSource
	Samples []int64 // Samples[i] is the number of samples of Sources[i]
	Total   int64   // sources in all
}

// ServeSources pages through the sources the reader trusts, in SHA-256
// order, with their sample counts; repo, when set, selects one repository.
func (r *Reader) ServeSources(ctx context.Context, repo string, limit, offset int) (SourcePage, error) {
	var page SourcePage
	where := `WHERE (` + strconv.FormatBool(r.IncludeFailed) + ` OR src.status <> 'failed') AND ($1 = '' OR src.repo = $1)`
	if err := r.db.QueryRowContext(ctx, `SELECT count(*) FROM sources src `+where, repo).Scan(&page.Total); err != nil {
		return page, fmt.Errorf("counting the sources of %s: %w", r.loc, err)
	}
	rows, err := r.db.QueryContext(ctx, `SELECT src.sha256, `+r.jsonArray("src.ids")+`, src.repo, src.uri, src.format,
			src.description, src.status, src.size,
			(SELECT count(*) FROM samples_sources l WHERE l.source_sha256 = src.sha256)
		FROM sources src `+where+` ORDER BY src.sha256 LIMIT $2 OFFSET $3`, repo, limit, offset)
	if err != nil {
		return page, fmt.Errorf("listing the sources of %s: %w", r.loc, err)
	}
	defer rows.Close()
	for rows.Next() {
		var s ServedSource
		var ids, repo, uri, format, desc sql.NullString
		var size sql.NullInt64
		var n int64
		if err := rows.Scan(&s.SHA256, &ids, &repo, &uri, &format, &desc, &s.Status, &size, &n); err != nil {
			return page, fmt.Errorf("listing the sources of %s: %w", r.loc, err)
		}
		s.Repo, s.URI, s.Format, s.Description, s.Size = repo.String, uri.String, format.String, desc.String, sizeOrUnknown(size)
		if err := decodeArray(ids, &s.IDs); err != nil {
			return page, fmt.Errorf("IDs of source %x: %w", s.SHA256, err)
		}
		page.Sources, page.Samples = append(page.Sources, s), append(page.Samples, n)
	}
	return page, rows.Err()
}

// SetStats are the set's figures for hashr-serve's /info and page.
type SetStats struct {
	Samples       int64            // distinct samples the reader trusts
	Sources       int64            // sources whose job did not fail
	FailedSources int64            // sources whose job failed
	Repos         map[string]int64 // repository → its sources, failed or not
	LastLoad      string           // RFC 3339 UTC time of the last load, "" when none
}

// ServeStats counts the set.
func (r *Reader) ServeStats(ctx context.Context) (SetStats, error) {
	st := SetStats{Repos: map[string]int64{}}
	var err error
	if st.Samples, err = r.CountSamples(ctx, Filter{IncludeFailed: r.IncludeFailed}); err != nil {
		return st, err
	}
	rows, err := r.db.QueryContext(ctx, `SELECT coalesce(repo, ''), status = 'failed', count(*) FROM sources GROUP BY 1, 2`)
	if err != nil {
		return st, fmt.Errorf("counting the sources of %s: %w", r.loc, err)
	}
	defer rows.Close()
	for rows.Next() {
		var repo string
		var failed bool
		var n int64
		if err := rows.Scan(&repo, &failed, &n); err != nil {
			return st, fmt.Errorf("counting the sources of %s: %w", r.loc, err)
		}
		st.Repos[repo] += n
		if failed {
			st.FailedSources += n
		} else {
			st.Sources += n
		}
	}
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("counting the sources of %s: %w", r.loc, err)
	}
	// SQLite keeps imported_at as RFC 3339 text; PostgreSQL as timestamptz.
	last := `SELECT coalesce(max(imported_at), '') FROM jobs`
	if r.pg {
		last = `SELECT coalesce(to_char(max(imported_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), '') FROM jobs`
	}
	if err := r.db.QueryRowContext(ctx, last).Scan(&st.LastLoad); err != nil {
		return st, fmt.Errorf("reading the last load time of %s: %w", r.loc, err)
	}
	return st, nil
}

// Ping checks that the database answers, for /healthz.
func (r *Reader) Ping(ctx context.Context) error {
	if err := r.db.PingContext(ctx); err != nil {
		return fmt.Errorf("reaching %s: %w", r.loc, err)
	}
	return nil
}

// SetMaxConns sets how many connections the reader opens at most, and
// keeps open: a server answers many requests at once. Keeping only the
// reader's default few idle closed the others as requests ended, and the
// next request past them paid for a new PostgreSQL backend (a process,
// its catalog caches and its prepared statements).
func (r *Reader) SetMaxConns(n int) { r.SetConnections(n) }
