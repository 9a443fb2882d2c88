package db

import "strconv"

// DefaultMaxSources is how many of a sample's sources a lookup answers
// with by default (Reader.MaxSources). A sample in more sources is
// content shared across a distribution (a license text, an empty file, a
// common icon): at 30M samples with Zipf-shared content, hashr-lookup
// answered such keys with every source, ID and path holding them, and
// 1,000 keys took 145 s and 1.33 GiB of memory. A hundred sources still
// say where a file comes from; the answer says how many there were in
// all (SampleLinks.Total), and --max-sources 0 lists every one.
const DefaultMaxSources = 100

// linkColumns are the columns of a lookup's link rows: the SQL
// expressions, each named by its alias.
type linkColumns []struct{ expr, alias string }

// capped returns the query that selects cols from the rest of a query
// (its FROM and WHERE clauses, from), at most limit rows per sample (the
// column sample, a sample's SHA-256), those first by the column source,
// and as a last column each row's sample's count of rows before the cap.
// The cap is applied by the database: the rows past it are neither sent
// nor decoded. With limit 0 the rows are all selected, and the last column
// is 0 (the count is then len(Links)).
func (cols linkColumns) capped(from, sample, source string, limit int) string {
	if limit <= 0 {
		q := `SELECT `
		for _, c := range cols {
			q += c.expr + `, `
		}
		return q + `0 ` + from
	}
	inner, outer := `SELECT `, `SELECT `
	for _, c := range cols {
		inner += c.expr + ` AS ` + c.alias + `, `
		outer += c.alias + `, `
	}
	inner += `row_number() OVER (PARTITION BY ` + sample + ` ORDER BY ` + source + `) AS link_rank,
		count(*) OVER (PARTITION BY ` + sample + `) AS links_total ` + from
	return outer + `links_total FROM (` + inner + `) capped WHERE link_rank <= ` + strconv.Itoa(limit)
}

// joinedLinkColumns are the columns of lookup's rows, as scanLink reads
// them.
func (r *Reader) joinedLinkColumns() linkColumns {
	return linkColumns{{"s.sha256", "sha256"}, {"s.md5", "md5"}, {"s.sha1", "sha1"}, {"s.sha512", "sha512"},
		{"s.crc32", "crc32"}, {"s.blake3", "blake3"}, {"s.ssdeep", "ssdeep"}, {"s.tlsh", "tlsh"}, {"s.size", "size"},
		{"s.mime", "mime"}, {"l.source_sha256", "source_sha256"}, {r.jsonArray("l.paths"), "paths"}, {"0", "code"},
		{"src.repo", "repo"}, {r.jsonArray("src.ids"), "ids"}, {"l.failed", "failed"}, {"src.status", "status"}}
}

// sha256LinksQuery is lookupSHA256's query. Uncapped, it reads
// samples_sources alone and the caller drops the untrusted links; capped,
// the database must leave them out before it counts (a sample's first
// hundred links might all be untrusted), so it reads the few failed
// sources' SHA-256 by their partial index (sources_failed).
func (r *Reader) sha256LinksQuery() string {
	cols := linkColumns{{"sample_sha256", "sample_sha256"}, {"source_sha256", "source_sha256"},
		{r.jsonArray("paths"), "paths"}, {"failed", "failed"}}
	where := `FROM samples_sources WHERE sample_sha256 IN (` + keyList + `)`
	if r.MaxSources > 0 && !r.IncludeFailed {
		where += ` AND NOT failed AND source_sha256 NOT IN (SELECT sha256 FROM sources WHERE status = 'failed')`
	}
	return cols.capped(where, "sample_sha256", "source_sha256", r.MaxSources)
}
