package cli_test

import (
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/bloom"
	"github.com/hashr-dev/hashr/internal/db/pgtest"
	"github.com/hashr-dev/hashr/internal/dedup"
	"github.com/hashr-dev/hashr/internal/export"
	"github.com/hashr-dev/hashr/internal/extract"
	"github.com/hashr-dev/hashr/internal/fetch"
	"github.com/hashr-dev/hashr/internal/hashcmd"
	"github.com/hashr-dev/hashr/internal/load"
	"github.com/hashr-dev/hashr/internal/lookup"
	"github.com/hashr-dev/hashr/internal/scan"
	"github.com/hashr-dev/hashr/pkg/records"
)

func init() {
	register("hashr-export", export.Main)
	register("hashr-lookup", lookup.Main)
}

// needTool returns the path of a Debian tool a test needs; without it the
// test is skipped, except in CI, where it fails (.ci/install-deps.txt).
func needTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing: install the Debian package %s (.ci/install-deps.txt)", name, pkg)
		}
		t.Skipf("%s is missing (Debian package %s)", name, pkg)
	}
	return p
}

// setTruth is what a database loaded from a stream must give back: read
// from the stream the real pipeline wrote, and for the tree from the files
// themselves.
type setTruth struct {
	samples  map[string]sampleTruth // sha256 → digests
	links    map[string]bool        // sha256 + " " + source + " " + path
	sources  map[string]string      // source sha256 → repo
	ids      map[string]string      // source sha256 → id
	treeSHA  string                 // the tree tarball's source sha256
	treeFile map[string]string      // path in the tree → sha256, from the files on disk
}

type sampleTruth struct{ md5, sha1 string }

// exportFixture is a database built by the real pipeline from real files:
// a tree of files copied from this machine's /usr, packed with tar into
// repository "tree", and real Debian packages in repository "deb".
type exportFixture struct {
	tree   string // the tree on disk, as packed
	stream []byte
	truth  setTruth
	work   string
}

func newExportFixture(t *testing.T) *exportFixture {
	t.Helper()
	needTool(t, "tar", "tar")
	work := t.TempDir()
	fx := &exportFixture{tree: filepath.Join(work, "tree"), work: work}
	treeRepo, debRepo := filepath.Join(work, "trees"), filepath.Join(work, "debs")
	for _, d := range []string{fx.tree, treeRepo, debRepo} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	fx.truth.treeFile = copyRealFiles(t, fx.tree, 400)
	if out, err := exec.Command("tar", "-C", fx.tree, "-cf", filepath.Join(treeRepo, "tree.tar"), ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	for _, deb := range realDebs(t, 3) {
		if err := os.Symlink(deb, filepath.Join(debRepo, filepath.Base(deb))); err != nil {
			t.Fatal(err)
		}
	}
	stream := stage(t, scan.Main, nil, "--quiet", "--repo", "tree", treeRepo)
	stream = append(stream, stage(t, scan.Main, nil, "--quiet", debRepo)...)
	stream = stage(t, fetch.Main, stream, "--quiet", "--work", filepath.Join(work, "fetch"))
	stream = stage(t, extract.Main, stream, "--quiet", "--spool", filepath.Join(work, "spool"))
	stream = stage(t, hashcmd.Main, stream, "--quiet", "--delete")
	fx.stream = stage(t, dedup.Main, stream, "--quiet", "--store", filepath.Join(work, "store"))
	fx.truth.read(t, fx.stream)
	if fx.truth.treeSHA == "" || len(fx.truth.sources) != 4 {
		t.Fatalf("the pipeline's stream has %d sources, tree %q", len(fx.truth.sources), fx.truth.treeSHA)
	}
	// The tree's files came through the pipeline as they are on disk.
	for p, sum := range fx.truth.treeFile {
		if !fx.truth.links[sum+" "+fx.truth.treeSHA+" "+p] {
			t.Fatalf("the pipeline lost %s (%s) of the tree", p, sum)
		}
	}
	return fx
}

// copyRealFiles copies up to n small regular files of this machine's
// /usr/share/doc and /usr/bin into dir, keeping their paths (so many of
// them share contents, as licenses do), plus one whose name has a space
// and a comma. It returns path → sha256.
func copyRealFiles(t *testing.T, dir string, n int) map[string]string {
	t.Helper()
	files := map[string]string{}
	for _, root := range []string{"/usr/share/doc", "/usr/bin"} {
		count := 0
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if count >= n/2 {
				return fs.SkipAll
			}
			if err != nil {
				return nil // unreadable: not copied
			}
			if !d.Type().IsRegular() {
				return nil
			}
			info, err := d.Info()
			if err != nil || info.Size() > 256<<10 {
				return nil
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return nil
			}
			rel := strings.TrimPrefix(p, "/")
			writeTreeFile(t, dir, rel, data)
			sum := sha256.Sum256(data)
			files[rel] = hex.EncodeToString(sum[:])
			count++
			return nil
		})
	}
	odd := "usr/share/doc/odd name, with comma.txt"
	writeTreeFile(t, dir, odd, []byte("a file whose name needs care\n"))
	sum := sha256.Sum256([]byte("a file whose name needs care\n"))
	files[odd] = hex.EncodeToString(sum[:])
	if len(files) < n/4 {
		t.Fatalf("found only %d real files to copy", len(files))
	}
	return files
}

