package db

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashr-dev/hashr/internal/db/dbtest"
	"github.com/hashr-dev/hashr/internal/db/pgtest"
)

// backend is a fresh database of each kind.
type backend struct{ name, url string }

func backends(t *testing.T) []backend {
	pg := pgtest.Start(t)
	return []backend{
		{"sqlite", "sqlite:" + filepath.Join(t.TempDir(), "hashr.db")},
		{"postgres", pg.NewDatabase(t)},
	}
}

func open(t *testing.T, url string, opts Options) Loader {
	t.Helper()
	loc, err := ParseLocation(url)
	if err != nil {
		t.Fatal(err)
	}
	if opts.RetryFor == 0 {
		opts.RetryFor = 5 * time.Second
	}
	l, err := Open(context.Background(), loc, opts)
	if err != nil {
		t.Fatalf("opening %s: %v", url, err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// content makes a file row from the file's bytes, with real digests.
func content(path, data string) File {
	s256 := sha256.Sum256([]byte(data))
	s1 := sha1.Sum([]byte(data))
	m5 := md5.Sum([]byte(data))
	return File{SHA256: s256[:], SHA1: s1[:], MD5: m5[:], Size: int64(len(data)), MIME: "text/plain", Path: path}
}

func source(t *testing.T, id string, files ...File) *Source {
	s := sha256.Sum256([]byte("source " + id))
	q := sha256.Sum256([]byte("quick " + id))
	rows := NewFileRows(2, func() (string, error) { return t.TempDir(), nil }) // spill early: exercise the spill
	t.Cleanup(func() { rows.Close() })
	for _, f := range files {
		if err := rows.Add(f); err != nil {
			t.Fatal(err)
		}
	}
	mtime := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	return &Source{
		SHA256: s[:], QuickSHA256: q[:], ID: id, Repo: "deb", RepoPath: "/mirror", URI: "/mirror/" + id,
		Format: "deb", Size: new(int64(1234)), Mtime: &mtime, Files: rows,
		Job: Job{Status: StatusDone, FilesExtracted: int64(len(files)), FilesLoaded: int64(len(files)),
			NewFiles: int64(len(files)), Bytes: 99, MS: map[string]int64{"extract": 12, "hash": 3}},
	}
}

func load(t *testing.T, l Loader, sources ...*Source) Stats {
	t.Helper()
	st, err := l.Load(context.Background(), sources)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestLoadIsIdempotentAndMerges(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			l := open(t, b.url, Options{})
			a := source(t, "a.deb", content("usr/bin/a", "A"), content("usr/share/a", "shared"), content("etc/a.conf", "A"))
			bb := source(t, "b.deb", content("usr/bin/b", "B"), content("usr/share/b", "shared"))
			st := load(t, l, a, bb)
			if st.Sources != 2 || st.Files != 5 || st.NewSamples != 3 {
				t.Fatalf("stats %+v, want 2 sources, 5 files, 3 new samples", st)
			}
			first := dbtest.Dump(t, b.url)
			if got := dbtest.Count(t, b.url, "SELECT count(*) FROM samples"); got != 3 {
				t.Fatalf("%d samples, want 3", got)
			}
			if got := dbtest.Count(t, b.url, "SELECT count(*) FROM samples_sources"); got != 4 {
				t.Fatalf("%d samples_sources, want 4", got)
			}

			// The same stream again changes nothing.
			st = load(t, l, source(t, "a.deb", content("usr/bin/a", "A"), content("usr/share/a", "shared"), content("etc/a.conf", "A")),
				source(t, "b.deb", content("usr/bin/b", "B"), content("usr/share/b", "shared")))
			if st.NewSamples != 0 {
				t.Fatalf("reload made %d new samples", st.NewSamples)
			}
			if d := dbtest.Diff(first, dbtest.Dump(t, b.url)); d != "" {
				t.Fatalf("loading twice changed the database:\n%s", d)
			}

			// The same source under another ID adds the ID; a sample's
			// second path in a source is merged, sorted.
			again := source(t, "a.deb", content("usr/bin/a-renamed", "A"))
			again.ID = "a-copy.deb"
			load(t, l, again)
			dump := strings.Join(dbtest.Dump(t, b.url)["sources"], "\n")
			if !strings.Contains(dump, `a-copy.deb`) || !strings.Contains(dump, `a.deb`) {
				t.Fatalf("sources after a second ID:\n%s", dump)
			}
			var paths string
			query := "SELECT paths FROM samples_sources WHERE sample_sha256 = $1 AND source_sha256 = $2"
			if b.name == "postgres" {
				query = "SELECT array_to_string(paths, ',') FROM samples_sources WHERE sample_sha256 = $1 AND source_sha256 = $2"
			}
			sa := sha256.Sum256([]byte("A"))
			if err := dbtest.Open(t, b.url).QueryRow(query, sa[:], a.SHA256).Scan(&paths); err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"sqlite": `["etc/a.conf","usr/bin/a","usr/bin/a-renamed"]`, "postgres": "etc/a.conf,usr/bin/a,usr/bin/a-renamed"}[b.name]
			if paths != want {
				t.Fatalf("paths %s, want %s", paths, want)
			}
		})
	}
}

