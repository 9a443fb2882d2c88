package db

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashr-dev/hashr/internal/db/citustest"
	"github.com/hashr-dev/hashr/internal/db/dbtest"
	"github.com/hashr-dev/hashr/internal/db/pgtest"
)

// citusLayoutOf reads how each hashr table is laid out on Citus: "hash
// COLUMN colocation N" or "reference".
func citusLayoutOf(t *testing.T, url string) map[string]string {
	t.Helper()
	rows := citustest.Query(t, url, `SELECT logicalrelid::text || ' ' || CASE partmethod WHEN 'n' THEN 'reference'
		ELSE 'hash ' || column_to_column_name(logicalrelid, partkey) || ' colocation ' || colocationid END
		FROM pg_dist_partition ORDER BY 1`)
	out := map[string]string{}
	for _, r := range rows {
		name, layout, _ := strings.Cut(r, " ")
		out[name] = layout
	}
	return out
}

// checkDistributed fails unless the per-sample tables are distributed by
// the sample's SHA-256 and co-located, and sources and jobs are reference
// tables.
func checkDistributed(t *testing.T, url string, schema string) {
	t.Helper()
	got := citusLayoutOf(t, url)
	colocation := strings.TrimPrefix(got["samples"], "hash sha256 ")
	want := map[string]string{
		"sources": "reference", "jobs": "reference", "samples": "hash sha256 " + colocation,
		"samples_sources": "hash sample_sha256 " + colocation, "payloads": "hash sha256 " + colocation,
	}
	if !strings.HasPrefix(colocation, "colocation ") || len(got) != len(want) {
		t.Fatalf("%s schema on Citus: %v, want %v", schema, got, want)
	}
	for table, layout := range want {
		if got[table] != layout {
			t.Errorf("%s schema on Citus: %s is %q, want %q", schema, table, got[table], layout)
		}
	}
}

// A loader on a database with the citus extension distributes the native
// schema itself, says so once, and writes the rows one PostgreSQL gets
// from the same batches: loading again, merging IDs and paths, payloads,
// a failed source and its re-run included. HashR's layout stays on the
// coordinator (citusLayouts) and holds the same rows too.
func TestCitusDistributesAndLoadsAsPostgres(t *testing.T) {
	cluster := citustest.Start(t, 2)
	pg := pgtest.Start(t)
	for _, schema := range []string{SchemaNative, SchemaHashR} {
		t.Run(schema, func(t *testing.T) {
			citusURL, pgURL := cluster.NewDatabase(t), pg.NewDatabase(t)
			var mu sync.Mutex
			var notes []string
			opts := Options{Schema: schema, Payloads: true, PayloadMax: 1 << 20, Infof: func(format string, args ...any) {
				mu.Lock()
				defer mu.Unlock()
				notes = append(notes, format)
			}}
			onCitus, onPG := open(t, citusURL, opts), open(t, pgURL, opts)
			open(t, citusURL, opts) // a second loader finds it distributed
			if schema == SchemaNative {
				checkDistributed(t, citusURL, schema)
				if len(notes) != 1 {
					t.Errorf("%d notes from opening a Citus database twice, want 1 (the first distributes): %q", len(notes), notes)
				}
			} else if layout := citusLayoutOf(t, citusURL); len(layout) != 0 {
				t.Errorf("HashR's layout on Citus: %v, want its tables left on the coordinator", layout)
			}
			saved := sortedBatchMax
			defer func() { sortedBatchMax = saved }()
			for i, batch := range citusBatches(t) {
				// Odd batches are staged as file rows the database
				// groups, even ones as links the loader grouped.
				sortedBatchMax = saved * (1 - i%2)
				for _, l := range []Loader{onCitus, onPG} {
					load(t, l, batch()...)
				}
				if d := dbtest.Diff(dbtest.Dump(t, pgURL), dbtest.Dump(t, citusURL)); d != "" {
					t.Fatalf("Citus holds other rows than PostgreSQL:\n%s", d)
				}
			}
			if n := dbtest.Count(t, citusURL, "SELECT count(*) FROM samples"); n < 4 {
				t.Fatalf("%d samples on Citus: the batches did not load", n)
			}
		})
	}
}

