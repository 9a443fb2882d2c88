// Command loadbench times hashr-load against a baseline that writes the
// same records the way HashR's PostgreSQL exporter does: for each source,
// check the source exists, insert or update it; for each sample, check it
// exists, insert it, check its relation to the source exists, insert or
// update that; every statement its own round trip and autocommit
// transaction. (HashR also runs file(1) on each new sample; the baseline
// leaves that out, so it measures HashR's SQL alone.)
//
// It starts its own PostgreSQL server from the system's binaries, with
// PostgreSQL's default durability (fsync on), generates a stream of file
// records over many sources with overlapping samples, and loads it into:
// PostgreSQL (native schema, and HashR's schema), SQLite, and the baseline
// (HashR's schema) — all in the same run — then prints the ratios.
//
//	go run ./bench/loadbench [-sources 2000] [-files 100]
package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/db/pgtest"
	"github.com/hashr-dev/hashr/internal/load"
	"github.com/hashr-dev/hashr/pkg/records"
)

func main() {
	if os.Getenv(asHashrLoad) != "" {
		cli.Exec(load.HugeHeap, load.Main)
	}
	sources := flag.Int("sources", 2000, "sources in the stream")
	files := flag.Int("files", 100, "file records per source")
	shared := flag.Float64("shared", 0.4, "share of file records whose content other sources have too")
	baselineSources := flag.Int("baseline-sources", 0, "sources the baseline loads (0: all; fewer to save time, its rate is per record)")
	only := flag.String("only", "", "run only the loaders whose name holds this text (the baseline always runs)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of this process to the file")
	vsCopy := flag.Int("vs-copy", 0, "instead of the baseline: this many rounds of hashr-load, hashr-load --bulk and a raw COPY of the rows they end with")
	bulk := flag.Bool("bulk", true, "with -vs-copy, time hashr-load --bulk too")
	flag.StringVar(&externalDB, "db", "", "with -vs-copy: load this database (emptied before each run; e.g. a Citus coordinator's) instead of fresh ones on a PostgreSQL of its own; server CPU is not measured")
	preload := flag.Float64("preload", 0, "with -vs-copy: before each run the database holds other sources with this share of the stream's file records' samples (a load into a database that is not empty; COPY writes only the rows hashr-load adds)")
	flag.BoolVar(&settleRuns, "settle", false, "with -vs-copy: autovacuum off, and before each timed run, untimed: hashr-load's tables created (as COPY's are), the database loaded last vacuumed and analysed, CHECKPOINT; so that each window holds its own rows' work and no earlier run's")
	flag.BoolVar(&copyTwice, "copy-twice", false, "with -vs-copy: also time the same rows by COPY in two connections at once, each half of the samples and their links: what two write streams get from the server")
	flag.BoolVar(&serverStats, "server-stats", false, "with -vs-copy: print what the server did in each loader's first run, per statement and per record (pg_stat_statements, pg_stat_wal)")
	binaries := flag.String("binaries", "", "with -vs-copy: name=path,... hashr-load binaries to time in turn (e.g. main's and this branch's) instead of this process's")
	writeStream := flag.String("write-stream", "", "write the stream of records to this file and exit (to count a hashr-load's instructions or allocations on it)")
	flag.Parse()
	if *writeStream != "" {
		if err := os.WriteFile(*writeStream, stream(generate(*sources, *files, *shared)), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "loadbench:", err)
			os.Exit(1)
		}
		return
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadbench:", err)
			os.Exit(1)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	var err error
	if *vsCopy > 0 {
		err = vsCopyRun(*sources, *files, *shared, *preload, *vsCopy, *bulk, *binaries)
	} else {
		err = run(*sources, *files, *shared, *baselineSources, *only)
	}
	if err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "loadbench:", err)
		os.Exit(1)
	}
}

// sample is one file's content, identified by its digests.
type sample struct {
	sha256, sha1, md5 string
	size              int64
}

type benchSource struct {
	id, sha256, quick string
	paths             []string
	samples           []sample
}

func makeSample(content string) sample {
	a, b, c := sha256.Sum256([]byte(content)), sha1.Sum([]byte(content)), md5.Sum([]byte(content))
	return sample{hex.EncodeToString(a[:]), hex.EncodeToString(b[:]), hex.EncodeToString(c[:]), int64(len(content)) * 37}
}