func writeTreeFile(t *testing.T, dir, rel string, data []byte) {
	t.Helper()
	full := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func (st *setTruth) read(t *testing.T, stream []byte) {
	t.Helper()
	st.samples, st.links, st.sources, st.ids = map[string]sampleTruth{}, map[string]bool{}, map[string]string{}, map[string]string{}
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
			st.sources[rec.SHA256], st.ids[rec.SHA256] = rec.Repo, rec.ID
			if rec.Repo == "tree" {
				st.treeSHA = rec.SHA256
			}
		case *records.File:
			st.samples[rec.SHA256] = sampleTruth{md5: rec.MD5, sha1: rec.SHA1}
			st.links[rec.SHA256+" "+rec.Source+" "+rec.Path] = true
		}
	}
}

// backendsFor loads the fixture's stream into SQLite and into a real
// PostgreSQL, and returns both databases' URLs.
func (fx *exportFixture) backends(t *testing.T) []struct{ name, url string } {
	t.Helper()
	pg := pgtest.Start(t)
	bs := []struct{ name, url string }{
		{"sqlite", "sqlite:" + filepath.Join(fx.work, "hashr.db")},
		{"postgres", pg.NewDatabase(t)},
	}
	for _, b := range bs {
		stage(t, load.Main, fx.stream, "--quiet", "--db", b.url)
	}
	return bs
}

// run runs a command in-process, returning its stdout and failing the test
// on a non-zero status.
func runCmd(t *testing.T, main func([]string, io.Reader, io.Writer, io.Writer) int, stdin []byte, args ...string) []byte {
	t.Helper()
	return stage(t, main, stdin, args...)
}

// tool runs a real client and returns its combined output and status.
func tool(t *testing.T, dir, name string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return string(out), 0
}

// The exports read by the tools they are for, from SQLite and from
// PostgreSQL, against the files and the stream they came from.
func TestExportRealClients(t *testing.T) {
	needTool(t, "hashdeep", "hashdeep")
	needTool(t, "md5sum", "coreutils")
	needTool(t, "hfind", "sleuthkit")
	needTool(t, "sqlite3", "sqlite3")
	fx := newExportFixture(t)
	for _, b := range fx.backends(t) {
		t.Run(b.name, func(t *testing.T) {
			c := &exportClients{fx: fx, truth: &fx.truth, url: b.url, out: t.TempDir()}
			for _, check := range []struct {
				name string
				run  func(t *testing.T)
			}{
				{"hashdeep audit", c.hashdeepAudit},
				{"md5sum -c", c.sumsCheck},
				{"hfind", c.hfind},
				{"nsrl-rds", c.nsrlRDS},
				{"bloom", c.bloom},
				{"text formats", c.textFormats},
				{"lookup", c.lookup},
			} {
				t.Run(check.name, check.run)
			}
		})
	}
}

// exportClients exports the fixture's database, loaded from its stream,
// for the tools that read each format, and checks what they say.
type exportClients struct {
	fx    *exportFixture
	truth *setTruth // what the stream holds
	url   string    // the database
	out   string    // where the exports go
}

// export runs hashr-export into the file name under out, with args, and
// returns the file's path.
func (c *exportClients) export(t *testing.T, name string, args ...string) string {
	t.Helper()
	file := filepath.Join(c.out, name)
	runCmd(t, export.Main, nil, append([]string{"--quiet", "--db", c.url, "-o", file}, args...)...)
	return file
}

