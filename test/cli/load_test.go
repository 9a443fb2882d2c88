package cli_test

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", for hashr-sql
	"github.com/rogpeppe/go-internal/testscript"
	_ "modernc.org/sqlite" // database/sql driver "sqlite", for hashr-sql

	"github.com/hashr-dev/hashr/internal/db/dbtest"
	"github.com/hashr-dev/hashr/internal/db/pgtest"
	"github.com/hashr-dev/hashr/internal/dedup"
	"github.com/hashr-dev/hashr/internal/extract"
	"github.com/hashr-dev/hashr/internal/fetch"
	"github.com/hashr-dev/hashr/internal/hashcmd"
	"github.com/hashr-dev/hashr/internal/load"
	"github.com/hashr-dev/hashr/internal/scan"
	"github.com/hashr-dev/hashr/internal/testcorpus"
	"github.com/hashr-dev/hashr/pkg/records"
)

func init() {
	register("hashr-load", load.Main)
	commands["hashr-sql"] = func() { os.Exit(sqlMain(os.Args[1:])) }
}

// sqlMain is hashr-sql DB_URL QUERY, a test helper that prints a query's
// rows, tab-separated, bytes as hex, NULL as NULL: scripts check what a
// load wrote with it.
func sqlMain(args []string) int {
	if len(args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: hashr-sql sqlite:PATH|postgres://… QUERY")
		return 2
	}
	driver, dsn := "pgx", args[0]
	if path, ok := strings.CutPrefix(args[0], "sqlite:"); ok {
		driver, dsn = "sqlite", path+"?mode=ro"
	}
	sqldb, err := sql.Open(driver, dsn)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer sqldb.Close()
	rows, err := sqldb.Query(args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fields := make([]string, len(vals))
		for i, v := range vals {
			switch v := v.(type) {
			case nil:
				fields[i] = "NULL"
			case []byte:
				fields[i] = fmt.Sprintf("%x", v)
			default:
				fields[i] = fmt.Sprint(v)
			}
		}
		fmt.Println(strings.Join(fields, "\t"))
	}
	if err := rows.Err(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// TestLoadPostgresScripts runs testdata/load_postgres/*.txtar against a
// real PostgreSQL started for the test: each script gets an empty
// database as $PGURL. (testdata/load_*.txtar, run by TestScripts, use
// SQLite.)
func TestLoadPostgresScripts(t *testing.T) {
	pg := pgtest.Start(t)
	_, here, _, _ := runtime.Caller(0)
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join(filepath.Dir(here), "testdata", "load_postgres"),
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("PGURL", pg.NewDatabase(t))
			env.Setenv("TESTDATA", filepath.Join(filepath.Dir(here), "..", "..", "testdata"))
			env.Setenv("XDG_CACHE_HOME", filepath.Join(env.WorkDir, ".cache"))
			return nil
		},
	})
}

// realDebs returns up to n small real Debian packages: from the corpus
// (HASHR_CORPUS or ~/.cache/hashr-corpus, see scripts/corpus.sh),
// else apt's cache, else downloaded there with apt-get download.
func realDebs(t *testing.T, n int) []string {
	t.Helper()
	corpus := testcorpus.Root()
	find := func() []string {
		var debs []string
		for _, dir := range []string{filepath.Join(corpus, "deb"), "/var/cache/apt/archives"} {
			matches, _ := filepath.Glob(filepath.Join(dir, "*.deb"))
			for _, m := range matches {
				if fi, err := os.Stat(m); err == nil && fi.Size() < 400<<10 {
					debs = append(debs, m)
				}
			}
		}
		slices.Sort(debs)
		return debs[:min(n, len(debs))]
	}
	debs := find()
	if len(debs) < n {
		dir := filepath.Join(corpus, "deb")
		os.MkdirAll(dir, 0o755)
		cmd := exec.Command("apt-get", "download", "gzip", "less", "file", "sed", "grep", "python3-yaml")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Logf("apt-get download: %v\n%s", err, out)
		}
		debs = find()
	}
	if len(debs) < n {
		if os.Getenv("CI") != "" {
			t.Fatalf("found %d real Debian packages, need %d: none in %s or /var/cache/apt/archives, and apt-get download failed", len(debs), n, corpus)
		}
		t.Skipf("found %d real Debian packages, need %d", len(debs), n)
	}
	return debs
}