func generate(n, perSource int, shared float64) []benchSource {
	r := rand.New(rand.NewPCG(42, 42))
	pool := make([]sample, n*perSource/10) // contents common to many sources
	for i := range pool {
		pool[i] = makeSample(fmt.Sprintf("shared content %d", i))
	}
	out := make([]benchSource, n)
	for i := range out {
		s := &out[i]
		s.id = fmt.Sprintf("package-%05d_1.0-1_amd64.deb", i)
		s.sha256 = makeSample("source " + s.id).sha256
		s.quick = makeSample("quick " + s.id).sha256
		for j := range perSource {
			s.paths = append(s.paths, fmt.Sprintf("usr/lib/package-%05d/dir%02d/file-%03d.so", i, j%7, j))
			if r.Float64() < shared {
				s.samples = append(s.samples, pool[r.IntN(len(pool))])
			} else {
				s.samples = append(s.samples, makeSample(fmt.Sprintf("unique content %d/%d", i, j)))
			}
		}
	}
	return out
}

func stream(sources []benchSource) []byte {
	var buf bytes.Buffer
	w := records.NewWriter(&buf)
	for _, s := range sources {
		w.Write(&records.Source{Repo: "deb", RepoPath: "/mirror", ID: s.id, URI: "/mirror/" + s.id, Format: "deb",
			Size: records.Int64(123456), Mtime: "2024-05-01T10:00:00Z", QuickSHA256: s.quick, SHA256: s.sha256})
		for j, f := range s.samples {
			w.Write(&records.File{Source: s.sha256, Path: s.paths[j], Size: records.Int64(f.size), Mode: "0644",
				MD5: f.md5, SHA1: f.sha1, SHA256: f.sha256, MIME: "application/x-sharedlib", Seen: records.Bool(false)})
		}
		w.Write(&records.End{Source: s.sha256, Files: int64(len(s.samples)), Bytes: 1000, MS: map[string]int64{"extract": 10, "hash": 5}})
	}
	w.Flush()
	return buf.Bytes()
}

type result struct {
	name      string
	records   int
	took      time.Duration
	clientCPU time.Duration // hashr-load's process, or the baseline's client (this process)
	serverCPU time.Duration // PostgreSQL's processes
	url       string        // the database it loaded (-vs-copy's COPY)
}