// exportStdout runs hashr-export to stdout with args, and returns what it
// wrote.
func (c *exportClients) exportStdout(t *testing.T, args ...string) []byte {
	t.Helper()
	return runCmd(t, export.Main, nil, append([]string{"--quiet", "--db", c.url}, args...)...)
}

// hashdeepAudit: hashdeep's audit passes on the tree, and fails on a copy
// of the tree with a file changed and one missing.
func (c *exportClients) hashdeepAudit(t *testing.T) {
	tree := c.fx.tree
	known := c.export(t, "tree.hashdeep", "--format", "hashdeep", "--repo", "tree", "--prefix", tree+"/")
	if msg, status := tool(t, c.out, "hashdeep", "-a", "-k", known, "-r", tree); status != 0 || !strings.Contains(msg, "Audit passed") {
		t.Fatalf("hashdeep -a -k %s -r %s: status %d\n%s", known, tree, status, msg)
	}
	changed := filepath.Join(c.out, "changed")
	copyTree(t, tree, changed)
	var some []string
	for p := range c.truth.treeFile {
		some = append(some, p)
	}
	slices.Sort(some)
	os.WriteFile(filepath.Join(changed, some[0]), []byte("changed"), 0o644)
	os.Remove(filepath.Join(changed, some[1]))
	known = c.export(t, "changed.hashdeep", "--format", "hashdeep", "--repo", "tree", "--prefix", changed+"/")
	if msg, status := tool(t, c.out, "hashdeep", "-a", "-vv", "-k", known, "-r", changed); status == 0 || !strings.Contains(msg, "Known files not found: 2") {
		t.Fatalf("hashdeep audit of a changed tree: status %d\n%s", status, msg)
	}
}

// sumsCheck: md5sum, sha1sum and sha256sum -c find every file of the tree.
func (c *exportClients) sumsCheck(t *testing.T) {
	for _, sum := range []string{"md5sum", "sha1sum", "sha256sum"} {
		list := c.export(t, "tree."+sum, "--format", sum, "--source", c.truth.treeSHA)
		if msg, status := tool(t, c.fx.tree, sum, "-c", "--strict", list); status != 0 || strings.Count(msg, ": OK\n") != len(c.truth.treeFile) {
			t.Fatalf("%s -c: status %d, %d OK for %d files\n%s", sum, status, strings.Count(msg, ": OK\n"), len(c.truth.treeFile), msg)
		}
	}
}

// hfind: The Sleuth Kit indexes the md5sum list, finds a file with an odd
// name by its md5, and not an unknown hash.
func (c *exportClients) hfind(t *testing.T) {
	list := c.export(t, "all.md5", "--format", "md5sum")
	if msg, status := tool(t, c.out, "hfind", "-i", "md5sum", list); status != 0 {
		t.Fatalf("hfind -i md5sum: status %d\n%s", status, msg)
	}
	odd := c.truth.treeFile["usr/share/doc/odd name, with comma.txt"]
	md5hex := c.truth.samples[odd].md5
	if msg, _ := tool(t, c.out, "hfind", list, md5hex); !strings.Contains(msg, "odd name, with comma.txt") {
		t.Fatalf("hfind %s: %s", md5hex, msg)
	}
	unknown := md5.Sum([]byte("no package holds this"))
	if msg, _ := tool(t, c.out, "hfind", list, hex.EncodeToString(unknown[:])); !strings.Contains(msg, "Hash Not Found") {
		t.Fatalf("hfind of an unknown hash: %s", msg)
	}
}

// sqlite3 runs the sqlite3 tool's query on the database file db and
// returns its output, trimmed.
func (c *exportClients) sqlite3(t *testing.T, db, query string) string {
	t.Helper()
	msg, status := tool(t, c.out, "sqlite3", "-readonly", db, query)
	if status != 0 {
		t.Fatalf("sqlite3 %q: %s", query, msg)
	}
	return strings.TrimSpace(msg)
}

