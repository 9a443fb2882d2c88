package db

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/db/pgtest"
)

// served says what ServeLookup answered for each key: per sample, the IDs
// of its sources ("-" for none), "(failed)" marking the untrusted.
func served(t *testing.T, r *Reader, by string, keys ...[]byte) string {
	t.Helper()
	samples, err := r.ServeLookup(context.Background(), by, keys)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range samples {
		var ids []string
		for _, l := range s.Links {
			id := strings.Join(l.Source.IDs, ",")
			if l.Failed {
				id += "(failed)"
			}
			ids = append(ids, id)
		}
		out = append(out, fmt.Sprintf("%x:%s", s.SHA256[:2], strings.Join(ids, "+")))
	}
	if len(out) == 0 {
		return "-"
	}
	return strings.Join(out, " ")
}

// hashr-serve's queries: one bulk statement by each digest, the trust
// rule of every reader, paging of parents and children with totals, and
// the set's figures; on both databases.
func TestServeQueries(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			l := open(t, b.url, Options{})
			shared, onlyA, onlyBad := content("usr/share/doc/x", "in both"), content("bin/a", "only in a"), content("bin/bad", "only in the failed one")
			a := source(t, "a_1.0-1_amd64.deb", shared, onlyA)
			b2 := source(t, "b_2.0-1_amd64.deb", shared)
			bad := source(t, "bad.deb", shared, onlyBad)
			bad.Job.Status = StatusFailed
			load(t, l, a, b2, bad)
			l.Close()
			r := openReader(t, b.url)
			ctx := context.Background()

			// Bulk: every digest kind, unknown keys left out, one sample per key.
			unknown := content("", "nowhere")
			got := served(t, r, BySHA1, shared.SHA1, onlyA.SHA1, unknown.SHA1, onlyBad.SHA1)
			want := fmt.Sprintf("%x:a_1.0-1_amd64.deb+b_2.0-1_amd64.deb %x:a_1.0-1_amd64.deb", shared.SHA256[:2], onlyA.SHA256[:2])
			if hex.EncodeToString(onlyA.SHA256) < hex.EncodeToString(shared.SHA256) {
				want = fmt.Sprintf("%x:a_1.0-1_amd64.deb %x:a_1.0-1_amd64.deb+b_2.0-1_amd64.deb", onlyA.SHA256[:2], shared.SHA256[:2])
			}
			if got != want {
				t.Errorf("bulk by sha1 = %s, want %s (the failed source's sample is unknown)", got, want)
			}
			for _, by := range []struct {
				col string
				key []byte
			}{{ByMD5, onlyBad.MD5}, {BySHA256, onlyBad.SHA256}} {
				if got := served(t, r, by.col, by.key); got != "-" {
					t.Errorf("a sample only in a failed source, by %s: %s, want unknown", by.col, got)
				}
			}
			samples, err := r.ServeLookup(ctx, ByMD5, [][]byte{onlyA.MD5})
			if err != nil || len(samples) != 1 {
				t.Fatalf("lookup by md5: %v, %d samples", err, len(samples))
			}
			s := samples[0]
			if !slices.Equal(s.SHA1, onlyA.SHA1) || s.Size != onlyA.Size || s.MIME != "text/plain" ||
				!slices.Equal(s.Links[0].Paths, []string{"bin/a"}) || s.Links[0].Source.Repo != "deb" || s.Links[0].Source.Status != StatusDone {
				t.Errorf("lookup by md5 answered %+v", s)
			}

			// With IncludeFailed the failed source shows, marked.
			r.IncludeFailed = true
			if got := served(t, r, BySHA256, onlyBad.SHA256); !strings.HasSuffix(got, ":bad.deb(failed)") {
				t.Errorf("with IncludeFailed: %s, want bad.deb(failed)", got)
			}
			r.IncludeFailed = false

			servePagingChecks(t, r, shared, onlyBad, a, bad)
		})
	}
}