// stage runs one command of the pipeline in-process.
func stage(t *testing.T, main func([]string, io.Reader, io.Writer, io.Writer) int, input []byte, args ...string) []byte {
	t.Helper()
	var out, errOut bytes.Buffer
	if status := main(args, bytes.NewReader(input), &out, &errOut); status != 0 {
		t.Fatalf("%v: exit %d\n%s", args, status, errOut.String())
	}
	return out.Bytes()
}

// debContents is the ground truth, read with dpkg-deb and archive/tar, not
// with hashr: each regular file's path (as installed) and SHA-256.
func debContents(t *testing.T, deb string) map[string]string {
	t.Helper()
	cmd := exec.Command("dpkg-deb", "--fsys-tarfile", deb)
	data, err := cmd.Output()
	if err != nil {
		t.Fatalf("dpkg-deb --fsys-tarfile %s: %v", deb, err)
	}
	files := map[string]string{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name := path.Clean(strings.TrimPrefix(hdr.Name, "./"))
		switch hdr.Typeflag {
		case tar.TypeReg:
			h := sha256.New()
			io.Copy(h, tr)
			files[name] = hex.EncodeToString(h.Sum(nil))
		case tar.TypeLink:
			files[name] = files[path.Clean(strings.TrimPrefix(hdr.Linkname, "./"))]
		}
	}
	return files
}

// streamCounts counts, in a stream of records, what a database loaded
// from it must hold.
type streamCounts struct {
	sources, files, samples, links, done int64
}

func countStream(t *testing.T, stream []byte) streamCounts {
	t.Helper()
	var c streamCounts
	samples, links := map[string]bool{}, map[string]bool{}
	r := records.NewReader(bytes.NewReader(stream), "stream")
	for {
		raw, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		rec, err := raw.Decode()
		if err != nil {
			continue
		}
		switch rec := rec.(type) {
		case *records.Source:
			c.sources++
		case *records.File:
			if rec.SHA256 != "" {
				c.files++
				samples[rec.SHA256] = true
				links[rec.SHA256+rec.Source] = true
			}
		case *records.End:
			if rec.Errors == 0 {
				c.done++
			}
		}
	}
	c.samples, c.links = int64(len(samples)), int64(len(links))
	return c
}

