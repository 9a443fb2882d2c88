package db

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashr-dev/hashr/internal/db/dbtest"
	"github.com/hashr-dev/hashr/internal/db/pgtest"
)

// layout describes a database's tables as the catalog sees them: every
// column with its type, length, nullability and default, and every
// constraint with its columns and target.
func layout(t *testing.T, sqldb *sql.DB) []string {
	t.Helper()
	var out []string
	rows, err := sqldb.Query(`SELECT table_name, ordinal_position, column_name, data_type,
			coalesce(character_maximum_length, -1), is_nullable, coalesce(column_default, '')
		FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, ordinal_position`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var table, col, typ, nullable, def string
		var pos, length int
		if err := rows.Scan(&table, &pos, &col, &typ, &length, &nullable, &def); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("column %s.%d %s %s(%d) nullable=%s default=%q", table, pos, col, typ, length, nullable, def))
	}
	rows.Close()
	rows, err = sqldb.Query(`SELECT conrelid::regclass::text, contype, pg_get_constraintdef(oid)
		FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2, 3`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var table, typ, def string
		if err := rows.Scan(&table, &typ, &def); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("constraint %s %s %s", table, typ, def))
	}
	rows.Close()
	return out
}

// --schema hashr creates exactly the tables HashR creates (the DDL quoted
// from HashR's sources in testdata), and fills a database HashR created so
// that HashR's own queries find what was loaded.
func TestHashRSchemaMatchesHashR(t *testing.T) {
	pg := pgtest.Start(t)
	hashrMade := pg.NewDatabase(t)
	runHashRDDL(t, hashrMade)
	oursMade := pg.NewDatabase(t)
	open(t, oursMade, Options{Schema: SchemaHashR})
	want, got := layout(t, dbtest.Open(t, hashrMade)), layout(t, dbtest.Open(t, oursMade))
	if len(want) < 25 {
		t.Fatalf("HashR's layout has only %d lines:\n%s", len(want), strings.Join(want, "\n"))
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("--schema hashr layout differs from HashR's:\nours:\n%s\nHashR's:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	a, failed := loadIntoHashRsDatabase(t, hashrMade)
	checkHashRsExporterQueries(t, hashrMade, a)
	checkHashRsJobs(t, hashrMade, a, failed)
	checkLayoutsNotMixed(t, pg, hashrMade)
}

// runHashRDDL creates HashR's tables in dbURL with HashR's own DDL.
func runHashRDDL(t *testing.T, dbURL string) {
	t.Helper()
	ddl, err := os.ReadFile("testdata/hashr_postgres_ddl.sql")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dbtest.Open(t, dbURL).Exec(string(ddl)); err != nil {
		t.Fatalf("running HashR's DDL: %v", err)
	}
}

// loadIntoHashRsDatabase loads into the database HashR created a source
// a.deb, a failed f.deb, a.deb again (which must change nothing) and a
// copy of a.deb under another ID; it returns a.deb and f.deb.
func loadIntoHashRsDatabase(t *testing.T, hashrMade string) (a, failed *Source) {
	t.Helper()
	l := open(t, hashrMade, Options{Schema: SchemaHashR, Payloads: true, PayloadMax: 1 << 20})
	a = source(t, "a.deb", content("usr/bin/a", "A"), content("usr/share/doc/a", "A"), content("usr/lib/x", "X"))
	failed = source(t, "f.deb", content("f", "F"))
	failed.Job.Status, failed.Job.Error = StatusFailed, "extract: f: truncated"
	load(t, l, a, failed)
	again := source(t, "a.deb", content("usr/bin/a", "A"))
	again.ID = "a-copy.deb"
	before := dbtest.Dump(t, hashrMade)
	load(t, l, source(t, "a.deb", content("usr/bin/a", "A"), content("usr/share/doc/a", "A"), content("usr/lib/x", "X")))
	if d := dbtest.Diff(before, dbtest.Dump(t, hashrMade)); d != "" {
		t.Fatalf("loading twice changed HashR's tables:\n%s", d)
	}
	load(t, l, again)
	return a, failed
}

// checkHashRsExporterQueries runs HashR's exporter's queries
// (sampleExists, relationshipExists, sourceExists) for a.deb's sample A.
func checkHashRsExporterQueries(t *testing.T, hashrMade string, a *Source) {
	t.Helper()
	sqldb := dbtest.Open(t, hashrMade)
	aHex, srcHex := hex.EncodeToString(content("", "A").SHA256), hex.EncodeToString(a.SHA256)
	var s1, s2 string
	if err := sqldb.QueryRow(`SELECT sha256 FROM samples WHERE sha256=$1;`, aHex).Scan(&s1); err != nil {
		t.Fatalf("HashR's sample lookup: %v", err)
	}
	if err := sqldb.QueryRow(`SELECT sample_sha256,source_sha256 FROM samples_sources WHERE sample_sha256=$1 AND source_sha256=$2;`, aHex, srcHex).Scan(&s1, &s2); err != nil {
		t.Fatalf("HashR's relationship lookup: %v", err)
	}
	var ids, paths string
	var size int
	var mime string
	if err := sqldb.QueryRow(`SELECT array_to_string(s.sourceID, ','), array_to_string(r.sample_paths, ','), m.size, m.mimetype
		FROM sources s JOIN samples_sources r ON r.source_sha256 = s.sha256 JOIN samples m ON m.sha256 = r.sample_sha256
		WHERE s.sha256 = $1 AND m.sha256 = $2`, srcHex, aHex).Scan(&ids, &paths, &size, &mime); err != nil {
		t.Fatal(err)
	}
	if ids != "a-copy.deb,a.deb" || paths != "usr/bin/a,usr/share/doc/a" || size != 1 || mime != "text/plain" {
		t.Fatalf("sourceID %s, sample_paths %s, size %d, mimetype %s", ids, paths, size, mime)
	}
}

// checkHashRsJobs checks what HashR's storage reads (FetchJobs and its
// statuses), DoneJobs, and that files without local bytes left no
// payloads.
func checkHashRsJobs(t *testing.T, hashrMade string, a, failed *Source) {
	t.Helper()
	statuses := map[string]string{}
	rows, err := dbtest.Open(t, hashrMade).Query("SELECT quick_sha256, status FROM jobs")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var q, st string
		rows.Scan(&q, &st)
		statuses[q] = st
	}
	rows.Close()
	want2 := map[string]string{hex.EncodeToString(a.QuickSHA256): "exported", hex.EncodeToString(failed.QuickSHA256): "failed"}
	if !reflect.DeepEqual(statuses, want2) {
		t.Fatalf("jobs %v, want %v", statuses, want2)
	}
	done, err := DoneJobs(context.Background(), hashrMade)
	if err != nil || !reflect.DeepEqual(done, map[string]bool{hex.EncodeToString(a.QuickSHA256): true}) {
		t.Fatalf("DoneJobs on HashR's database: %v, %v", done, err)
	}
	if got := dbtest.Count(t, hashrMade, "SELECT count(*) FROM payloads"); got != 0 {
		t.Fatalf("%d payloads: files without local bytes have none", got)
	}
}

// checkLayoutsNotMixed opens HashR's database as a native one and a
// native one with --schema hashr: both are refused, naming the fix.
func checkLayoutsNotMixed(t *testing.T, pg *pgtest.Server, hashrMade string) {
	t.Helper()
	loc, _ := ParseLocation(hashrMade)
	if _, err := Open(context.Background(), loc, Options{RetryFor: time.Second}); err == nil || !strings.Contains(err.Error(), "--schema hashr") {
		t.Fatalf("native load into HashR's database: %v", err)
	}
	native := pg.NewDatabase(t)
	open(t, native, Options{})
	loc, _ = ParseLocation(native)
	if _, err := Open(context.Background(), loc, Options{Schema: SchemaHashR, RetryFor: time.Second}); err == nil || !strings.Contains(err.Error(), "native") {
		t.Fatalf("--schema hashr into a native database: %v", err)
	}
}

// hashrLinks lists HashR's samples_sources as "sourceID:sample
// bytes:paths", and its samples and payloads by the bytes they hold.
func hashrLinks(t *testing.T, dbURL string, names map[string]string) (links, samples, payloads []string) {
	t.Helper()
	sqldb := dbtest.Open(t, dbURL)
	query := func(q string, each func(cols []string)) {
		rows, err := sqldb.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var a, b, c string
			if err := rows.Scan(&a, &b, &c); err != nil {
				t.Fatal(err)
			}
			each([]string{a, b, c})
		}
	}
	query(`SELECT array_to_string(s.sourceid, ','), r.sample_sha256, array_to_string(r.sample_paths, ',')
		FROM samples_sources r JOIN sources s ON s.sha256 = r.source_sha256`, func(c []string) {
		links = append(links, c[0]+":"+names[c[1]]+":"+c[2])
	})
	query(`SELECT sha256, '', '' FROM samples`, func(c []string) { samples = append(samples, names[c[0]]) })
	query(`SELECT sha256, '', '' FROM payloads`, func(c []string) { payloads = append(payloads, names[c[0]]) })
	slices.Sort(links)
	slices.Sort(samples)
	slices.Sort(payloads)
	return links, samples, payloads
}