// servePagingChecks pages through parents, children and sources, and
// counts the set: a holds shared and onlyA, bad failed with onlyBad.
func servePagingChecks(t *testing.T, r *Reader, shared, onlyBad File, a, bad *Source) {
	ctx := context.Background()
	// Parents: paged, with the total.
	p1, total, err := r.ServeParents(ctx, BySHA1, shared.SHA1, 1, 0)
	if err != nil || total != 2 || len(p1) != 1 {
		t.Fatalf("parents page 1: %x total %d err %v, want 1 of 2", p1, total, err)
	}
	p2, _, err := r.ServeParents(ctx, BySHA1, shared.SHA1, 1, 1)
	if err != nil || len(p2) != 1 || slices.Equal(p1[0], p2[0]) {
		t.Fatalf("parents page 2: %x err %v", p2, err)
	}
	if _, total, _ := r.ServeParents(ctx, ByMD5, onlyBad.MD5, 10, 0); total != 0 {
		t.Errorf("parents of a sample only in a failed source: %d, want 0", total)
	}

	// Children of a source, by its SHA-256; none of a failed one.
	kids, total, err := r.ServeChildren(ctx, BySHA256, a.SHA256, 10, 0)
	if err != nil || total != 2 || len(kids) != 2 || len(kids[0].Paths) != 1 {
		t.Fatalf("children of a: %+v total %d err %v", kids, total, err)
	}
	if _, total, _ := r.ServeChildren(ctx, BySHA256, bad.SHA256, 10, 0); total != 0 {
		t.Errorf("children of a failed source: %d, want 0", total)
	}

	page, err := r.ServeSources(ctx, "", 10, 0)
	if err != nil || page.Total != 2 || len(page.Sources) != 2 || page.Samples[0] != 2 && page.Samples[0] != 1 {
		t.Errorf("sources: %+v, %v; want the two trusted ones", page, err)
	}
	st, err := r.ServeStats(ctx)
	if err != nil || st.Samples != 2 || st.Sources != 2 || st.FailedSources != 1 || st.Repos["deb"] != 3 || len(st.LastLoad) != len("2006-01-02T15:04:05Z") {
		t.Errorf("stats: %+v, %v", st, err)
	}
}

// A reader never writes: SQLite is opened read-only, and PostgreSQL's
// transactions are read-only.
func TestReaderCannotWrite(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			l := open(t, b.url, Options{})
			load(t, l, source(t, "a.deb", content("x", "x")))
			l.Close()
			r := openReader(t, b.url)
			for _, stmt := range []string{`DELETE FROM samples`, `CREATE TABLE intruder (x integer)`} {
				_, err := r.db.ExecContext(context.Background(), stmt)
				if err == nil {
					t.Errorf("%s through a reader: no error, want a read-only refusal", stmt)
				}
			}
			var n int
			if err := r.db.QueryRowContext(context.Background(), `SELECT count(*) FROM samples`).Scan(&n); err != nil || n != 1 {
				t.Errorf("samples after the refused writes: %d, %v", n, err)
			}
		})
	}
}