// nsrlRDS: the NSRL RDS database, read with sqlite3, holds every link,
// each file reaching a package, an OS and a manufacturer, answers which
// package a file is from, looks sha256 up by an index, and --repo selects
// that repository's packages only.
func (c *exportClients) nsrlRDS(t *testing.T) {
	rds := c.export(t, "rds.db", "--format", "nsrl-rds")
	want := fmt.Sprintf("%d|%d|%d", len(c.truth.links), len(c.truth.samples), len(c.truth.sources))
	if got := c.sqlite3(t, rds, "SELECT (SELECT count(*) FROM FILE), (SELECT count(DISTINCT sha256) FROM FILE), (SELECT count(*) FROM PKG)"); got != want {
		t.Fatalf("FILE rows | distinct sha256 | PKG rows = %s, want %s", got, want)
	}
	if got := c.sqlite3(t, rds, "SELECT count(*) FROM FILE f JOIN PKG p ON p.package_id = f.package_id JOIN OS o ON o.operating_system_id = p.operating_system_id JOIN MFG m ON m.manufacturer_id = p.manufacturer_id"); got != strconv.Itoa(len(c.truth.links)) {
		t.Fatalf("FILE joined with PKG, OS, MFG: %s rows, want %d", got, len(c.truth.links))
	}
	c.nsrlRDSPackagesOfFiles(t, rds)
	if got := c.sqlite3(t, rds, "EXPLAIN QUERY PLAN SELECT * FROM FILE WHERE sha256 = 'AB'"); !strings.Contains(got, "USING INDEX") {
		t.Fatalf("a lookup by sha256 does not use an index:\n%s", got)
	}
	rds = c.export(t, "rds-tree.db", "--format", "nsrl-rds", "--repo", "tree")
	if got := c.sqlite3(t, rds, "SELECT count(*), (SELECT count(*) FROM PKG) FROM FILE"); got != fmt.Sprintf("%d|1", len(c.truth.treeFile)) {
		t.Fatalf("--repo tree: FILE rows | PKG rows = %s, want %d|1", got, len(c.truth.treeFile))
	}
}

// nsrlRDSPackagesOfFiles asks the NSRL question of the RDS database rds,
// for a file of each Debian package: which package is this file from? In
// NSRL's uppercase and in lowercase; and by sha1 and md5.
func (c *exportClients) nsrlRDSPackagesOfFiles(t *testing.T, rds string) {
	t.Helper()
	for src, id := range c.truth.ids {
		if c.truth.sources[src] != "deb" {
			continue
		}
		var sample, p string
		for link := range c.truth.links {
			f := strings.SplitN(link, " ", 3)
			if f[1] == src {
				sample, p = f[0], f[2]
				break
			}
		}
		name := strings.SplitN(id, "_", 2)[0]
		for _, h := range []string{strings.ToUpper(sample), sample} {
			got := c.sqlite3(t, rds, fmt.Sprintf("SELECT DISTINCT p.name || ' ' || o.name FROM FILE f JOIN PKG p ON p.package_id = f.package_id JOIN OS o ON o.operating_system_id = p.operating_system_id WHERE f.sha256 = '%s' AND f.file_name = '%s' AND p.name = '%s'", h, path.Base(p), name))
			if got != name+" deb" {
				t.Fatalf("package of %s (%s in %s): %q, want %q", h, p, id, got, name+" deb")
			}
		}
		sha1hex := c.truth.samples[sample].sha1
		if got := c.sqlite3(t, rds, fmt.Sprintf("SELECT count(*) > 0 FROM FILE WHERE sha1 = '%s' AND md5 = '%s'", strings.ToUpper(sha1hex), strings.ToUpper(c.truth.samples[sample].md5))); got != "1" {
			t.Fatalf("lookup by sha1 and md5: %s", got)
		}
	}
}

// bloom: the Bloom filter has no false negatives, and its measured
// false-positive rate is within 2x of the one asked for.
func (c *exportClients) bloom(t *testing.T) {
	const rate = 0.01
	file := c.export(t, "set.bloom", "--format", "bloom", "--fp-rate", fmt.Sprint(rate))
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	filter, err := bloom.Read(f)
	if err != nil {
		t.Fatal(err)
	}
	for sum := range c.truth.samples {
		key, _ := hex.DecodeString(sum)
		if ok, _ := filter.Has(key); !ok {
			t.Fatalf("false negative: %s", sum)
		}
	}
	probes, positives := 200_000, 0
	key := make([]byte, 32)
	for range probes {
		rand.Read(key)
		if ok, _ := filter.Has(key); ok {
			positives++
		}
	}
	measured := float64(positives) / float64(probes)
	t.Logf("%d samples, m=%d, k=%d: false-positive rate %.4f (stated %.4f)", filter.N, filter.M, filter.K, measured, rate)
	if measured > 2*rate || measured < rate/2 {
		t.Fatalf("measured false-positive rate %.4f, stated %.4f: not within 2x", measured, rate)
	}
}