// citusBatches are batches that take every statement of a load: new
// samples, shared ones, a second ID and path, payloads, a source that
// fails then succeeds, a failed member, a package and verification kept
// over a load without, and loading them all again.
func citusBatches(t *testing.T) []func() []*Source {
	dir := t.TempDir()
	n := 0
	withLocal := func(path, data string) File {
		n++
		f := content(path, data)
		f.Local = filepath.Join(dir, fmt.Sprint(n))
		if err := os.WriteFile(f.Local, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return f
	}
	failed := func() *Source {
		s := source(t, "c.deb", withLocal("usr/bin/c", "C"), withLocal("usr/share/c", "only in the failed run"))
		s.Job.Status, s.Job.Error = StatusFailed, "checksum mismatch"
		return s
	}
	member := func() *Source {
		s := source(t, "d.deb", withLocal("usr/bin/d", "D"), withLocal("usr/lib/d.so", "bad member"))
		s.FailedPaths = map[string]bool{"usr/lib/d.so": true}
		return s
	}
	first := func() []*Source {
		b := source(t, "b.deb", withLocal("usr/bin/b", "B"), withLocal("usr/share/b", "shared"))
		b.Package, b.Verified = bashPkg, aptVerified
		return []*Source{source(t, "a.deb", withLocal("usr/bin/a", "A"), withLocal("usr/share/a", "shared")), b}
	}
	return []func() []*Source{
		first,
		func() []*Source {
			again := source(t, "a.deb", withLocal("usr/bin/a-renamed", "A"))
			again.ID = "a-copy.deb"
			lone := source(t, "b.deb", withLocal("usr/bin/b", "B"), withLocal("usr/share/b", "shared"))
			lone.Verified = unsigned
			return []*Source{again, failed(), member(), lone}
		},
		func() []*Source { return []*Source{source(t, "c.deb", withLocal("usr/bin/c", "C"))} },
		first,
	}
}

// A Citus database hashr wrote at an older schema version migrates: one
// an older hashr left undistributed (version 1, its tables local to the
// coordinator) is distributed, rows and all; one distributed at version 2
// takes migrations 3 to 5 as distributed tables, one at version 3 or 4
// the rest (5: the links' hash index). All keep their rows, and
// their failed jobs' sources become failed, as on one PostgreSQL
// (TestMigrationMarksFailedJobsSources).
func TestCitusMigratesOlderSchemas(t *testing.T) {
	cluster := citustest.Start(t, 2)
	for _, from := range []struct {
		version     int
		distributed bool
	}{{1, false}, {2, true}, {3, true}, {4, true}} {
		t.Run(fmt.Sprintf("version %d", from.version), func(t *testing.T) {
			url := cluster.NewDatabase(t)
			stmts := []string{createMigrationsTable}
			for _, m := range nativeMigrations[:from.version] {
				stmts = append(stmts, m.postgres...)
				stmts = append(stmts, fmt.Sprintf(`INSERT INTO hashr_schema_migrations VALUES (%d, 'then')`, m.version))
			}
			if from.distributed {
				stmts = append(stmts, `SELECT create_reference_table('sources')`, `SELECT create_reference_table('jobs')`,
					`SELECT create_distributed_table('samples', 'sha256')`,
					`SELECT create_distributed_table('samples_sources', 'sample_sha256', colocate_with => 'samples')`,
					`SELECT create_distributed_table('payloads', 'sha256', colocate_with => 'samples')`)
			}
			ts := `'2024-05-01T10:00:00Z'`
			stmts = append(stmts,
				`INSERT INTO sources (sha256) VALUES ('\x01'), ('\x02')`,
				`INSERT INTO samples (sha256) VALUES ('\x0a'), ('\x0b')`,
				`INSERT INTO samples_sources (sample_sha256, source_sha256, paths) VALUES ('\x0a', '\x01', '{a}'), ('\x0b', '\x02', '{b}')`,
				`INSERT INTO jobs (quick_sha256, sha256, status, imported_at) VALUES ('\x11', '\x01', 'failed', `+ts+`), ('\x12', '\x02', 'done', `+ts+`)`)
			if from.version >= 3 { // a loader at version 3 marks the failed job's source itself
				stmts = append(stmts, `UPDATE sources SET status = 'failed' WHERE sha256 = '\x01'`)
			}
			sqldb := dbtest.Open(t, url)
			for _, s := range stmts {
				if _, err := sqldb.Exec(s); err != nil {
					t.Fatalf("%s: %v", s, err)
				}
			}
			open(t, url, Options{})
			checkDistributed(t, url, SchemaNative)
			if got := dbtest.Count(t, url, "SELECT max(version) FROM hashr_schema_migrations"); got != int64(SchemaVersion) {
				t.Fatalf("schema version %d, want %d", got, SchemaVersion)
			}
			checkMigratedRows(t, url)
			if got := dbtest.Count(t, url, `SELECT count(*) FROM pg_indexes WHERE indexname = 'samples_sources_sample_hash'`); got != 1 {
				t.Fatalf("%d hash indexes on the links by sample, want 1 (migration 5)", got)
			}
		})
	}
}

// checkMigratedRows checks the rows TestCitusMigratesOlderSchemas wrote
// after the migration: the failed job's source failed, the other trusted.
func checkMigratedRows(t *testing.T, url string) {
	t.Helper()
	r := openReader(t, url)
	for key, want := range map[byte]bool{0x0a: false, 0x0b: true} {
		found, err := r.Lookup(t.Context(), BySHA256, [][]byte{{key}})
		if err != nil {
			t.Fatal(err)
		}
		if known := len(found) > 0; known != want {
			t.Errorf("sample %02x: known %v, want %v", key, known, want)
		}
	}
	if got := dbtest.Count(t, url, "SELECT count(*) FROM samples_sources_hex WHERE failed = false"); got != 2 {
		t.Errorf("%d links after the migration, want the 2 there were", got)
	}
	if got := dbtest.Count(t, url, "SELECT count(*) FROM sources_hex WHERE status = 'failed'"); got != 1 {
		t.Errorf("%d failed sources, want 1", got)
	}
	if got := dbtest.Count(t, url, "SELECT count(*) FROM sources_hex WHERE package IS NULL AND verified_ok IS NULL"); got != 2 {
		t.Errorf("%d sources without package and verified after the migration, want the 2 there were", got)
	}
}

// A Citus worker that stops while loaders write (pg_ctl -m immediate,
// as a machine fails) fails their transactions with the coordinator's
// errors about its connection to the worker; the loaders retry them until
// the worker is back, and the database ends as one PostgreSQL loaded with
// the same batches.
func TestCitusWorkerRestartIsRetried(t *testing.T) {
	cluster := citustest.Start(t, 2)
	pg := pgtest.Start(t)
	citusURL, pgURL := cluster.NewDatabase(t), pg.NewDatabase(t)
	var mu sync.Mutex
	var logs []string
	l := open(t, citusURL, Options{RetryFor: 2 * time.Minute, Logf: func(f string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		logs = append(logs, fmt.Sprintf(f, a...))
	}})
	onPG := open(t, pgURL, Options{})
	batch := func(i int) []*Source {
		var files []File
		for j := range 50 { // samples on both workers' shards
			files = append(files, content(fmt.Sprintf("usr/share/%d/%d", i, j), fmt.Sprintf("file %d of %d", j, i)))
		}
		return []*Source{source(t, fmt.Sprintf("p%d.deb", i), files...)}
	}
	load(t, l, batch(0)...)
	load(t, onPG, batch(0)...)
	worker := cluster.Workers[1]
	if err := worker.Crash(); err != nil {
		t.Fatal(err)
	}
	restarted := make(chan error, 1)
	go func() {
		time.Sleep(3 * time.Second) // a few failed tries first
		restarted <- worker.Start()
	}()
	st := load(t, l, batch(1)...)
	if err := <-restarted; err != nil {
		t.Fatal(err)
	}
	load(t, onPG, batch(1)...)
	mu.Lock()
	retries := strings.Join(logs, "\n")
	mu.Unlock()
	if st.Attempts < 2 {
		t.Fatalf("%d attempts while a worker was down, logs:\n%s", st.Attempts, retries)
	}
	t.Logf("%d attempts; the first retry: %s", st.Attempts, logs[0])
	if d := dbtest.Diff(dbtest.Dump(t, pgURL), dbtest.Dump(t, citusURL)); d != "" {
		t.Fatalf("after the worker's restart Citus holds other rows than PostgreSQL:\n%s", d)
	}
}