func TestJobsRecordStatusAndCompleteDigests(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			l := open(t, b.url, Options{})
			f := content("bin/x", "X")
			f.MD5, f.SHA1 = nil, nil
			failed := source(t, "x.deb", f)
			failed.Job.Status, failed.Job.Error, failed.Job.Errors = StatusFailed, "extract: bin/y: truncated", 1
			noHash := source(t, "nohash.deb")
			noHash.SHA256 = nil
			noHash.Job.Status, noHash.Job.Error = StatusFailed, "source record has no sha256"
			load(t, l, failed, noHash)
			if got := dbtest.Count(t, b.url, "SELECT count(*) FROM jobs WHERE status = 'failed'"); got != 2 {
				t.Fatalf("%d failed jobs, want 2", got)
			}
			done, err := DoneJobs(context.Background(), b.url)
			if err != nil || len(done) != 0 {
				t.Fatalf("done jobs %v, %v; want none", done, err)
			}

			// Reprocessed with more digests: the job is done, the sample
			// gains md5 and sha1, and keeps its row.
			retried := source(t, "x.deb", content("bin/x", "X"))
			load(t, l, retried)
			if got := dbtest.Count(t, b.url, "SELECT count(*) FROM samples WHERE md5 IS NOT NULL AND sha1 IS NOT NULL"); got != 1 {
				t.Fatalf("%d samples with md5 and sha1, want 1", got)
			}
			done, err = DoneJobs(context.Background(), b.url)
			if err != nil {
				t.Fatal(err)
			}
			if want := map[string]bool{hex.EncodeToString(retried.QuickSHA256): true}; !reflect.DeepEqual(done, want) {
				t.Fatalf("done jobs %v, want %v", done, want)
			}
			var status, ms string
			var errText *string
			query := "SELECT status, error, ms FROM jobs WHERE quick_sha256 = $1"
			if b.name == "postgres" {
				query = "SELECT status, error, ms::text FROM jobs WHERE quick_sha256 = $1"
			}
			if err := dbtest.Open(t, b.url).QueryRow(query, retried.QuickSHA256).Scan(&status, &errText, &ms); err != nil {
				t.Fatal(err)
			}
			if status != "done" || errText != nil || !strings.Contains(ms, `"extract"`) {
				t.Fatalf("job: status %s, error %v, ms %s", status, errText, ms)
			}
		})
	}
}

func TestHexViewsAndPointLookups(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			l := open(t, b.url, Options{})
			var files []File
			for i := range 500 {
				files = append(files, content(fmt.Sprintf("f%d", i), fmt.Sprintf("content %d", i)))
			}
			load(t, l, source(t, "many.deb", files...))
			sqldb := dbtest.Open(t, b.url)
			want := files[7]
			var sha256Hex string
			if err := sqldb.QueryRow("SELECT sha256 FROM samples_hex WHERE md5 = $1", hex.EncodeToString(want.MD5)).Scan(&sha256Hex); err != nil {
				t.Fatal(err)
			}
			if sha256Hex != hex.EncodeToString(want.SHA256) {
				t.Fatalf("samples_hex gives %s, want %x", sha256Hex, want.SHA256)
			}
			for _, col := range []string{"sha256", "md5", "sha1"} {
				var plan []string
				query := "EXPLAIN QUERY PLAN SELECT * FROM samples WHERE " + col + " = ?"
				if b.name == "postgres" {
					// A 500-row table may be read whole; the index must be usable.
					if _, err := sqldb.Exec("SET enable_seqscan = off"); err != nil {
						t.Fatal(err)
					}
					query = "EXPLAIN SELECT * FROM samples WHERE " + col + " = $1"
				}
				rows, err := sqldb.Query(query, want.SHA256)
				if err != nil {
					t.Fatal(err)
				}
				cols, _ := rows.Columns()
				for rows.Next() {
					vals := make([]any, len(cols))
					ptrs := make([]any, len(cols))
					for i := range vals {
						ptrs[i] = &vals[i]
					}
					rows.Scan(ptrs...)
					plan = append(plan, fmt.Sprint(vals[len(vals)-1]))
				}
				rows.Close()
				text := strings.Join(plan, " ")
				// SQLite: "SEARCH samples USING INDEX|PRIMARY KEY"; PostgreSQL: "Index Scan".
				if !strings.Contains(text, "SEARCH samples USING") && !strings.Contains(text, "Index") {
					t.Errorf("lookup by %s is not an index lookup: %s", col, text)
				}
			}
		})
	}
}