func queryInt(t *testing.T, sqldb *sql.DB, query string) int64 {
	t.Helper()
	var n int64
	if err := sqldb.QueryRow(query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// The pipeline from real Debian packages to SQLite and to PostgreSQL:
// the database holds what the stream says, each package's files are the
// ones dpkg-deb finds in it with the SHA-256 computed here, and loading
// the stream again changes nothing.
func TestPipelineRealDebsIntoDatabases(t *testing.T) {
	debs := realDebs(t, 5)
	repo, work := t.TempDir(), t.TempDir()
	for _, deb := range debs {
		if err := os.Symlink(deb, filepath.Join(repo, filepath.Base(deb))); err != nil {
			t.Fatal(err)
		}
	}
	stream := stage(t, scan.Main, nil, "--quiet", repo)
	stream = stage(t, fetch.Main, stream, "--quiet", "--work", filepath.Join(work, "fetch"))
	stream = stage(t, extract.Main, stream, "--quiet", "--spool", filepath.Join(work, "spool"))
	stream = stage(t, hashcmd.Main, stream, "--quiet", "--delete")
	stream = stage(t, dedup.Main, stream, "--quiet", "--store", filepath.Join(work, "store"))
	want := countStream(t, stream)
	if want.sources != int64(len(debs)) || want.files < 50 || want.done != want.sources {
		t.Fatalf("the pipeline's stream: %+v for %d packages", want, len(debs))
	}
	t.Logf("%d packages: %+v", len(debs), want)

	t.Run("payloads", func(t *testing.T) { checkPayloadsMatchKeys(t, repo, work, want.samples) })

	pg := pgtest.Start(t)
	for _, b := range []struct{ name, url string }{
		{"sqlite", "sqlite:" + filepath.Join(work, "hashr.db")},
		{"postgres", pg.NewDatabase(t)},
	} {
		t.Run(b.name, func(t *testing.T) {
			stage(t, load.Main, stream, "--quiet", "--db", b.url)
			checkLoadedAsStreamed(t, b.name, b.url, want, debs)
			before := dbtest.Dump(t, b.url)
			stage(t, load.Main, stream, "--quiet", "--db", b.url)
			if d := dbtest.Diff(before, dbtest.Dump(t, b.url)); d != "" {
				t.Fatalf("loading the stream again changed the database:\n%s", d)
			}
			checkScanSkipsLoaded(t, b.url, repo, stream)
		})
	}
}

// checkPayloadsMatchKeys runs the pipeline with --payloads into SQLite:
// the spooled bytes of every sample, checked against its key.
func checkPayloadsMatchKeys(t *testing.T, repo, work string, samples int64) {
	kept := stage(t, scan.Main, nil, "--quiet", repo)
	kept = stage(t, extract.Main, kept, "--quiet", "--spool", filepath.Join(work, "spool2"))
	kept = stage(t, hashcmd.Main, kept, "--quiet")
	url := "sqlite:" + filepath.Join(work, "payloads.db")
	stage(t, load.Main, kept, "--quiet", "--db", url, "--payloads")
	sqldb := dbtest.Open(t, url)
	rows, err := sqldb.Query("SELECT sha256, payload FROM payloads")
	if err != nil {
		t.Fatal(err)
	}
	n := int64(0)
	for rows.Next() {
		var key, payload []byte
		rows.Scan(&key, &payload)
		if sum := sha256.Sum256(payload); !bytes.Equal(sum[:], key) {
			t.Fatalf("payload of %x has SHA-256 %x", key, sum)
		}
		n++
	}
	rows.Close()
	if n != samples {
		t.Fatalf("%d payloads for %d samples", n, samples)
	}
}

// checkLoadedAsStreamed compares the database's counts with the stream's,
// and each package's files in it with dpkg-deb's. name is the backend,
// sqlite or postgres.
func checkLoadedAsStreamed(t *testing.T, name, url string, want streamCounts, debs []string) {
	t.Helper()
	sqldb := dbtest.Open(t, url)
	pathCount := "SELECT sum(json_array_length(paths)) FROM samples_sources"
	pathsOf := "SELECT lower(hex(sample_sha256)), (SELECT group_concat(value, char(10)) FROM json_each(paths)) FROM samples_sources WHERE source_sha256 = unhex($1)"
	if name == "postgres" {
		pathCount = "SELECT sum(cardinality(paths)) FROM samples_sources"
		pathsOf = "SELECT encode(sample_sha256, 'hex'), array_to_string(paths, E'\\n') FROM samples_sources WHERE source_sha256 = decode($1, 'hex')"
	}
	got := streamCounts{
		sources: queryInt(t, sqldb, "SELECT count(*) FROM sources"),
		files:   queryInt(t, sqldb, pathCount),
		samples: queryInt(t, sqldb, "SELECT count(*) FROM samples"),
		links:   queryInt(t, sqldb, "SELECT count(*) FROM samples_sources"),
		done:    queryInt(t, sqldb, "SELECT count(*) FROM jobs WHERE status = 'done'"),
	}
	if got != want {
		t.Fatalf("database holds %+v, the stream %+v", got, want)
	}
	for _, deb := range debs {
		if loaded, truth := loadedPaths(t, sqldb, pathsOf, deb), debContents(t, deb); !maps.Equal(loaded, truth) {
			t.Fatalf("%s: the database holds %d files, dpkg-deb finds %d; they differ", filepath.Base(deb), len(loaded), len(truth))
		}
	}
}

// loadedPaths returns the sample's sha256 of each path the database holds
// for deb, with pathsOf, the backend's query of a source's links.
func loadedPaths(t *testing.T, sqldb *sql.DB, pathsOf, deb string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(deb)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	rows, err := sqldb.Query(pathsOf, hex.EncodeToString(sum[:]))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	loaded := map[string]string{}
	for rows.Next() {
		var sample, paths string
		rows.Scan(&sample, &paths)
		for _, p := range strings.Split(paths, "\n") {
			loaded[p] = sample
		}
	}
	return loaded
}

// checkScanSkipsLoaded runs hashr-scan --db on the loaded database: it
// finds nothing left to do, but what --reprocess names.
func checkScanSkipsLoaded(t *testing.T, url, repo string, stream []byte) {
	t.Helper()
	if again := countStream(t, stage(t, scan.Main, nil, "--quiet", "--db", url, repo)); again.sources != 0 {
		t.Fatalf("scan --db after the load emits %d sources, want 0", again.sources)
	}
	var first records.Source
	for line := range bytes.Lines(stream) {
		if bytes.HasPrefix(line, []byte(`{"type":"source"`)) {
			json.Unmarshal(line, &first) // after the plan record
			break
		}
	}
	again := stage(t, scan.Main, nil, "--quiet", "--db", url, "--reprocess", first.QuickSHA256, repo)
	if c := countStream(t, again); c.sources != 1 || !bytes.Contains(again, []byte(first.QuickSHA256)) {
		t.Fatalf("scan --db --reprocess %s emits %d sources, want that one", first.QuickSHA256, c.sources)
	}
}