// cpuMeter measures the processor time of this process and of the server.
type cpuMeter struct {
	pg             *pgtest.Server
	client, server time.Duration
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU(pg *pgtest.Server) cpuMeter {
	if pg == nil { // -db: another machine's, or many servers'
		return cpuMeter{client: processCPU()}
	}
	server, _ := pg.CPUTime()
	return cpuMeter{pg: pg, client: processCPU(), server: server}
}

func (m cpuMeter) stop(r *result) {
	r.clientCPU = processCPU() - m.client
	if m.pg == nil {
		return
	}
	server, _ := m.pg.CPUTime()
	r.serverCPU = server - m.server
}

func (r result) rate() float64 { return float64(r.records) / r.took.Seconds() }

// spreadRounds is how many times each of our loaders runs: once before the
// baseline, between its quarters and after it.
const spreadRounds = 5

// A timedLoader is one way of running hashr-load that the bench times.
type timedLoader struct {
	name   string
	sqlite bool
	args   []string
}

var timedLoaders = []timedLoader{
	{"hashr-load, PostgreSQL", false, nil},
	{"hashr-load --schema hashr, PostgreSQL", false, []string{"--schema", "hashr"}},
	{"hashr-load, SQLite", true, nil},
}

// A loadRun is the state of one run of the bench: the server, the
// stream, and what each loader measured.
type loadRun struct {
	pg      *pgtest.Server
	tmp     string
	input   []byte
	records int
	only    string   // run only the loaders whose name holds this
	extra   []string // LOADBENCH_ARGS, e.g. "--batch 10000", for tuning
	ours    [][]result
}

func run(nSources, perSource int, shared float64, baselineSources int, only string) error {
	fmt.Fprintf(os.Stderr, "generating %d sources x %d files...\n", nSources, perSource)
	sources := generate(nSources, perSource, shared)
	pg, err := pgtest.StartDurable()
	if err != nil {
		return fmt.Errorf("starting PostgreSQL: %w", err)
	}
	defer pg.Close()
	tmp, err := os.MkdirTemp("", "loadbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	lr := &loadRun{pg: pg, tmp: tmp, input: stream(sources), records: nSources * perSource, only: only,
		extra: strings.Fields(os.Getenv("LOADBENCH_ARGS")), ours: make([][]result, len(timedLoaders))}
	if baselineSources <= 0 || baselineSources > nSources {
		baselineSources = nSources
	}
	bl, err := newBaselines(pg, baselineSources, min(baselineSources, max(nSources/5, spreadRounds-1)), perSource)
	if err != nil {
		return err
	}
	loadStart, _ := os.ReadFile("/proc/loadavg")
	// The machine may be shared, and its load change by the minute: our
	// loaders run once before the baseline, between its quarters and after
	// it, and their median is set against the baseline's total, measured
	// over the same span of time.
	for round := range spreadRounds {
		if err := lr.runOurs(round); err != nil {
			return err
		}
		if round < spreadRounds-1 {
			if err := bl.runQuarter(round, sources); err != nil {
				return err
			}
		}
	}
	loadEnd, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("Load %d file records of %d sources (%.0f%% of records share content with other sources); %s, %d CPUs, PostgreSQL %s with fsync on; load average %s at the start, %s at the end.\n\n",
		lr.records, nSources, shared*100, runtime.GOARCH, runtime.NumCPU(), serverVersion(bl.baseDB),
		strings.Join(strings.Fields(string(loadStart))[:3], " "), strings.Join(strings.Fields(string(loadEnd))[:3], " "))
	lr.printTable(bl)
	return nil
}

// runOurs runs each of our loaders that -only selects once, into a new
// database.
func (lr *loadRun) runOurs(round int) error {
	for i, ld := range timedLoaders {
		if !strings.Contains(ld.name, lr.only) {
			continue
		}
		r, err := lr.runLoader(round, ld)
		if err != nil {
			return err
		}
		lr.ours[i] = append(lr.ours[i], r)
	}
	return nil
}

// runLoader runs hashr-load in this process the way ld says, over the
// whole stream into a new database, and returns what it measured.
func (lr *loadRun) runLoader(round int, ld timedLoader) (result, error) {
	dbURL := "sqlite:" + filepath.Join(lr.tmp, fmt.Sprintf("hashr-%d.db", round))
	if !ld.sqlite {
		var err error
		if dbURL, err = lr.pg.CreateDatabase(); err != nil {
			return result{}, err
		}
	}
	fmt.Fprintf(os.Stderr, "round %d: %s...\n", round+1, ld.name)
	cpu := startCPU(lr.pg)
	start := time.Now()
	args := append(append([]string{"--db", dbURL, "--quiet"}, ld.args...), lr.extra...)
	clientCPU, err := runLoader("", args, lr.input)
	if err != nil {
		return result{}, fmt.Errorf("%s: %w", ld.name, err)
	}
	r := result{name: ld.name, records: lr.records, took: time.Since(start)}
	cpu.stop(&r)
	r.clientCPU = clientCPU
	if ld.sqlite {
		os.Remove(strings.TrimPrefix(dbURL, "sqlite:"))
	}
	return r, nil
}

// hashrTables returns a new database with HashR's tables, created the way
// hashr-load --schema hashr does.
func hashrTables(pg *pgtest.Server) (string, error) {
	url, err := pg.CreateDatabase()
	if err != nil {
		return "", err
	}
	if status := load.Main([]string{"--db", url, "--schema", "hashr", "--quiet"}, bytes.NewReader(nil), io.Discard, os.Stderr); status != 0 {
		return "", fmt.Errorf("creating HashR's tables: exit %d", status)
	}
	return url, nil
}

// baselines are the two ways of HashR's exporter's SQL, each into a
// database of its own, and what they measured so far.
type baselines struct {
	pg               *pgtest.Server
	baseDB, cachedDB string
	baseN, cachedN   int // sources each loads, over all quarters
	base, cached     result
	samples          int // samples the baseline wrote
}

func newBaselines(pg *pgtest.Server, baseN, cachedN, perSource int) (*baselines, error) {
	baseDB, err := hashrTables(pg)
	if err != nil {
		return nil, err
	}
	cachedDB, err := hashrTables(pg)
	if err != nil {
		return nil, err
	}
	return &baselines{pg: pg, baseDB: baseDB, cachedDB: cachedDB, baseN: baseN, cachedN: cachedN,
		base:   result{name: "baseline: HashR exporter's SQL, as lib/pq sends it", records: baseN * perSource},
		cached: result{name: "the same statements, prepared once (not HashR's way)", records: cachedN * perSource}}, nil
}

// runQuarter loads the round's quarter of the baseline's sources, and of
// the cached baseline's, adding their times to the totals.
func (bl *baselines) runQuarter(round int, sources []benchSource) error {
	part := func(n int) (int, int) { return n * round / (spreadRounds - 1), n * (round + 1) / (spreadRounds - 1) }
	a, b := part(bl.baseN)
	fmt.Fprintf(os.Stderr, "baseline, sources %d to %d...\n", a, b)
	// HashR's driver, lib/pq, sends each statement with parameters as
	// an unnamed Parse+Describe, then Bind+Execute: two round trips,
	// parsed and planned every time. pgx's describe_exec mode does too.
	n, err := bl.timeInto(&bl.base, bl.baseDB+"&default_query_exec_mode=describe_exec", sources[a:b])
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	bl.samples += n
	// The same statements with prepared statements cached (pgx's
	// default), which HashR does not do, on a share of the sources.
	a, b = part(bl.cachedN)
	if _, err := bl.timeInto(&bl.cached, bl.cachedDB, sources[a:b]); err != nil {
		return fmt.Errorf("baseline with cached statements: %w", err)
	}
	return nil
}

// timeInto runs the baseline over sources into url and adds its time and
// CPU to total; it returns the samples written.
func (bl *baselines) timeInto(total *result, url string, sources []benchSource) (int, error) {
	cpu := startCPU(bl.pg)
	took, n, err := baseline(url, sources)
	if err != nil {
		return 0, err
	}
	var r result
	cpu.stop(&r)
	total.took, total.clientCPU, total.serverCPU = total.took+took, total.clientCPU+r.clientCPU, total.serverCPU+r.serverCPU
	return n, nil
}

// printTable prints each loader's median run, and the baselines, against
// the baseline's rate.
func (lr *loadRun) printTable(bl *baselines) {
	fmt.Printf("hashr-load: median of %d runs spread over the baseline's time (the range in brackets).\n\n", spreadRounds)
	fmt.Println("| loader | records | time | records/s | vs baseline | CPU s: client + server |")
	fmt.Println("|---|---:|---:|---:|---:|---:|")
	base := bl.base
	for _, runs := range lr.ours {
		if len(runs) == 0 {
			continue
		}
		slices.SortFunc(runs, func(a, b result) int { return cmp.Compare(a.took, b.took) })
		r := runs[len(runs)/2]
		fmt.Printf("| %s | %d | %.1f s | %.0f (%.0f–%.0f) | %.1fx | %.1f + %.1f |\n", r.name, r.records, r.took.Seconds(), r.rate(),
			runs[len(runs)-1].rate(), runs[0].rate(), r.rate()/base.rate(), r.clientCPU.Seconds(), r.serverCPU.Seconds())
	}
	for _, r := range []result{base, bl.cached} {
		fmt.Printf("| %s | %d | %.1f s | %.0f | %.1fx | %.1f + %.1f |\n", r.name, r.records, r.took.Seconds(), r.rate(),
			r.rate()/base.rate(), r.clientCPU.Seconds(), r.serverCPU.Seconds())
	}
	fmt.Printf("\nThe baseline wrote %d samples (grouped per source, as HashR's exporter gets them): %.0f samples/s.\n",
		bl.samples, float64(bl.samples)/base.took.Seconds())
}

func serverVersion(url string) string {
	sqldb, err := sql.Open("pgx", url)
	if err != nil {
		return "?"
	}
	defer sqldb.Close()
	var v string
	sqldb.QueryRow("SHOW server_version").Scan(&v)
	return v
}

// baseline writes the sources the way HashR's exporter does, statement by
// statement, each one autocommitted. It returns the time taken and the
// number of samples written.
func baseline(url string, sources []benchSource) (time.Duration, int, error) {
	sqldb, err := sql.Open("pgx", url)
	if err != nil {
		return 0, 0, err
	}
	defer sqldb.Close()
	sqldb.SetMaxOpenConns(1)
	x := exporter{db: sqldb, ctx: context.Background()}
	written := 0
	var took time.Duration
	for _, s := range sources {
		// HashR's exporter receives a source's samples with their paths
		// grouped; grouping is not SQL, so it is not timed.
		groups := groupSamples(s)
		start := time.Now()
		if err := x.writeSource(s); err != nil {
			return 0, 0, err
		}
		for _, g := range groups {
			if err := x.writeSample(s, g); err != nil {
				return 0, 0, err
			}
			written++
		}
		took += time.Since(start)
	}
	return took, written, nil
}

// A sampleGroup is one content of a source and the paths it has there.
type sampleGroup struct {
	sample sample
	paths  []string
}

// groupSamples groups a source's paths by content, in the order each
// content first comes.
func groupSamples(s benchSource) []*sampleGroup {
	var order []*sampleGroup
	bySHA := map[string]*sampleGroup{}
	for j, f := range s.samples {
		g := bySHA[f.sha256]
		if g == nil {
			g = &sampleGroup{sample: f}
			bySHA[f.sha256] = g
			order = append(order, g)
		}
		g.paths = append(g.paths, s.paths[j])
	}
	return order
}

// An exporter sends HashR's PostgreSQL exporter's statements, one at a
// time, each autocommitted.
type exporter struct {
	db  *sql.DB
	ctx context.Context
}

// exists says whether query finds a row.
func (x exporter) exists(query string, args ...any) (bool, error) {
	rows, err := x.db.QueryContext(x.ctx, query, args...)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	return rows.Next(), rows.Err()
}

// writeSource inserts the source, or adds its ID to the source there.
func (x exporter) writeSource(s benchSource) error {
	there, err := x.exists(`SELECT sha256 FROM sources WHERE sha256=$1;`, s.sha256)
	if err != nil {
		return err
	}
	if !there {
		_, err = x.db.ExecContext(x.ctx, `INSERT INTO sources (sha256, sourceID, sourcePath, repoName, repoPath, sourceDescription) VALUES ($1, $2, $3, $4, $5, $6)`,
			s.sha256, []string{s.id}, "/mirror/"+s.id, "deb", "/mirror", "")
	} else {
		_, err = x.db.ExecContext(x.ctx, `UPDATE sources set sourceID = array_append(sourceID, $1) WHERE sha256 = $2`, s.id, s.sha256)
	}
	return err
}

// writeSample inserts the sample if it is new, then its relation to the
// source, or adds its paths to the relation there.
func (x exporter) writeSample(s benchSource, g *sampleGroup) error {
	sha := g.sample.sha256
	there, err := x.exists(`SELECT sha256 FROM samples WHERE sha256=$1;`, sha)
	if err != nil {
		return err
	}
	if !there {
		if _, err := x.db.ExecContext(x.ctx, `INSERT INTO samples (sha256, size, mimetype, file_output) VALUES ($1, $2, $3, $4)`,
			sha, g.sample.size, "application/x-sharedlib", "ELF 64-bit LSB shared object"); err != nil {
			return err
		}
	}
	there, err = x.exists(`SELECT sample_sha256,source_sha256 FROM samples_sources WHERE sample_sha256=$1 AND source_sha256=$2;`, sha, s.sha256)
	if err != nil {
		return err
	}
	if !there {
		_, err = x.db.ExecContext(x.ctx, `INSERT INTO samples_sources (sample_sha256, source_sha256, sample_paths) VALUES ($1, $2, $3)`, sha, s.sha256, g.paths)
	} else {
		_, err = x.db.ExecContext(x.ctx, `UPDATE samples_sources set sample_paths = array_cat(sample_paths, $1) WHERE sample_sha256 = $2 AND source_sha256 = $3`, g.paths, sha, s.sha256)
	}
	return err
}