func TestPayloads(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			dir := t.TempDir()
			write := func(name, data string) File {
				f := content(name, data)
				f.Local = filepath.Join(dir, name)
				if err := os.WriteFile(f.Local, []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
				return f
			}
			small := write("small", "small bytes")
			big := write("big", strings.Repeat("x", 100))
			gone := content("gone", "deleted before load")
			gone.Local = filepath.Join(dir, "gone")
			l := open(t, b.url, Options{Payloads: true, PayloadMax: 50})
			st := load(t, l, source(t, "p.deb", small, big, gone))
			if st.Payloads != 1 || len(st.Problems) != 1 || st.Problems[0].Path != "gone" {
				t.Fatalf("payloads %d, problems %v; want 1 payload and a problem with gone", st.Payloads, st.Problems)
			}
			var got []byte
			if err := dbtest.Open(t, b.url).QueryRow("SELECT payload FROM payloads WHERE sha256 = $1", small.SHA256).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if string(got) != "small bytes" {
				t.Fatalf("payload %q", got)
			}
		})
	}
}

// A database created at schema version 1 is migrated to the current one
// when a loader opens it, keeping its rows.
func TestMigratesForward(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			sqldb := dbtest.Open(t, b.url)
			stmts := []string{createMigrationsTable, `INSERT INTO hashr_schema_migrations VALUES (1, 'then')`}
			if b.name == "sqlite" {
				stmts = append(stmts, nativeMigrations[0].sqlite...)
			} else {
				stmts = append(stmts, nativeMigrations[0].postgres...)
			}
			stmts = append(stmts, `INSERT INTO samples (sha256) VALUES ('\x01')`)
			for _, s := range stmts {
				if b.name == "sqlite" {
					s = strings.ReplaceAll(s, `'\x01'`, `x'01'`)
				}
				if _, err := sqldb.Exec(s); err != nil {
					t.Fatalf("%s: %v", s, err)
				}
			}
			open(t, b.url, Options{})
			if got := dbtest.Count(t, b.url, "SELECT max(version) FROM hashr_schema_migrations"); got != int64(SchemaVersion) {
				t.Fatalf("schema version %d, want %d", got, SchemaVersion)
			}
			if got := dbtest.Count(t, b.url, "SELECT count(*) FROM samples_hex"); got != 1 {
				t.Fatalf("samples_hex has %d rows, want the 1 sample", got)
			}

			// A newer schema than this hashr knows is refused.
			if _, err := sqldb.Exec(`INSERT INTO hashr_schema_migrations VALUES (99, 'future')`); err != nil {
				t.Fatal(err)
			}
			loc, _ := ParseLocation(b.url)
			if _, err := Open(context.Background(), loc, Options{RetryFor: time.Second}); err == nil || !strings.Contains(err.Error(), "version 99") {
				t.Fatalf("opening a version 99 database: %v", err)
			}
		})
	}
}

