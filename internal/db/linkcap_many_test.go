package db

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/hashr-dev/hashr/internal/db/citustest"
	"github.com/hashr-dev/hashr/internal/db/dbtest"
	"github.com/hashr-dev/hashr/internal/db/pgtest"
)

// A sample in 3,000 sources (a license text every package ships) is
// answered with its first 100 sources by SHA-256 and a total of 3,000,
// the same on SQLite, PostgreSQL and Citus; the database sends 101 link
// rows, and on PostgreSQL it reads no more than those from the index (a
// window ranked all 3,000). A key twice in a batch is answered once.
func TestCappedLookupOfASampleInThousandsOfSources(t *testing.T) {
	const sources, limit = 3000, 100
	shared := content("usr/share/common-licenses/GPL-3", "a license text in every package")
	few := content("usr/bin/few", "in two packages")
	ids := make([]string, sources)
	for i := range ids {
		ids[i] = fmt.Sprintf("pkg%04d.deb", i)
	}
	byIDs := slices.Clone(ids)
	slices.SortFunc(byIDs, func(a, b string) int { return bytes.Compare(sourceSHA(a), sourceSHA(b)) })
	check := func(t *testing.T, url string) {
		l := open(t, url, Options{})
		var batch []*Source
		for i, id := range ids {
			// Each source's own file too: a set where most samples have
			// one link, as PostgreSQL's statistics then say.
			files := []File{shared, content(fmt.Sprintf("usr/share/doc/%d/copyright", i), "only in "+id)}
			if i < 2 {
				files = append(files, few)
			}
			batch = append(batch, source(t, id, files...))
		}
		load(t, l, batch...)
		r := openReader(t, url)
		r.MaxSources = limit
		checkCapped(t, r, shared, byIDs[:limit], sources)
		fewIDs := slices.Clone(ids[:2])
		slices.SortFunc(fewIDs, func(a, b string) int { return bytes.Compare(sourceSHA(a), sourceSHA(b)) })
		checkCapped(t, r, few, fewIDs, 2)
		checkDuplicateKeys(t, r, shared, byIDs[:limit], sources)
		if r.pg && !r.citus {
			if _, err := dbtest.Open(t, url).Exec(`ANALYZE`); err != nil {
				t.Fatal(err)
			}
			for _, q := range []struct {
				by, query string
				key       []byte
			}{{BySHA256, r.sha256LinksQuery(), shared.SHA256}, {ByMD5, r.joinedLinksQuery(ByMD5), shared.MD5}} {
				if read := indexRowsRead(t, url, q.query, q.key); read > limit+1 {
					t.Errorf("by %s, PostgreSQL read %d links of the sample for a cap of %d, want %d at most", q.by, read, limit, limit+1)
				}
			}
		}
		r.MaxSources = 0
		checkCapped(t, r, shared, byIDs, sources)
	}
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) { check(t, b.url) })
	}
	t.Run("citus", func(t *testing.T) {
		cluster := citustest.Start(t, 2)
		check(t, cluster.NewDatabase(t))
	})
}

// checkDuplicateKeys looks f up by sha256 with its key twice in the
// batch, beside a key no sample has: one sample, its links once.
func checkDuplicateKeys(t *testing.T, r *Reader, f File, wantIDs []string, total int) {
	t.Helper()
	unknown := bytes.Repeat([]byte{0xee}, 32)
	found, err := r.Lookup(context.Background(), BySHA256, [][]byte{f.SHA256, unknown, f.SHA256})
	if err != nil {
		t.Fatal(err)
	}
	samples := found[string(f.SHA256)]
	if len(found) != 1 || len(samples) != 1 {
		t.Fatalf("%s twice by sha256: %d keys found, %d samples, want 1 and 1", f.Path, len(found), len(samples))
	}
	var got []string
	for _, l := range samples[0].Links {
		got = append(got, l.IDs...)
	}
	if !slices.Equal(got, wantIDs) || samples[0].Total != int64(total) {
		t.Errorf("%s twice by sha256: %d links of %d, want %d of %d", f.Path, len(got), samples[0].Total, len(wantIDs), total)
	}
}

// indexRowsRead is how many rows PostgreSQL's plan of query, a capped
// lookup of key, read from samples_sources (EXPLAIN ANALYZE), summed over
// its loops.
func indexRowsRead(t *testing.T, url, query string, key []byte) int {
	t.Helper()
	pg := dbtest.Open(t, url)
	args := []any{[][]byte{key}}
	if bytes.Contains([]byte(query), []byte(keyList)) {
		query = string(bytes.Replace([]byte(query), []byte(keyList), []byte("$1"), 1))
		args = []any{key}
	} else {
		query = string(bytes.Replace([]byte(query), []byte(keyTable), []byte(`(SELECT unnest($1::bytea[]))`), 1))
	}
	var plan string
	if err := pg.QueryRow(`EXPLAIN (ANALYZE, FORMAT JSON) `+query, args...).Scan(&plan); err != nil {
		t.Fatal(err)
	}
	var nodes []struct{ Plan planNode }
	if err := json.Unmarshal([]byte(plan), &nodes); err != nil {
		t.Fatal(err)
	}
	return nodes[0].Plan.rowsFrom("samples_sources")
}

type planNode struct {
	Relation string     `json:"Relation Name"`
	Rows     int        `json:"Actual Rows"`
	Loops    int        `json:"Actual Loops"`
	Plans    []planNode `json:"Plans"`
}

func (n planNode) rowsFrom(table string) int {
	rows := 0
	if n.Relation == table {
		rows = n.Rows * n.Loops
	}
	for _, c := range n.Plans {
		rows += c.rowsFrom(table)
	}
	return rows
}

// hashr-lookup's reader (OpenOnePassReader) has PostgreSQL compile no
// query: its capped lookups of keys in thousands of sources were planned
// above the JIT's thresholds, a second of compiling for a batch.
// hashr-export's and hashr-serve's readers keep the server's setting.
func TestOnePassReaderTurnsPostgresJITOff(t *testing.T) {
	url := pgtest.Start(t).NewDatabase(t)
	open(t, url, Options{}) // the schema
	loc, err := ParseLocation(url)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		open func(context.Context, Location) (*Reader, error)
		want string
	}{{"OpenOnePassReader", OpenOnePassReader, "off"}, {"OpenReader", OpenReader, "on"}} {
		r, err := c.open(context.Background(), loc)
		if err != nil {
			t.Fatal(err)
		}
		var jit string
		if err := r.db.QueryRow(`SHOW jit`).Scan(&jit); err != nil {
			t.Fatal(err)
		}
		r.Close()
		if jit != c.want {
			t.Errorf("%s: jit is %s, want %s", c.name, jit, c.want)
		}
	}
}