// textFormats: ndjson, csv, xways and nsrl-2 hold the stream's links.
func (c *exportClients) textFormats(t *testing.T) {
	c.ndjsonHoldsLinks(t)
	// csv: the same rows, RFC 4180.
	rows, err := csv.NewReader(bytes.NewReader(c.exportStdout(t, "--format", "csv"))).ReadAll()
	if err != nil || len(rows) != len(c.truth.links)+1 || rows[0][0] != "sha256" {
		t.Fatalf("csv: %d rows (%v), want %d and a header", len(rows), err, len(c.truth.links)+1)
	}
	for _, row := range rows[1:] {
		if !c.truth.links[row[0]+" "+row[5]+" "+row[8]] || row[6] != c.truth.sources[row[5]] {
			t.Fatalf("csv row not in the stream: %v", row)
		}
	}
	// xways: a title, then each distinct sha1 once.
	x := strings.Split(strings.TrimSpace(string(c.exportStdout(t, "--format", "xways", "--algo", "sha1"))), "\n")
	if x[0] != "SHA-1" || len(x) != len(c.truth.samples)+1 {
		t.Fatalf("xways: first line %q, %d lines for %d samples", x[0], len(x), len(c.truth.samples))
	}
	// nsrl-2: the header, one line per file name per source.
	names := map[string]bool{}
	for link := range c.truth.links {
		f := strings.SplitN(link, " ", 3)
		names[f[0]+" "+f[1]+" "+path.Base(f[2])] = true
	}
	n2 := string(c.exportStdout(t, "--format", "nsrl-2"))
	lines := strings.Split(strings.TrimSpace(n2), "\n")
	if lines[0] != `"SHA-1","MD5","CRC32","FileName","FileSize","ProductCode","OpSystemCode","SpecialCode"` || len(lines) != len(names)+1 {
		t.Fatalf("nsrl-2: header %q, %d lines, want %d", lines[0], len(lines), len(names)+1)
	}
	if !strings.Contains(n2, `"odd name, with comma.txt",29,`) {
		t.Fatalf("nsrl-2 lacks the odd name quoted with its size")
	}
}

// ndjsonHoldsLinks: the ndjson export holds every link of the stream,
// with its digests.
func (c *exportClients) ndjsonHoldsLinks(t *testing.T) {
	t.Helper()
	got := map[string]bool{}
	for _, line := range bytes.Split(bytes.TrimSpace(c.exportStdout(t, "--format", "ndjson")), []byte("\n")) {
		var f records.File
		if err := json.Unmarshal(line, &f); err != nil {
			t.Fatal(err)
		}
		if f.MD5 != c.truth.samples[f.SHA256].md5 || f.SHA1 != c.truth.samples[f.SHA256].sha1 {
			t.Fatalf("ndjson record with the wrong digests: %s", line)
		}
		got[f.SHA256+" "+f.Source+" "+f.Path] = true
	}
	if len(got) != len(c.truth.links) {
		t.Fatalf("ndjson: %d links, the stream %d", len(got), len(c.truth.links))
	}
	for link := range c.truth.links {
		if !got[link] {
			t.Fatalf("ndjson lacks %s", link)
		}
	}
}

// lookup: hashr-lookup against the database, of files, of bare hashes and
// of the pipeline's own records.
func (c *exportClients) lookup(t *testing.T) {
	extra := filepath.Join(t.TempDir(), "extra")
	writeTreeFile(t, extra, "new.bin", []byte("bytes no source holds"))
	writeTreeFile(t, extra, "copy-of-odd.txt", []byte("a file whose name needs care\n"))
	c.lookupFiles(t, extra)
	// --only unknown: just the new file.
	if got := runCmd(t, lookup.Main, nil, "--quiet", "--db", c.url, "--only", "unknown", c.fx.tree, extra); bytes.Count(got, []byte("\n")) != 1 || !bytes.Contains(got, []byte("new.bin")) {
		t.Fatalf("--only unknown: %s", got)
	}
	c.lookupBareHashes(t)
	// The pipeline's own records on stdin: every file known.
	got := runCmd(t, lookup.Main, c.fx.stream, "--quiet", "--db", c.url)
	if n, want := bytes.Count(got, []byte(`"known":true`)), bytes.Count(c.fx.stream, []byte(`"type":"file"`)); n != want || bytes.Contains(got, []byte(`"known":false`)) {
		t.Fatalf("records: %d known of %d", n, want)
	}
	if bytes.Count(got, []byte(`"type":"end"`)) != len(c.truth.sources) {
		t.Fatalf("records of other types are not passed on")
	}
}