// A set at schema version 4 is read as it is (migration 5 adds only an
// index), and the next loader adds the links' hash index by sample, also
// where the set's owner made it already as the README offered.
func TestLinkHashIndexMigration(t *testing.T) {
	for _, ownerMadeIt := range []bool{false, true} {
		for _, b := range backends(t) {
			if ownerMadeIt && b.name == "sqlite" {
				continue
			}
			t.Run(fmt.Sprintf("%s/owner made it %v", b.name, ownerMadeIt), func(t *testing.T) {
				sqldb := dbtest.Open(t, b.url)
				stmts := []string{createMigrationsTable, `INSERT INTO hashr_schema_migrations VALUES (1, 'then'), (2, 'then'), (3, 'then'), (4, 'then')`}
				for _, m := range nativeMigrations[:4] {
					if b.name == "sqlite" {
						stmts = append(stmts, m.sqlite...)
					} else {
						stmts = append(stmts, m.postgres...)
					}
				}
				if ownerMadeIt {
					stmts = append(stmts, `CREATE INDEX samples_sources_sample_hash ON samples_sources USING hash (sample_sha256)`)
				}
				for _, s := range stmts {
					if _, err := sqldb.Exec(s); err != nil {
						t.Fatalf("%s: %v", s, err)
					}
				}
				loc, err := ParseLocation(b.url)
				if err != nil {
					t.Fatal(err)
				}
				r, err := OpenReader(context.Background(), loc)
				if err != nil {
					t.Fatalf("reading a version 4 set: %v", err)
				}
				r.Close()

				load(t, open(t, b.url, Options{}), source(t, "p.deb", content("usr/bin/p", "p")))
				if got := dbtest.Count(t, b.url, "SELECT max(version) FROM hashr_schema_migrations"); got != int64(SchemaVersion) {
					t.Fatalf("schema version %d, want %d", got, SchemaVersion)
				}
				if b.name == "sqlite" {
					return
				}
				if got := dbtest.Count(t, b.url, `SELECT count(*) FROM pg_indexes WHERE indexname = 'samples_sources_sample_hash'
					AND indexdef LIKE '%USING hash (sample_sha256)%'`); got != 1 {
					t.Fatalf("%d hash indexes on the links by sample, want 1", got)
				}
			})
		}
	}
}

func TestParseLocation(t *testing.T) {
	for in, want := range map[string]Location{
		"sqlite:hashr.db":               {SQLite, "hashr.db"},
		"sqlite:///var/lib/h.db":        {SQLite, "/var/lib/h.db"},
		"postgres://u:p@h:5432/d":       {Postgres, "postgres://u:p@h:5432/d"},
		"postgresql://h/d?sslmode=none": {Postgres, "postgresql://h/d?sslmode=none"},
	} {
		got, err := ParseLocation(in)
		if err != nil || got != want {
			t.Errorf("ParseLocation(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "hashr.db", "sqlite:", "mysql://h/d", "sqlite:a?b"} {
		if _, err := ParseLocation(bad); err == nil {
			t.Errorf("ParseLocation(%q) succeeded", bad)
		}
	}
	if got := (Location{Postgres, "postgres://u:secret@h/d"}).String(); strings.Contains(got, "secret") {
		t.Errorf("password shown: %s", got)
	}
}

// A batch grouped by the loader (it sorts in memory) and one grouped by the
// database (too large to sort) give the same rows.
func TestBatchesGroupedEitherWayGiveTheSameRows(t *testing.T) {
	pg := pgtest.Start(t)
	batch := func() []*Source {
		partial := content("lib/x.so", "X")
		partial.MD5, partial.MIME = nil, ""
		return []*Source{
			source(t, "a.deb", content("usr/bin/a", "A"), content("usr/bin/a", "A"), content("usr/share/a", "A"),
				content("lib/x.so", "X"), content("doc/z", "Z")),
			source(t, "b.deb", partial, content("lib/x-link.so", "X"), content("doc/z", "Z")),
		}
	}
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			var dumps []map[string][]string
			for _, limit := range []int{sortedBatchMax, 0} {
				url := "sqlite:" + filepath.Join(t.TempDir(), "h.db")
				if kind == "postgres" {
					url = pg.NewDatabase(t)
				}
				saved := sortedBatchMax
				sortedBatchMax = limit
				l := open(t, url, Options{})
				st := load(t, l, batch()...)
				load(t, l, batch()...)
				sortedBatchMax = saved
				if st.NewSamples != 3 || st.Files != 8 {
					t.Fatalf("limit %d: %+v, want 3 new samples of 8 files", limit, st)
				}
				if got := dbtest.Count(t, url, "SELECT count(*) FROM samples WHERE md5 IS NOT NULL AND mime IS NOT NULL"); got != 3 {
					t.Fatalf("limit %d: %d samples with md5 and mime, want 3", limit, got)
				}
				dumps = append(dumps, dbtest.Dump(t, url))
			}
			if d := dbtest.Diff(dumps[0], dumps[1]); d != "" {
				t.Fatalf("grouped by the loader vs by the database:\n%s", d)
			}
		})
	}
}