// HashR's tables have no place to mark a sample read under a check that
// failed, and HashR's consumers read them directly: --schema hashr writes
// no such sample or path, and removes those an earlier run wrote when a
// re-run shows them read under a failed check, unless a good source
// vouches for the sample too. A re-run that succeeds writes them.
func TestHashRSchemaLeavesOutSuspectSamples(t *testing.T) {
	pg := pgtest.Start(t)
	for _, limit := range []int{sortedBatchMax, 0} {
		t.Run(fmt.Sprintf("sorted-max-%d", limit), func(t *testing.T) {
			saved := sortedBatchMax
			sortedBatchMax = limit
			defer func() { sortedBatchMax = saved }()
			testHashRSuspects(t, pg.NewDatabase(t))
		})
	}
}

func testHashRSuspects(t *testing.T, dbURL string) {
	h := &hashrFiles{t: t, dir: t.TempDir(), dbURL: dbURL, names: map[string]string{}}
	file := h.file
	l := open(t, dbURL, Options{Schema: SchemaHashR, Payloads: true, PayloadMax: 1 << 20})

	bad := source(t, "bad.deb", file("usr/bin/bad", "bad"), file("usr/z", "shared"))
	bad.Job.Status = StatusFailed
	partial := source(t, "partial.deb", file("usr/x.jar!/a", "injar"), file("usr/y", "beside"),
		file("usr/x.jar!/m", "mixed"), file("usr/m", "mixed"))
	partial.Job.Status, partial.FailedPaths = StatusPartial, map[string]bool{"usr/x.jar": true}
	good := source(t, "good.deb", file("usr/z", "shared"))
	flaky := source(t, "flaky.deb", file("usr/f", "flaky"), file("usr/z", "shared"), file("usr/k.jar!/k", "inner"))
	load(t, l, bad, partial, good, flaky)
	h.check("first load", "flaky.deb:flaky:usr/f flaky.deb:inner:usr/k.jar!/k flaky.deb:shared:usr/z good.deb:shared:usr/z partial.deb:beside:usr/y partial.deb:mixed:usr/m",
		"beside flaky inner mixed shared")

	// Re-runs that fail: flaky.deb's samples, read before under checks that
	// passed, are now read under one that failed.
	flaky2 := source(t, "flaky.deb", file("usr/f", "flaky"), file("usr/z", "shared"))
	flaky2.Job.Status = StatusFailed
	load(t, l, flaky2)
	h.check("flaky.deb failed", "good.deb:shared:usr/z partial.deb:beside:usr/y partial.deb:mixed:usr/m", "beside mixed shared")
	partial2 := source(t, "partial.deb", file("usr/x.jar!/a", "injar"), file("usr/y", "beside"),
		file("usr/x.jar!/m", "mixed"), file("usr/m", "mixed"))
	partial2.Job.Status, partial2.FailedPaths = StatusPartial, map[string]bool{"usr/m": true, "usr/y": true}
	load(t, l, partial2)
	h.check("partial.deb failed elsewhere", "good.deb:shared:usr/z partial.deb:injar:usr/x.jar!/a partial.deb:mixed:usr/x.jar!/m",
		"injar mixed shared")

	// Re-runs that succeed write everything they read.
	load(t, l, source(t, "bad.deb", file("usr/bin/bad", "bad"), file("usr/z", "shared")),
		source(t, "partial.deb", file("usr/x.jar!/a", "injar"), file("usr/y", "beside"), file("usr/x.jar!/m", "mixed"), file("usr/m", "mixed")),
		source(t, "flaky.deb", file("usr/f", "flaky"), file("usr/z", "shared"), file("usr/k.jar!/k", "inner")))
	h.check("re-runs that succeed", "bad.deb:bad:usr/bin/bad bad.deb:shared:usr/z flaky.deb:flaky:usr/f flaky.deb:inner:usr/k.jar!/k flaky.deb:shared:usr/z good.deb:shared:usr/z partial.deb:beside:usr/y partial.deb:injar:usr/x.jar!/a partial.deb:mixed:usr/m,usr/x.jar!/m",
		"bad beside flaky injar inner mixed shared")

	// A failed job that an older hashr-load wrote with its samples: the
	// re-run that succeeds removes those it does not bring.
	old := source(t, "old.deb", file("usr/kept", "kept"))
	insertOlderFailedJob(t, dbURL, old, file("usr/leftover", "leftover"))
	load(t, l, old)
	h.check("an older failed job re-run", "bad.deb:bad:usr/bin/bad bad.deb:shared:usr/z flaky.deb:flaky:usr/f flaky.deb:inner:usr/k.jar!/k flaky.deb:shared:usr/z good.deb:shared:usr/z old.deb:kept:usr/kept partial.deb:beside:usr/y partial.deb:injar:usr/x.jar!/a partial.deb:mixed:usr/m,usr/x.jar!/m",
		"bad beside flaky injar inner kept mixed shared")
}

