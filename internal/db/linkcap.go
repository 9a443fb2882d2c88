package db

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// DefaultMaxSources is how many of a sample's sources a lookup answers
// with by default (Reader.MaxSources). A sample in more sources is
// content shared across a distribution (a license text, an empty file, a
// common icon): at 30M samples with Zipf-shared content, hashr-lookup
// answered such keys with every source, ID and path holding them, and
// 1,000 keys took 145 s and 1.33 GiB of memory. A hundred sources still
// say where a file comes from; the answer says how many there were in
// all (SampleLinks.Total), and --max-sources 0 lists every one.
const DefaultMaxSources = 100

// How the cap is applied: the database sends at most MaxSources+1 links
// of a sample, the first by source SHA-256 (one past the cap says that
// the sample has more), and for the few samples that have more, a second
// query counts their links (countLinks). Counting every sample's links in
// the first query took a window over all of them, which in SQLite buffers
// each row: 1.2 ms more CPU for a 1,000-key batch (BenchmarkLookupSHA256).

// linkColumns are the columns of a lookup's link rows: SQL expressions.
type linkColumns []string

// selectFrom returns the query that selects cols from the rest of a
// query (its FROM and WHERE clauses, from).
func (cols linkColumns) selectFrom(from string) string {
	return `SELECT ` + strings.Join(cols, `, `) + ` ` + from
}

// joinedLinkColumns are the columns of lookup's rows, as scanLink reads
// them.
func (r *Reader) joinedLinkColumns() linkColumns {
	return linkColumns{"s.sha256", "s.md5", "s.sha1", "s.sha512",
		"s.crc32", "s.blake3", "s.ssdeep", "s.tlsh", "s.size",
		"s.mime", "l.source_sha256", r.jsonArray("l.paths"), "0",
		"src.repo", r.jsonArray("src.ids"), "l.failed", "src.status"}
}

// untrustedSource is the SQL condition that the source column col names
// a failed source, read by the partial index sources_failed.
func untrustedSource(col string) string {
	return col + ` IN (SELECT sha256 FROM sources WHERE status = 'failed')`
}

// sha256LinksQuery is lookupSHA256's query. Uncapped, it reads
// samples_sources alone and the caller drops the untrusted links; capped,
// the database leaves them out before it ranks (a sample's first hundred
// links might all be untrusted). PostgreSQL reads each key's first links
// by a LATERAL subquery with LIMIT (firstLinks). SQLite, which has no
// LATERAL, reads every trusted link of each key, key after key, and the
// reader stops it past a key's cap (readFirstLinksInTurn). CROSS JOIN
// keeps the keys the outer loop, which also gives the rows in key order:
// with a few hundred keys SQLite chose to scan all of samples_sources
// instead.
func (r *Reader) sha256LinksQuery() string {
	cols := linkColumns{"l.sample_sha256", "l.source_sha256",
		r.jsonArray("l.paths"), "l.failed"}
	if r.MaxSources <= 0 {
		return cols.selectFrom(`FROM samples_sources l WHERE l.sample_sha256 IN (` + keyList + `)`)
	}
	trusted := func(alias string) string {
		if r.IncludeFailed {
			return `true`
		}
		return `NOT ` + alias + `.failed AND NOT ` + untrustedSource(alias+`.source_sha256`)
	}
	if r.citus {
		// Citus runs a LATERAL subquery with LIMIT only where it is
		// correlated on a distributed table's distribution column, on
		// each shard: from the keys unnested it refused ("cannot push
		// down this subquery"); from samples, co-located with
		// samples_sources by sha256, it runs (one more page a key).
		return cols.selectFrom(`FROM samples s CROSS JOIN LATERAL ` + r.firstLinks("s.sha256", trusted("x")) + ` l
			WHERE s.sha256 IN (` + keyList + `)`)
	}
	if r.pg {
		return `WITH keys(sample) AS ` + keyTable + `
		` + cols.selectFrom(`FROM keys CROSS JOIN LATERAL `+r.firstLinks("keys.sample", trusted("x"))+` l`)
	}
	return `WITH keys(sample) AS ` + keyTable + `
		` + cols.selectFrom(`FROM keys CROSS JOIN samples_sources l ON l.sample_sha256 = keys.sample WHERE `+trusted("l"))
}