// ServeLookup's cache of sources follows loads made while the reader
// serves: a source that becomes a sample (a package found inside another)
// gains its own digests, a failed source loaded again as done vouches for
// its samples, and a new source shows up; PostgreSQL's reader keeps the
// sources while nobody writes.
func TestServeSourcesFollowLoads(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			sample, onlyBad := content("usr/bin/x", "in x"), content("usr/bin/bad", "in bad")
			x := source(t, "x.deb", sample)
			bad := source(t, "bad.deb", onlyBad)
			bad.Job.Status = StatusFailed
			l := open(t, b.url, Options{})
			load(t, l, x, bad)
			r := openReader(t, b.url)
			ctx := context.Background()
			parentMD5 := func() []byte {
				t.Helper()
				samples, err := r.ServeLookup(ctx, BySHA1, [][]byte{sample.SHA1})
				if err != nil || len(samples) != 1 || len(samples[0].Links) == 0 {
					t.Fatalf("lookup of x's sample: %+v, %v", samples, err)
				}
				return samples[0].Links[0].Source.MD5
			}
			for range 2 {
				if md5 := parentMD5(); md5 != nil {
					t.Fatalf("x.deb's MD5 before it is a sample: %x, want none", md5)
				}
			}
			if cached := len(r.served.sources); b.name == "postgres" && cached != 1 {
				t.Errorf("sources cached after two lookups of one: %d, want 1", cached)
			}
			if got := served(t, r, BySHA256, onlyBad.SHA256); got != "-" {
				t.Fatalf("a sample of the failed source: %s, want unknown", got)
			}

			// Another process loads: x.deb inside an archive, bad.deb again, done.
			xAsFile := content("pool/x.deb", "source x.deb") // source() names x.deb's SHA-256 so
			outer := source(t, "outer.tar", xAsFile, content("usr/bin/y", "in outer"))
			again := source(t, "bad.deb", onlyBad)
			load(t, open(t, b.url, Options{}), outer, again)

			if md5 := parentMD5(); !slices.Equal(md5, xAsFile.MD5) {
				t.Errorf("x.deb's MD5 after it was loaded as a sample: %x, want %x", md5, xAsFile.MD5)
			}
			if got := served(t, r, BySHA256, onlyBad.SHA256); !strings.HasSuffix(got, ":bad.deb") {
				t.Errorf("a sample of the failed source loaded again as done: %s, want bad.deb", got)
			}
			if got := served(t, r, BySHA256, xAsFile.SHA256); !strings.HasSuffix(got, ":outer.tar") {
				t.Errorf("x.deb as a sample of the new source: %s, want outer.tar", got)
			}
		})
	}
}

// A server's reader keeps open every connection it opens: closing those
// past the reader's default few as requests ended made the next request
// past them start a PostgreSQL backend.
func TestServeReaderKeepsItsConnections(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			load(t, open(t, b.url, Options{}), source(t, "a.deb", content("x", "x")))
			r := openReader(t, b.url)
			r.SetMaxConns(8)
			ctx := context.Background()
			var conns []*sql.Conn
			for range 8 { // eight requests at once
				c, err := r.db.Conn(ctx)
				if err != nil {
					t.Fatal(err)
				}
				conns = append(conns, c)
			}
			for _, c := range conns {
				c.Close()
			}
			if st := r.db.Stats(); st.MaxIdleClosed != 0 || st.Idle != 8 {
				t.Errorf("after 8 requests at once: %d connections closed, %d kept; want 0 closed, 8 kept", st.MaxIdleClosed, st.Idle)
			}
		})
	}
}

// A content in more sources than MaxServedLinks: ServeLookup reads the
// first MaxServedLinks by source, counts them all in LinkTotal (not the
// failed source's), and ServeParents pages through the rest.
func TestServeLookupCapsLinks(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			l := open(t, b.url, Options{})
			popular, rare := content("usr/share/common-licenses/GPL", "a popular license"), content("bin/rare", "rare")
			var sources []*Source
			for i := range MaxServedLinks + 5 {
				sources = append(sources, source(t, fmt.Sprintf("p%03d_1.0_all.deb", i), popular))
			}
			bad := source(t, "bad.deb", popular, rare)
			bad.Job.Status = StatusFailed
			sources = append(sources, bad, source(t, "r_1.0_all.deb", rare))
			// One load a source: the links lie in the order they came,
			// not their sources' (one load writes a batch sorted by
			// source), so links read in no order are not the first.
			for _, src := range sources {
				load(t, l, src)
			}
			l.Close()
			r := openReader(t, b.url)
			ctx := context.Background()
			samples, err := r.ServeLookup(ctx, BySHA1, [][]byte{popular.SHA1, rare.SHA1})
			if err != nil || len(samples) != 2 {
				t.Fatalf("lookup: %d samples, %v", len(samples), err)
			}
			for _, s := range samples {
				want, wantLinks := int64(MaxServedLinks+5), MaxServedLinks
				if slices.Equal(s.SHA256, rare.SHA256) {
					want, wantLinks = 1, 1
				}
				if s.LinkTotal != want || len(s.Links) != wantLinks {
					t.Fatalf("sample %x: %d links of %d, want %d of %d", s.SHA256[:4], len(s.Links), s.LinkTotal, wantLinks, want)
				}
				first, total, err := r.ServeParents(ctx, BySHA256, s.SHA256, MaxServedLinks, 0)
				if err != nil || total != want {
					t.Fatalf("parents of %x: total %d, %v; want %d", s.SHA256[:4], total, err, want)
				}
				for i, l := range s.Links {
					if !slices.Equal(l.Source.SHA256, first[i]) || l.Failed {
						t.Fatalf("link %d of %x: source %x (failed %v), want the %dth parent %x", i, s.SHA256[:4], l.Source.SHA256, l.Failed, i, first[i])
					}
				}
			}
		})
	}
}

