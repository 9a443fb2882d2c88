package cli_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/db/citustest"
	"github.com/hashr-dev/hashr/internal/db/dbtest"
	"github.com/hashr-dev/hashr/internal/db/pgtest"
	"github.com/hashr-dev/hashr/internal/dedup"
	"github.com/hashr-dev/hashr/internal/export"
	"github.com/hashr-dev/hashr/internal/extract"
	"github.com/hashr-dev/hashr/internal/fetch"
	"github.com/hashr-dev/hashr/internal/hashcmd"
	"github.com/hashr-dev/hashr/internal/load"
	"github.com/hashr-dev/hashr/internal/lookup"
	"github.com/hashr-dev/hashr/internal/scan"
)

// Real Debian packages, one failing its check, loaded into a Citus
// cluster (a coordinator, two workers) and into one PostgreSQL: the
// tables hold the same rows, and every reader gives the same bytes from
// both: hashr-export in every format (with and without --include-failed,
// --repo, --source), hashr-lookup (file records and bare hashes, with
// and without --include-failed, capped by --max-sources), hashr-scan
// --db, and hashr-serve's API.
func TestCitusReadsAsPostgres(t *testing.T) {
	repo, hashed, stream := realDebStream(t, 5)
	cluster := citustest.Start(t, 2)
	pg := pgtest.Start(t)
	citusURL, pgURL := cluster.NewDatabase(t), pg.NewDatabase(t)
	var note bytes.Buffer
	if status := load.Main([]string{"--db", citusURL, "--payloads", "--progress=never"}, bytes.NewReader(stream), &bytes.Buffer{}, &note); status != 0 {
		t.Fatalf("hashr-load into Citus: exit %d\n%s", status, note.String())
	}
	if !strings.Contains(note.String(), "citus extension: distributed") {
		t.Errorf("hashr-load said nothing of distributing the tables:\n%s", note.String())
	}
	stage(t, load.Main, stream, "--quiet", "--db", pgURL, "--payloads")
	if d := dbtest.Diff(dbtest.Dump(t, pgURL), dbtest.Dump(t, citusURL)); d != "" {
		t.Fatalf("Citus holds other rows than PostgreSQL:\n%s", d)
	}

	same := func(what string, run func(url string) []byte) {
		t.Helper()
		fromPG, fromCitus := run(pgURL), run(citusURL)
		if len(fromPG) == 0 {
			t.Errorf("%s: no output from PostgreSQL", what)
		}
		if !bytes.Equal(fromPG, fromCitus) {
			t.Errorf("%s: Citus gives %d bytes, PostgreSQL %d; they differ", what, len(fromCitus), len(fromPG))
		}
	}
	for _, args := range exportVariants(t, stream) {
		same("hashr-export "+strings.Join(args, " "), func(url string) []byte {
			out := filepath.Join(t.TempDir(), "export")
			stage(t, export.Main, nil, append([]string{"--quiet", "--db", url, "-o", out}, args...)...)
			if args[1] == "nsrl-rds" {
				return sqliteContents(t, out)
			}
			data, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			return data
		})
	}
	queries := append(hashed, bareHashes(t, hashed)...)
	for _, args := range [][]string{{}, {"--include-failed"}, {"--only", "unknown"}, {"--max-sources", "1"}, {"--max-sources", "1", "--include-failed"}} {
		same("hashr-lookup "+strings.Join(args, " "), func(url string) []byte {
			return stage(t, lookup.Main, queries, append([]string{"--quiet", "--db", url}, args...)...)
		})
	}
	same("hashr-scan --db", func(url string) []byte {
		return stage(t, scan.Main, nil, "--quiet", "--db", url, repo)
	})
	sameServed(t, pgURL, citusURL, hashed, stream)
}

// realDebStream runs the pipeline over n real Debian packages, keeping
// the spooled files for --payloads, and returns the repository, the
// stream hashr-hash wrote and the one to load, with failures added.
func realDebStream(t *testing.T, n int) (repo string, hashed, stream []byte) {
	t.Helper()
	repo, work := t.TempDir(), t.TempDir()
	for _, deb := range realDebs(t, n) {
		if err := os.Symlink(deb, filepath.Join(repo, filepath.Base(deb))); err != nil {
			t.Fatal(err)
		}
	}
	stream = stage(t, scan.Main, nil, "--quiet", repo)
	stream = stage(t, fetch.Main, stream, "--quiet", "--work", filepath.Join(work, "fetch"))
	stream = stage(t, extract.Main, stream, "--quiet", "--spool", filepath.Join(work, "spool"))
	hashed = stage(t, hashcmd.Main, stream, "--quiet")
	stream = stage(t, dedup.Main, hashed, "--quiet", "--store", filepath.Join(work, "store"))
	return repo, hashed, failOneSource(t, stream)
}