// readFirstLinksInTurn reads into b each key's first MaxSources+1 trusted
// links by source, the capped sha256LinksQuery in SQLite: it reads the
// keys in SHA-256 order, each key's links in source order (the primary
// key's), and once a key has given MaxSources+1 links it stops the
// statement and runs it again for the keys after that one. Most keys
// have a link or two, so a batch is most often one statement, one
// descent of samples_sources a key. SQLite first found each key's
// cut-off, its (MaxSources+1)th trusted source, and then read the links
// up to it: two descents a key, 12,000 instructions a key more
// (callgrind, hashr-lookup over /usr/share/man). A window, or a cut-off
// tested on each row, read all of a sample's links (1,000 keys each in
// 5,000 sources took 83 CPU-s, where uncapped took 23).
func (r *Reader) readFirstLinksInTurn(ctx context.Context, keys [][]byte, b *sha256Batch) error {
	query := r.sha256LinksQuery()
	keys = distinctKeys(keys)
	for len(keys) > 0 {
		rows, err := r.queryKeys(ctx, query, keys)
		if err != nil {
			return err
		}
		var last, lastSource []byte
		n := 0
		rest := [][]byte(nil)
		for rows.Next() {
			sample, source, err := b.scan(rows)
			if err != nil {
				rows.Close()
				return err
			}
			switch c := bytes.Compare(sample, last); {
			case c > 0:
				last, n = sample, 0
			case c < 0 || bytes.Compare(source, lastSource) <= 0:
				// The cut after a key's first links takes them in order.
				rows.Close()
				return fmt.Errorf("SQLite sent the links of sample %x in source %x out of order (after %x in %x): a capped lookup needs them by sample, then source", sample, source, last, lastSource)
			}
			lastSource = source
			if n++; n > r.MaxSources {
				i, _ := slices.BinarySearchFunc(keys, sample, bytes.Compare)
				rest = keys[i+1:]
				break
			}
		}
		if err := rows.Err(); err != nil {
			rows.Close()
			return err
		}
		if err := rows.Close(); err != nil {
			return err
		}
		keys = rest
	}
	return nil
}

// joinedLinksQuery is lookup's query: the samples whose column by is one
// of the keys, each with its links and their sources. Capped, PostgreSQL
// reads each sample's first links by a LATERAL subquery (firstLinks);
// SQLite finds each sample's cut-off as
// sha256LinksQuery does, since a window read every link of a sample (by
// md5, 1,000 keys each in 5,000 sources took 28 CPU-s capped).
//
// PostgreSQL (not Citus) joins the samples to the keys unnested
// (keyTable), where "md5 IN ($1, …)" in a prepared statement's generic
// plan had each row that the md5 or sha1 hash index found checked again
// against the whole list, built anew as an array for each row: 1,000
// keys by MD5 took 321M instructions in the backend, against 46M joined
// (see serveSamplesQuery).
func (r *Reader) joinedLinksQuery(by string) string {
	trusted := Filter{IncludeFailed: r.IncludeFailed}.trusted()
	samplesOfKeys, keyCond := `samples s`, `s.`+by+` IN (`+keyList+`) AND `
	if r.pg && !r.citus {
		samplesOfKeys, keyCond = `keys JOIN samples s ON s.`+by+` = keys.k`, ``
	}
	if r.MaxSources <= 0 {
		return withKeys(keyCond, r.joinedLinkColumns().selectFrom(`FROM `+samplesOfKeys+`
		JOIN samples_sources l ON l.sample_sha256 = s.sha256
		JOIN sources src ON src.sha256 = l.source_sha256
		WHERE `+keyCond+trusted))
	}
	trustedX := `true`
	if !r.IncludeFailed {
		trustedX = `NOT x.failed AND NOT ` + untrustedSource(`x.source_sha256`)
	}
	if r.pg {
		return withKeys(keyCond, r.joinedLinkColumns().selectFrom(`FROM `+samplesOfKeys+`
		CROSS JOIN LATERAL `+r.firstLinks("s.sha256", trustedX)+` l
		JOIN sources src ON src.sha256 = l.source_sha256
		WHERE `+keyCond+trusted))
	}
	return `WITH keys(k) AS ` + keyTable + `,
		cut(sample, last) AS (SELECT s.sha256, (SELECT x.source_sha256 FROM samples_sources x
			WHERE x.sample_sha256 = s.sha256 AND ` + trustedX + `
			ORDER BY x.source_sha256 LIMIT 1 OFFSET ` + strconv.Itoa(r.MaxSources) + `)
			FROM keys CROSS JOIN samples s ON s.` + by + ` = keys.k)
		` + r.joinedLinkColumns().selectFrom(`FROM cut CROSS JOIN samples s ON s.sha256 = cut.sample
		CROSS JOIN samples_sources l ON l.sample_sha256 = cut.sample
		JOIN sources src ON src.sha256 = l.source_sha256
		WHERE l.source_sha256 <= coalesce(cut.last, `+pastAllSHA256+`) AND `+trusted)
}

