package db

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/db/dbtest"
)

func openReader(t *testing.T, url string) *Reader {
	t.Helper()
	loc, err := ParseLocation(url)
	if err != nil {
		t.Fatal(err)
	}
	r, err := OpenReader(context.Background(), loc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// knownBy looks f up by each digest and says what each answer named: the
// IDs of the sources, "-" when unknown.
func knownBy(t *testing.T, r *Reader, f File) []string {
	t.Helper()
	var out []string
	for _, by := range []struct {
		name string
		key  []byte
	}{{BySHA256, f.SHA256}, {BySHA1, f.SHA1}, {ByMD5, f.MD5}} {
		found, err := r.Lookup(context.Background(), by.name, [][]byte{by.key})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, s := range found[string(by.key)] {
			for _, l := range s.Links {
				id := strings.Join(l.IDs, ",")
				if l.Failed {
					id += "(failed)"
				}
				ids = append(ids, id)
			}
		}
		if len(ids) == 0 {
			ids = []string{"-"}
		}
		out = append(out, by.name+":"+strings.Join(ids, "+"))
	}
	return out
}

// A failed source vouches for none of its samples, a failed member for
// none of the samples only read inside it; lookups by every digest, counts
// and exports agree, --include-failed shows them marked, and a re-run that
// succeeds makes them trusted.
func TestFailedSourcesAndMembersAreNotKnown(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			l := open(t, b.url, Options{})
			fx := trustFiles{
				inJar: content("usr/x.jar!/a", "inside the jar"), beside: content("usr/y", "beside the jar"), shared: content("usr/z", "in both"),
				onlyBad: content("usr/bin/flipped", "a byte flipped in the failed run alone"),
			}
			bad := source(t, "bad.deb", content("usr/bin/bad", "read under a bad CRC"), fx.shared, fx.onlyBad)
			bad.Job.Status = StatusFailed
			partial := source(t, "partial.deb", fx.inJar, fx.beside)
			partial.Job.Status, partial.FailedPaths = StatusPartial, map[string]bool{"usr/x.jar": true}
			good := source(t, "good.deb", fx.shared)
			load(t, l, bad, partial, good)

			r := openReader(t, b.url)
			checkFailedNotKnown(t, r, fx)
			checkFailedNotExported(t, r)
			checkIncludeFailedMarks(t, r, fx)

			// A re-run that succeeds: every sample it brings is trusted; the
			// one the failed run alone read stays untrusted.
			bad2 := source(t, "bad.deb", content("usr/bin/bad", "read under a bad CRC"), fx.shared)
			partial2 := source(t, "partial.deb", fx.inJar, fx.beside)
			load(t, l, bad2, partial2)
			checkRerunTrusts(t, openReader(t, b.url), fx)
		})
	}
}

// trustFiles are the files of TestFailedSourcesAndMembersAreNotKnown:
// inJar read inside partial.deb's failed member, beside it outside, shared
// in the failed bad.deb and in good.deb, onlyBad in bad.deb alone.
type trustFiles struct {
	inJar, beside, shared, onlyBad File
}

// checkFailedNotKnown looks each sample up by every digest: those read
// only under a failed check are unknown.
func checkFailedNotKnown(t *testing.T, r *Reader, fx trustFiles) {
	t.Helper()
	for _, tc := range []struct {
		f    File
		want string
	}{
		{content("", "read under a bad CRC"), "sha256:-,sha1:-,md5:-"},
		{fx.inJar, "sha256:-,sha1:-,md5:-"},
		{fx.beside, "sha256:partial.deb,sha1:partial.deb,md5:partial.deb"},
		{fx.shared, "sha256:good.deb,sha1:good.deb,md5:good.deb"},
	} {
		if got := strings.Join(knownBy(t, r, tc.f), ","); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.f.Path, got, tc.want)
		}
	}
}