// exportVariants are the export flags compared: every format, and the
// filters on some.
func exportVariants(t *testing.T, stream []byte) [][]string {
	var variants [][]string
	for _, format := range []string{"nsrl-rds", "nsrl-2", "hashdeep", "md5sum", "sha1sum", "sha256sum", "xways", "csv", "ndjson", "bloom"} {
		variants = append(variants, []string{"--format", format}, []string{"--format", format, "--include-failed"})
	}
	var src struct {
		SHA256 string `json:"sha256"`
	}
	for line := range bytes.Lines(stream) {
		if bytes.HasPrefix(line, []byte(`{"type":"source"`)) {
			if err := json.Unmarshal(line, &src); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	return append(variants, []string{"--format", "csv", "--repo", "deb"}, []string{"--format", "ndjson", "--source", src.SHA256},
		[]string{"--format", "xways", "--algo", "sha1"}, []string{"--format", "bloom", "--algo", "sha1"})
}

// failOneSource adds error records to the stream, as the stages write
// them when a check fails: the last source's (no path: the source fails)
// and one member's of the first source (a path: a failed member), so that
// the readers' treatment of untrusted samples is compared too.
func failOneSource(t *testing.T, stream []byte) []byte {
	t.Helper()
	lines := bytes.SplitAfter(stream, []byte("\n"))
	type rec struct{ Type, Source, Path string }
	var ends []int
	firstPath := map[string]string{}
	for i, line := range lines {
		var r rec
		if json.Unmarshal(line, &r) != nil {
			continue
		}
		switch r.Type {
		case "end":
			ends = append(ends, i)
		case "file":
			if _, ok := firstPath[r.Source]; !ok {
				firstPath[r.Source] = r.Path
			}
		}
	}
	if len(ends) < 2 {
		t.Fatalf("the stream ends %d sources, want 2 or more", len(ends))
	}
	errorRecord := func(end int, path string) []byte {
		var r rec
		json.Unmarshal(lines[end], &r)
		e := map[string]string{"type": "error", "stage": "extract", "source": r.Source, "message": "CRC mismatch (made up by the test)"}
		if path != "" {
			e["path"] = path
		}
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		return append(b, '\n')
	}
	var first, last rec
	json.Unmarshal(lines[ends[0]], &first)
	json.Unmarshal(lines[ends[len(ends)-1]], &last)
	var out [][]byte
	for i, line := range lines {
		switch i {
		case ends[0]:
			out = append(out, errorRecord(i, firstPath[first.Source]))
		case ends[len(ends)-1]:
			out = append(out, errorRecord(i, ""))
		}
		out = append(out, line)
	}
	return bytes.Join(out, nil)
}

// bareHashes are md5sum-style lines of some of the stream's files, and of
// a hash no database holds.
func bareHashes(t *testing.T, stream []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	n := 0
	for line := range bytes.Lines(stream) {
		var f struct {
			Type, MD5, SHA1, Path string
		}
		if json.Unmarshal(line, &f) != nil || f.Type != "file" || f.MD5 == "" {
			continue
		}
		if n%2 == 0 {
			fmt.Fprintf(&out, "%s  %s\n", f.MD5, f.Path)
		} else {
			fmt.Fprintf(&out, "%s\n", f.SHA1)
		}
		if n++; n == 40 {
			break
		}
	}
	out.WriteString(strings.Repeat("0", 64) + "  nowhere\n")
	return out.Bytes()
}

// sqliteContents is an nsrl-rds export's rows, table by table in the
// order the file holds them, but for its VERSION table, which holds the
// time the export was built.
func sqliteContents(t *testing.T, path string) []byte {
	t.Helper()
	sqldb := dbtest.Open(t, "sqlite:"+path)
	tables, err := sqldb.Query(`SELECT name FROM sqlite_master WHERE type = 'table' AND name <> 'VERSION' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for tables.Next() {
		var name string
		tables.Scan(&name)
		names = append(names, name)
	}
	tables.Close()
	var out bytes.Buffer
	for _, name := range names {
		rows, err := sqldb.Query("SELECT * FROM " + name)
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
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&out, "%s %q\n", name, vals)
		}
		rows.Close()
	}
	return out.Bytes()
}
