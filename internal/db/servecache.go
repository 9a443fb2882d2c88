package db

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// hashr-serve's cache of sources. A server reads the same few sources for
// request after request (a set has thousands where it has millions of
// samples), so ServeLookup keeps what it read of them. Another process
// may be loading into the set meanwhile, changing a source's status or
// IDs, or making it a sample with digests of its own (a package found
// inside another), so a cached source is used only while the database is
// exactly as it was when the source was read: in PostgreSQL, while the
// transaction snapshot (pg_current_snapshot: the transactions committed,
// and those still running) is the same. A read-only transaction has no
// transaction ID, so a set nobody writes keeps its snapshot, and the
// first commit anywhere in the cluster empties the cache. SQLite has no
// such value that one statement can read for every connection, so a
// SQLite reader reads the sources of every request (its own page cache
// makes that cheap).

// maxServedSources bounds the sources the cache holds; past it the cache
// starts over.
const maxServedSources = 1 << 16

// servedSourceCache is the sources read in one snapshot.
type servedSourceCache struct {
	mu       sync.Mutex
	snapshot string // "": nothing cached
	// sources are kept and handed out by pointer, never changed once
	// read: copying each of a bulk's ~1,000 sources (200 bytes) into a
	// map of the request's own was 7% of hashr-serve's CPU per bulk.
	sources map[string]*ServedSource
}

// snapshotExpr is the SQL of the snapshot a statement reads in: a
// cache key, or "" where there is none (SQLite).
func (r *Reader) snapshotExpr() string {
	if r.pg {
		return `pg_current_snapshot()::text`
	}
	return `''`
}

// lookup returns the cached sources among shas, and the others, when
// the cache holds what was read in snapshot.
func (c *servedSourceCache) lookup(snapshot string, shas [][]byte) (found map[string]*ServedSource, missing [][]byte) {
	found = make(map[string]*ServedSource, len(shas))
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, sha := range shas {
		if _, ok := found[string(sha)]; ok {
			continue
		}
		if src, ok := c.sources[string(sha)]; ok && snapshot != "" && snapshot == c.snapshot {
			found[string(sha)] = src
		} else {
			missing = append(missing, sha)
		}
	}
	return found, missing
}

// add keeps sources read in snapshot, dropping those of another one.
func (c *servedSourceCache) add(snapshot string, sources []*ServedSource) {
	if snapshot == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if snapshot != c.snapshot || len(c.sources)+len(sources) > maxServedSources {
		c.snapshot, c.sources = snapshot, make(map[string]*ServedSource, len(sources))
	}
	for _, src := range sources {
		c.sources[string(src.SHA256)] = src
	}
}

// servedSources returns the sources named by shas that have a row, each
// with its own digests when it is also a sample: from the cache when the
// statement that named them read in the snapshot the cache holds, else
// in one statement per MaxServeBatch sources.
func (r *Reader) servedSources(ctx context.Context, snapshot string, shas [][]byte) (map[string]*ServedSource, error) {
	found, missing := r.served.lookup(snapshot, shas)
	slices.SortFunc(missing, bytes.Compare)
	missing = slices.CompactFunc(missing, bytes.Equal)
	for len(missing) > 0 {
		batch := missing[:min(len(missing), MaxServeBatch)]
		missing = missing[len(batch):]
		read, readIn, err := r.readServedSources(ctx, batch)
		if err != nil {
			return nil, err
		}
		for _, src := range read {
			found[string(src.SHA256)] = src
		}
		r.served.add(readIn, read)
	}
	return found, nil
}

// readServedSources reads the sources named by shas, and the snapshot it
// read them in. The source's own digests come from samples when the
// source is a sample too (ps): a left join on its primary key.
func (r *Reader) readServedSources(ctx context.Context, shas [][]byte) ([]*ServedSource, string, error) {
	rows, err := r.queryServeKeys(ctx, `SELECT src.sha256, `+r.jsonArray("src.ids")+`, src.repo, src.uri, src.format,
			src.description, src.status, src.size, ps.md5, ps.sha1, `+r.provenanceColumns("src")+`, `+r.snapshotExpr()+`
		FROM sources src LEFT JOIN samples ps ON ps.sha256 = src.sha256
		WHERE src.sha256 IN (`+keyList+`)`, shas)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	var out []*ServedSource
	var snapshot string
	for rows.Next() {
		src := ServedSource{Memo: new(SourceMemo)}
		var ids, repo, uri, format, desc sql.NullString
		var size sql.NullInt64
		var prov provenanceRow
		targets := append([]any{&src.SHA256, &ids, &repo, &uri, &format, &desc, &src.Status, &size,
			&src.MD5, &src.SHA1}, prov.targets()...)
		if err := rows.Scan(append(targets, &snapshot)...); err != nil {
			return nil, "", err
		}
		var err error
		if src.Package, src.Verified, err = prov.decode(); err != nil {
			return nil, "", fmt.Errorf("source %x: %w", src.SHA256, err)
		}
		src.Repo, src.URI, src.Format, src.Description = repo.String, uri.String, format.String, desc.String
		src.Size = sizeOrUnknown(size)
		if err := decodeArray(ids, &src.IDs); err != nil {
			return nil, "", fmt.Errorf("IDs of source %x: %w", src.SHA256, err)
		}
		out = append(out, &src)
	}
	return out, snapshot, rows.Err()
}

// queryServeKeys is queryKeys for hashr-serve's statements, where
// PostgreSQL takes the keys as one array: a statement of 1,024
// placeholders was planned again for each request (PostgreSQL's custom
// plans), where one of an array has one generic plan.
func (r *Reader) queryServeKeys(ctx context.Context, query string, keys [][]byte) (*sql.Rows, error) {
	if !r.pg {
		return r.queryKeys(ctx, query, keys)
	}
	stmt, err := r.prepared(ctx, strings.Replace(query, " IN ("+keyList+")", " = ANY($1::bytea[])", 1))
	if err != nil {
		return nil, err
	}
	return stmt.QueryContext(ctx, keys)
}