// checkFailedNotExported counts and exports the samples and the sources:
// neither holds what only failed checks read, nor the failed bad.deb.
func checkFailedNotExported(t *testing.T, r *Reader) {
	t.Helper()
	n, err := r.CountSamples(context.Background(), Filter{})
	if err != nil || n != 2 {
		t.Errorf("CountSamples: %d (%v), want 2 (beside, shared)", n, err)
	}
	var exported []string
	if err := r.Samples(context.Background(), Filter{}, false, func(s *SampleLinks) error {
		exported = append(exported, allPathsOf(s))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(exported, " "); len(exported) != 2 || !strings.Contains(got, "usr/y") || !strings.Contains(got, "usr/z") || strings.Contains(got, "x.jar") {
		t.Errorf("exported %q, want usr/y and usr/z alone", got)
	}
	var listed []string
	if err := r.Sources(context.Background(), Filter{}, func(s *SourceInfo) error {
		listed = append(listed, strings.Join(s.IDs, ","))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if slices.Sort(listed); strings.Join(listed, " ") != "good.deb partial.deb" {
		t.Errorf("sources exported: %v, want good.deb and partial.deb (bad.deb failed)", listed)
	}
}

// checkIncludeFailedMarks turns --include-failed on in r: the failed
// sources' links show, marked, and FailedSources lists both.
func checkIncludeFailedMarks(t *testing.T, r *Reader, fx trustFiles) {
	t.Helper()
	r.IncludeFailed = true
	if got := strings.Join(knownBy(t, r, fx.shared), ","); got != "sha256:bad.deb(failed)+good.deb,sha1:bad.deb(failed)+good.deb,md5:bad.deb(failed)+good.deb" {
		t.Errorf("--include-failed: %s", got)
	}
	if got := strings.Join(knownBy(t, r, fx.inJar), ","); got != "sha256:partial.deb(failed),sha1:partial.deb(failed),md5:partial.deb(failed)" {
		t.Errorf("--include-failed: %s", got)
	}
	failed, err := r.FailedSources(context.Background(), Filter{})
	if err != nil || len(failed) != 2 {
		t.Errorf("FailedSources: %+v (%v), want bad.deb and partial.deb", failed, err)
	}
}

// checkRerunTrusts reads the database after the re-runs that succeeded.
func checkRerunTrusts(t *testing.T, r2 *Reader, fx trustFiles) {
	t.Helper()
	if got := strings.Join(knownBy(t, r2, fx.inJar), ","); got != "sha256:partial.deb,sha1:partial.deb,md5:partial.deb" {
		t.Errorf("after the re-run: %s", got)
	}
	if n, err := r2.CountSamples(context.Background(), Filter{}); err != nil || n != 4 {
		t.Errorf("after the re-run: CountSamples %d (%v), want 4", n, err)
	}
	if got := strings.Join(knownBy(t, r2, fx.onlyBad), ","); got != "sha256:-,sha1:-,md5:-" {
		t.Errorf("after the re-run, the sample only the failed run read: %s", got)
	}
}

func allPathsOf(s *SampleLinks) string {
	var paths []string
	for _, l := range s.Links {
		paths = append(paths, l.Paths...)
	}
	return strings.Join(paths, ",")
}

// A database of schema version 2 keeps its rows through migration 3; the
// sources of its failed jobs become failed (their errors were not told
// apart then), the others stay trusted.
func TestMigrationMarksFailedJobsSources(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			sqldb := dbtest.Open(t, b.url)
			stmts := []string{createMigrationsTable, `INSERT INTO hashr_schema_migrations VALUES (1, 'then'), (2, 'then')`}
			for _, m := range nativeMigrations[:2] {
				if b.name == "sqlite" {
					stmts = append(stmts, m.sqlite...)
				} else {
					stmts = append(stmts, m.postgres...)
				}
			}
			ts := `'2024-05-01T10:00:00Z'`
			stmts = append(stmts,
				`INSERT INTO sources (sha256) VALUES ('\x01'), ('\x02')`,
				`INSERT INTO samples (sha256) VALUES ('\x0a'), ('\x0b')`,
				`INSERT INTO samples_sources (sample_sha256, source_sha256, paths) VALUES ('\x0a', '\x01', '["a"]'), ('\x0b', '\x02', '["b"]')`,
				`INSERT INTO jobs (quick_sha256, sha256, status, imported_at) VALUES ('\x11', '\x01', 'failed', `+ts+`), ('\x12', '\x02', 'done', `+ts+`)`)
			for _, s := range stmts {
				if b.name == "sqlite" {
					for _, x := range []string{"01", "02", "0a", "0b", "11", "12"} {
						s = strings.ReplaceAll(s, `'\x`+x+`'`, `x'`+x+`'`)
					}
				} else {
					s = strings.ReplaceAll(s, `'["a"]'`, `'{a}'`)
					s = strings.ReplaceAll(s, `'["b"]'`, `'{b}'`)
				}
				if _, err := sqldb.Exec(s); err != nil {
					t.Fatalf("%s: %v", s, err)
				}
			}
			open(t, b.url, Options{})
			r := openReader(t, b.url)
			for key, want := range map[byte]bool{0x0a: false, 0x0b: true} {
				found, err := r.Lookup(context.Background(), BySHA256, [][]byte{{key}})
				if err != nil {
					t.Fatal(err)
				}
				if known := len(found) > 0; known != want {
					t.Errorf("sample %02x: known %v, want %v", key, known, want)
				}
			}
			if got := dbtest.Count(t, b.url, "SELECT count(*) FROM sources_hex WHERE status = 'failed'"); got != 1 {
				t.Errorf("%d failed sources, want 1", got)
			}
		})
	}
}