// withKeys puts the keys' table, keys(k), before query when query joins
// it (keyCond, the keys' condition otherwise, is empty).
func withKeys(keyCond, query string) string {
	if keyCond != `` {
		return query
	}
	return `WITH keys(k) AS ` + keyTable + `
		` + query
}

// firstLinks is PostgreSQL's subquery for the first MaxSources+1 links
// of the sample sample (an outer column), those that trusted (a
// condition on the links aliased x) keeps, by source: a LATERAL join to
// it reads no more than those from the primary key (sample_sha256,
// source_sha256). A window ranked every link of the sample: at 30M
// samples, 1,000 keys each in up to thousands of sources took 11.7 s.
func (r *Reader) firstLinks(sample, trusted string) string {
	return `(SELECT x.sample_sha256, x.source_sha256, x.paths, x.failed FROM samples_sources x
		WHERE x.sample_sha256 = ` + sample + ` AND ` + trusted + `
		ORDER BY x.source_sha256 LIMIT ` + strconv.Itoa(r.MaxSources+1) + `)`
}

// pastAllSHA256 is a blob that sorts after every SHA-256 (32 bytes): a
// blob sorts by its bytes, then by its length.
var pastAllSHA256 = `x'` + strings.Repeat("ff", 33) + `'`

// capLinks leaves each sample of batch, its links sorted by source, with
// at most MaxSources of them, and sets Total: len(Links), or for a sample
// that had more, the count of all it has.
func (r *Reader) capLinks(ctx context.Context, batch []*SampleLinks) error {
	var over [][]byte
	for _, s := range batch {
		s.Total = int64(len(s.Links))
		if r.MaxSources > 0 && len(s.Links) > r.MaxSources {
			s.Links = s.Links[:r.MaxSources]
			over = append(over, s.SHA256)
		}
	}
	if len(over) == 0 {
		return nil
	}
	totals, err := r.countLinks(ctx, over)
	if err != nil {
		return err
	}
	for _, s := range batch {
		if n, ok := totals[string(s.SHA256)]; ok {
			s.Total = n
		}
	}
	return nil
}

// countLinks counts the links of each of samples (SHA-256) that the trust
// filter selects: the database counts them, sending a row per sample.
func (r *Reader) countLinks(ctx context.Context, samples [][]byte) (map[string]int64, error) {
	// No join with sources: with a few hundred keys, SQLite planned it
	// as a scan of sources, each probing samples_sources by source.
	trusted := `true`
	if !r.IncludeFailed {
		trusted = `NOT l.failed AND NOT ` + untrustedSource("l.source_sha256")
	}
	rows, err := r.queryKeys(ctx, `SELECT l.sample_sha256, count(*) FROM samples_sources l
		WHERE l.sample_sha256 IN (`+keyList+`) AND `+trusted+` GROUP BY l.sample_sha256`, samples)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	totals := map[string]int64{}
	for rows.Next() {
		var sample []byte
		var n int64
		if err := rows.Scan(&sample, &n); err != nil {
			return nil, err
		}
		totals[string(sample)] = n
	}
	return totals, rows.Err()
}