// hashrFiles makes files with local bytes for a test of HashR's tables,
// and checks the tables by the bytes each sample holds.
type hashrFiles struct {
	t     *testing.T
	dir   string            // the files' local bytes
	dbURL string            // the database checked
	names map[string]string // sha256 in hex → the bytes it is of
}

// file is a file at path holding data, with its bytes on disk.
func (h *hashrFiles) file(path, data string) File {
	f := content(path, data)
	h.names[hex.EncodeToString(f.SHA256)] = data
	f.Local = filepath.Join(h.dir, hex.EncodeToString(f.SHA256))
	if err := os.WriteFile(f.Local, []byte(data), 0o644); err != nil {
		h.t.Fatal(err)
	}
	return f
}

// check compares samples_sources with wantLinks ("sourceID:bytes:paths",
// sorted, space-separated), and the samples and the payloads with
// wantSamples.
func (h *hashrFiles) check(when string, wantLinks, wantSamples string) {
	t := h.t
	t.Helper()
	links, samples, payloads := hashrLinks(t, h.dbURL, h.names)
	if got := strings.Join(links, " "); got != wantLinks {
		t.Errorf("%s: samples_sources\n %s\nwant\n %s", when, got, wantLinks)
	}
	if got := strings.Join(samples, " "); got != wantSamples {
		t.Errorf("%s: samples %s, want %s", when, got, wantSamples)
	}
	if got := strings.Join(payloads, " "); got != wantSamples {
		t.Errorf("%s: payloads %s, want %s (those of the samples)", when, got, wantSamples)
	}
}

// insertOlderFailedJob writes what an older hashr-load wrote for a failed
// job of old: the source, and leftover's sample, payload and path.
func insertOlderFailedJob(t *testing.T, dbURL string, old *Source, leftover File) {
	t.Helper()
	oldHex, lHex := hex.EncodeToString(old.SHA256), hex.EncodeToString(leftover.SHA256)
	for _, stmt := range []string{
		`INSERT INTO sources (sha256, sourceid) VALUES ('` + oldHex + `', '{old.deb}')`,
		`INSERT INTO samples (sha256) VALUES ('` + lHex + `')`,
		`INSERT INTO payloads (sha256, payload) VALUES ('` + lHex + `', 'leftover')`,
		`INSERT INTO samples_sources VALUES ('` + lHex + `', '` + oldHex + `', '{usr/leftover}')`,
		`INSERT INTO jobs (quick_sha256, imported_at, sha256, status) VALUES ('` + hex.EncodeToString(old.QuickSHA256) + `', 1, '` + oldHex + `', 'failed')`,
	} {
		if _, err := dbtest.Open(t, dbURL).Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
}