// A bulk by MD5 or SHA-1 in PostgreSQL checks each row it finds against
// its own key, not against the whole array of keys: the hash indexes on
// md5 and sha1 have every row they find checked again, and with the keys
// as "= ANY($1)" in the statement's generic plan each check was a linear
// search of the array (1,000 keys: 504,498 byte comparisons a bulk). The
// plan is asked as a set of millions of samples has it (no sequential
// scans), for 1,000 keys.
func TestServeBulkChecksRowsByTheirKey(t *testing.T) {
	url := pgtest.Start(t).NewDatabase(t)
	load(t, open(t, url, Options{}), source(t, "a.deb", content("x", "x")))
	r := openReader(t, url)
	ctx := context.Background()
	conn, err := r.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var keys []string
	for i := range 1000 {
		keys = append(keys, fmt.Sprintf(`"\\x%040x"`, i))
	}
	for _, by := range []string{BySHA1, ByMD5} {
		for _, stmt := range []string{`SET enable_seqscan = off`, `SET plan_cache_mode = force_generic_plan`,
			`PREPARE bulk_` + by + `(bytea[]) AS ` + r.serveSamplesQuery(by, len(keys))} {
			if _, err := conn.ExecContext(ctx, stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
		var plan string
		if err := conn.QueryRowContext(ctx, `EXPLAIN (FORMAT JSON) EXECUTE bulk_`+by+`('{`+strings.Join(keys, ",")+`}')`).Scan(&plan); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(plan, "ANY (") || !strings.Contains(plan, `"Index Name": "samples_`+by+`"`) {
			t.Errorf("a bulk by %s is planned as %s\nwant each row found by the samples_%s index checked against its key alone", by, plan, by)
		}
	}
}

// hashr-lookup's statement by MD5 or SHA-1 in PostgreSQL, as
// TestServeBulkChecksRowsByTheirKey: each row found by the hash index is
// checked against its own key, not against an array of all of them (an
// "md5 IN ($1, …)" list, in the generic plan an array built anew for
// each row and searched: 321M instructions a batch of 1,000 against 46M).
func TestLookupChecksRowsByTheirKey(t *testing.T) {
	url := pgtest.Start(t).NewDatabase(t)
	load(t, open(t, url, Options{}), source(t, "a.deb", content("x", "x")))
	for _, maxSources := range []int{DefaultMaxSources, 0} {
		r := openReader(t, url)
		r.MaxSources = maxSources
		ctx := context.Background()
		conn, err := r.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		for _, stmt := range []string{`SET enable_seqscan = off`, `SET plan_cache_mode = force_generic_plan`} {
			if _, err := conn.ExecContext(ctx, stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
		for _, by := range []string{BySHA1, ByMD5} {
			name := fmt.Sprintf("lookup_%s_%d", by, maxSources)
			if _, err := conn.ExecContext(ctx, `PREPARE `+name+` AS `+r.keyStatement(r.joinedLinksQuery(by), 1024)); err != nil {
				t.Fatalf("preparing the lookup by %s: %v", by, err)
			}
			// The keys as the statement takes them: one bytea[], or a
			// list of bytea.
			var params int
			if err := conn.QueryRowContext(ctx, `SELECT cardinality(parameter_types) FROM pg_prepared_statements WHERE name = $1`, name).Scan(&params); err != nil {
				t.Fatal(err)
			}
			var keys []string
			for i := range 1000 {
				keys = append(keys, fmt.Sprintf(`\x%040x`, i))
			}
			args := `'{"` + strings.Join(keys, `","`) + `"}'`
			if params > 1 {
				args = `'` + strings.Join(keys, `','`) + `'` + strings.Repeat(`, NULL`, params-len(keys))
			}
			var plan string
			if err := conn.QueryRowContext(ctx, `EXPLAIN (FORMAT JSON) EXECUTE `+name+`(`+args+`)`).Scan(&plan); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(plan, "ANY (") || !strings.Contains(plan, `"Index Name": "samples_`+by+`"`) {
				t.Errorf("a lookup by %s (max sources %d) is planned as %s\nwant each row found by the samples_%s index checked against its key alone", by, maxSources, plan, by)
			}
		}
	}
}

// A key twice in a bulk, or in two spellings of one digest (hashr-serve
// takes upper and lower case), answers once, its links once.
func TestServeLookupDuplicateKeys(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			shared, onlyA := content("usr/share/doc/x", "in both"), content("bin/a", "only in a")
			load(t, open(t, b.url, Options{}), source(t, "a.deb", shared, onlyA), source(t, "b.deb", shared))
			r := openReader(t, b.url)
			unknown := content("", "nowhere")
			for _, by := range []struct {
				col                   string
				shared, onlyA, absent []byte
			}{{BySHA1, shared.SHA1, onlyA.SHA1, unknown.SHA1}, {ByMD5, shared.MD5, onlyA.MD5, unknown.MD5}, {BySHA256, shared.SHA256, onlyA.SHA256, unknown.SHA256}} {
				want := served(t, r, by.col, by.shared, by.onlyA)
				if got := served(t, r, by.col, by.onlyA, by.shared, by.absent, by.shared, by.onlyA, by.shared); got != want {
					t.Errorf("by %s, keys repeated: %s, want %s", by.col, got, want)
				}
				if got, want := served(t, r, by.col, by.shared, by.shared), served(t, r, by.col, by.shared); got != want || strings.Count(got, "a.deb") != 1 {
					t.Errorf("by %s, one key twice: %s, want %s", by.col, got, want)
				}
			}
		})
	}
}

// A single lookup in PostgreSQL is planned once a connection, not once a
// request. Its statement of its own, "sha1 = ANY($1)" with one key, was
// estimated cheaper with that key (a custom plan: one row) than with any
// (the generic plan: an array of 10), so PostgreSQL planned every request
// anew: 0.32 ms of the server's CPU a single at 1M samples, against 0.10
// when singles shared the bulks' statement and its generic plan.
func TestServeSinglesArePlannedOnce(t *testing.T) {
	url := pgtest.Start(t).NewDatabase(t)
	x := content("x", "x")
	load(t, open(t, url, Options{}), source(t, "a.deb", x))
	r := openReader(t, url)
	r.db.SetMaxOpenConns(1) // the prepared statements are the one connection's
	ctx := context.Background()
	for _, by := range []struct {
		col string
		key []byte
	}{{BySHA1, x.SHA1}, {ByMD5, x.MD5}, {BySHA256, x.SHA256}} {
		for range 12 {
			if _, err := r.ServeLookup(ctx, by.col, [][]byte{by.key}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The samples statement, by its join to the links (the window
	// statement's and the lateral one's), and not this one, which holds
	// the pattern too: matching "link_rank", which the lateral statement
	// lacks, the test found only itself and checked nothing.
	rows, err := r.db.QueryContext(ctx, `SELECT custom_plans, statement FROM pg_prepared_statements
		WHERE statement LIKE '%samples_sources l%' AND statement NOT LIKE '%pg_prepared_statements%'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var custom int
		var stmt string
		if err := rows.Scan(&custom, &stmt); err != nil {
			t.Fatal(err)
		}
		n++
		if custom > 5 { // PostgreSQL tries 5 custom plans before it weighs the generic one
			t.Errorf("%d custom plans for 12 single lookups of the statement %s", custom, stmt)
		}
	}
	if err := rows.Err(); err != nil || n != 3 {
		t.Fatalf("%d prepared samples statements read (one a digest), want 3; err %v", n, err)
	}
}