// lookupFiles looks up the tree's files and extra's (new.bin, no source
// holds; copy-of-odd.txt, a known file's copy): each is known from where
// it came, or unknown.
func (c *exportClients) lookupFiles(t *testing.T, extra string) {
	t.Helper()
	tree := c.fx.tree
	outRecs := runCmd(t, lookup.Main, nil, "--quiet", "--db", c.url, "--batch", "50", tree, extra)
	seen := 0
	for _, line := range bytes.Split(bytes.TrimSpace(outRecs), []byte("\n")) {
		var r struct {
			Path, SHA256 string
			Known        bool
			Sources      []string
			IDs          []string
			Paths        []string
		}
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatal(err)
		}
		seen++
		rel, inTree := strings.CutPrefix(r.Path, tree+"/")
		switch {
		case inTree:
			if !r.Known || !slices.Contains(r.Sources, c.truth.treeSHA) || !slices.Contains(r.Paths, rel) || !slices.Contains(r.IDs, "tree.tar") {
				t.Fatalf("a file of the tree is not known from it: %s", line)
			}
		case strings.HasSuffix(r.Path, "/new.bin"):
			if r.Known || r.Sources != nil {
				t.Fatalf("an unknown file is known: %s", line)
			}
		case strings.HasSuffix(r.Path, "/copy-of-odd.txt"):
			if !r.Known || !slices.Contains(r.Paths, "usr/share/doc/odd name, with comma.txt") {
				t.Fatalf("a copy of a known file under another name is not known: %s", line)
			}
		}
	}
	if seen != len(c.truth.treeFile)+2 {
		t.Fatalf("%d records for %d files", seen, len(c.truth.treeFile)+2)
	}
}

// lookupBareHashes looks up bare hashes on stdin, as sha256sum and md5sum
// print them: the tree's are known, an unknown sha1 is reported unknown.
func (c *exportClients) lookupBareHashes(t *testing.T) {
	t.Helper()
	var in bytes.Buffer
	for p, sum := range c.truth.treeFile {
		fmt.Fprintf(&in, "%s  %s\n", sum, p)
		fmt.Fprintf(&in, "%s\n", c.truth.samples[sum].md5)
	}
	unknown := sha1.Sum([]byte("unknown"))
	fmt.Fprintf(&in, "%s *unknown.bin\n", hex.EncodeToString(unknown[:]))
	got := runCmd(t, lookup.Main, in.Bytes(), "--quiet", "--db", c.url)
	if n := bytes.Count(got, []byte(`"known":true`)); n != 2*len(c.truth.treeFile) {
		t.Fatalf("bare hashes: %d known, want %d", n, 2*len(c.truth.treeFile))
	}
	if !bytes.Contains(got, []byte(`{"type":"hash","sha1":"`+hex.EncodeToString(unknown[:])+`","path":"unknown.bin","known":false}`)) {
		t.Fatalf("bare hashes: the unknown sha1 is not reported unknown:\n%s", got)
	}
}

// The Bloom filter answers hashr-lookup --bloom offline, with no false
// negatives.
func TestLookupBloomOffline(t *testing.T) {
	fx := newExportFixture(t)
	url := "sqlite:" + filepath.Join(fx.work, "hashr.db")
	stage(t, load.Main, fx.stream, "--quiet", "--db", url)
	filter := filepath.Join(fx.work, "set.bloom")
	runCmd(t, export.Main, nil, "--quiet", "--db", url, "--format", "bloom", "--fp-rate", "0.0001", "-o", filter)
	got := runCmd(t, lookup.Main, nil, "--quiet", "--bloom", filter, fx.tree)
	if n := bytes.Count(got, []byte(`"known":true`)); n != len(fx.truth.treeFile) {
		t.Fatalf("--bloom: %d of %d files known", n, len(fx.truth.treeFile))
	}
	var in bytes.Buffer
	for i := range 1000 {
		sum := sha256.Sum256([]byte(strconv.Itoa(i)))
		fmt.Fprintf(&in, "%x\n", sum)
	}
	got = runCmd(t, lookup.Main, in.Bytes(), "--quiet", "--bloom", filter)
	if n := bytes.Count(got, []byte(`"known":true`)); n > 2 {
		t.Fatalf("--bloom at 1 in 10,000: %d of 1000 unknown hashes known", n)
	}
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
