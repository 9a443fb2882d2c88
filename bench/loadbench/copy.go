package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hashr-dev/hashr/internal/db/pgtest"
	"github.com/hashr-dev/hashr/internal/load"
)

// The engine's limit: the rows hashr-load ends with, written by COPY
// straight into the same tables with the same indexes (created by
// hashr-load itself), one transaction, no staging, no conflict checks.
// hashr-load's rate against it says how much of the load is hashr's own.
var finalTables = []string{"sources", "samples", "samples_sources", "jobs"}

// dumpTables reads the final tables of a loaded database in COPY's binary
// format.
func dumpTables(ctx context.Context, url string) (map[string][]byte, error) {
	return dumpRows(ctx, url, func(table string) string { return table })
}

// dumpRows reads, for each final table, the rows of what from(table)
// names in COPY's binary format: the table, a query in parentheses, or
// nothing ("").
func dumpRows(ctx context.Context, url string, from func(table string) string) (map[string][]byte, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	out := map[string][]byte{}
	for _, t := range finalTables {
		source := from(t)
		if source == "" {
			continue
		}
		var buf bytes.Buffer
		if _, err := conn.PgConn().CopyTo(ctx, &buf, "COPY "+source+" TO STDOUT (FORMAT binary)"); err != nil {
			return nil, fmt.Errorf("dumping %s: %w", source, err)
		}
		out[t] = buf.Bytes()
	}
	return out, nil
}

// copyTwice (-copy-twice): -vs-copy also times the rows by COPY in two
// connections at once.
var copyTwice bool

// dumpHalves reads the final tables of a loaded database in two halves
// by the sample's sha256 (its first bit): samples and their links, no
// row of one half meeting a row of the other, as two loaders writing
// disjoint samples would; sources and jobs (2,000 rows each) in the
// first.
func dumpHalves(ctx context.Context, url string) ([2]map[string][]byte, error) {
	var halves [2]map[string][]byte
	key := map[string]string{"samples": "sha256", "samples_sources": "sample_sha256"}
	for half, cond := range []string{"< 128", ">= 128"} {
		var err error
		halves[half], err = dumpRows(ctx, url, func(table string) string {
			switch {
			case key[table] != "":
				return "(SELECT * FROM " + table + " WHERE get_byte(" + key[table] + ", 0) " + cond + ")"
			case half == 1:
				return ""
			}
			return table
		})
		if err != nil {
			return halves, fmt.Errorf("dumping half %d: %w", half, err)
		}
	}
	return halves, nil
}

// copyTables writes the dumped rows into url's tables in one transaction
// and returns the time it took.
func copyTables(ctx context.Context, url string, dump map[string][]byte) (time.Duration, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	start := time.Now()
	tx, err := conn.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(ctx)
	for _, t := range finalTables {
		rows, ok := dump[t]
		if !ok { // a half (dumpHalves) holds no sources or jobs
			continue
		}
		if _, err := conn.PgConn().CopyFrom(ctx, bytes.NewReader(rows), "COPY "+t+" FROM STDIN (FORMAT binary)"); err != nil {
			return 0, fmt.Errorf("copying into %s: %w", t, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// emptySchema creates a database with hashr-load's native tables and no rows.
func emptySchema(pg *pgtest.Server) (string, error) {
	url, err := freshDatabase(pg)
	if err != nil {
		return "", err
	}
	var stderr bytes.Buffer
	if status := load.Main([]string{"--db", url, "--quiet"}, bytes.NewReader(nil), io.Discard, &stderr); status != 0 {
		return "", fmt.Errorf("creating the tables: exit %d: %s", status, stderr.String())
	}
	return url, nil
}

// runVsCopy times hashr-load, hashr-load --bulk and a raw COPY of the rows
// they end with into the same indexed tables, in turn, rounds times, and
// prints the medians and ratios.
// With preload (-preload), each run's database first holds that slice,
// and COPY writes only the rows hashr-load added to it.
func runVsCopy(pg *pgtest.Server, input, preload []byte, records, rounds int, bulk bool, binaries string, extra []string) error {
	if copyTwice && preload != nil {
		return fmt.Errorf("-copy-twice: not with -preload")
	}
	v := &vsCopy{ctx: context.Background(), pg: pg, input: input, preload: preload, records: records, extra: extra}
	kinds := loaderKinds(binaries, bulk)
	runs := make([][]result, len(kinds)+1)
	if copyTwice {
		runs = append(runs, nil)
	}
	loadStart, _ := os.ReadFile("/proc/loadavg")
	for round := range rounds {
		for i, k := range kinds {
			r, err := v.load(k, round)
			if err != nil {
				return err
			}
			runs[i] = append(runs[i], r)
		}
		if copyTwice {
			r, err := copyTwiceRound(v.ctx, pg, v.halves, records, v.lastURL)
			if err != nil {
				return err
			}
			v.lastURL = r.url
			runs[len(kinds)] = append(runs[len(kinds)], r)
		}
		r, err := copyRound(v.ctx, pg, v.dump, preload, records, round, v.lastURL)
		if err != nil {
			return err
		}
		v.lastURL = r.url
		runs[len(runs)-1] = append(runs[len(runs)-1], r)
	}
	printVsCopy(pg, runs, records, rounds, loadStart)
	return nil
}

// vsCopy is what every run of -vs-copy needs: the stream, the preload, the
// rows COPY writes (those the first loader's first run ended with), and
// the database loaded last, which settle vacuums.
type vsCopy struct {
	ctx            context.Context
	pg             *pgtest.Server
	input, preload []byte
	records        int
	extra          []string
	dump           map[string][]byte
	halves         [2]map[string][]byte // -copy-twice
	lastURL        string
}

// load times loader k once, in round, into a fresh database.
func (v *vsCopy) load(k loaderKind, round int) (result, error) {
	url, err := freshDatabase(v.pg)
	if err != nil {
		return result{}, err
	}
	if err := preloadInto(url, v.preload); err != nil {
		return result{}, err
	}
	var before map[string][]byte
	if v.dump == nil && v.preload != nil {
		if before, err = dumpTables(v.ctx, url); err != nil {
			return result{}, err
		}
	}
	if err := k.settleBefore(v.pg, url, v.lastURL); err != nil {
		return result{}, err
	}
	v.lastURL = url
	if err := startStats(v.pg, round); err != nil {
		return result{}, err
	}
	fmt.Fprintf(os.Stderr, "round %d: %s...\n", round+1, k.name)
	r, err := k.time(v.pg, url, v.input, v.extra)
	if err != nil {
		return result{}, err
	}
	if err := printStats(v.pg, round, k.name, url, v.records); err != nil {
		return result{}, err
	}
	r.records = v.records
	if v.dump == nil {
		return r, v.keepRows(url, before)
	}
	return r, nil
}

// keepRows keeps the rows the database at url ends with, less those it
// held before (the preload), for COPY to write.
func (v *vsCopy) keepRows(url string, before map[string][]byte) error {
	dump, err := dumpTables(v.ctx, url)
	if err != nil {
		return err
	}
	if copyTwice {
		if v.halves, err = dumpHalves(v.ctx, url); err != nil {
			return err
		}
	}
	if before != nil {
		if dump, err = addedRows(before, dump); err != nil {
			return err
		}
	}
	v.dump = dump
	return nil
}

// copyRound writes the dumped rows by COPY into a database of the same
// tables, holding the preload, and measures it.
// last is the database loaded before it, which -settle vacuums.
func copyRound(ctx context.Context, pg *pgtest.Server, dump map[string][]byte, preload []byte, records, round int, last string) (result, error) {
	url, err := emptySchema(pg)
	if err != nil {
		return result{}, err
	}
	if err := preloadInto(url, preload); err != nil {
		return result{}, err
	}
	if err := settle(pg, last); err != nil {
		return result{}, err
	}
	if err := startStats(pg, round); err != nil {
		return result{}, err
	}
	fmt.Fprintf(os.Stderr, "round %d: COPY...\n", round+1)
	cpu := startCPU(pg)
	took, err := copyTables(ctx, url, dump)
	if err != nil {
		return result{}, err
	}
	r := result{name: copyName(preload), records: records, took: took, url: url}
	cpu.stop(&r)
	return r, printStats(pg, round, "raw COPY", url, records)
}

// copyTwiceRound writes the two halves by COPY into a database of the
// same tables, each in a transaction of its own on a connection of its
// own, at once, and measures both.
func copyTwiceRound(ctx context.Context, pg *pgtest.Server, halves [2]map[string][]byte, records int, last string) (result, error) {
	url, err := emptySchema(pg)
	if err != nil {
		return result{}, err
	}
	if err := settle(pg, last); err != nil {
		return result{}, err
	}
	fmt.Fprintln(os.Stderr, "COPY in two connections at once...")
	cpu := startCPU(pg)
	start := time.Now()
	var errs [2]error
	var wg sync.WaitGroup
	for i, half := range halves {
		wg.Go(func() { _, errs[i] = copyTables(ctx, url, half) })
	}
	wg.Wait()
	if err := errors.Join(errs[:]...); err != nil {
		return result{}, err
	}
	r := result{name: "raw COPY of the same rows in two connections at once (halves by sha256)", records: records, took: time.Since(start), url: url}
	cpu.stop(&r)
	return r, nil
}

// copyName is the COPY run's row in the table.
func copyName(preload []byte) string {
	if preload != nil {
		return "raw COPY of the rows hashr-load added, into the same indexed tables"
	}
	return "raw COPY of the final rows into the same indexed tables"
}

// printVsCopy prints the medians of runs, the last of them COPY's, and
// each one's rate as a share of COPY's.
func printVsCopy(pg *pgtest.Server, runs [][]result, records, rounds int, loadStart []byte) {
	loadEnd, _ := os.ReadFile("/proc/loadavg")
	median := func(rs []result) result {
		slices.SortFunc(rs, func(a, b result) int { return cmp.Compare(a.took, b.took) })
		return rs[len(rs)/2]
	}
	copyRate := median(runs[len(runs)-1]).rate()
	fmt.Printf("%d file records; PostgreSQL %s with fsync on; load average %s at the start, %s at the end; median of %d rounds, each loader in turn.\n\n",
		records, serverVersion(serverURL(pg)), strings.Join(strings.Fields(string(loadStart))[:3], " "),
		strings.Join(strings.Fields(string(loadEnd))[:3], " "), rounds)
	fmt.Println("| loader | time | records/s (range) | vs COPY | CPU s: client + server |")
	fmt.Println("|---|---:|---:|---:|---:|")
	for _, rs := range runs {
		r := median(rs)
		fmt.Printf("| %s | %.1f s | %.0f (%.0f–%.0f) | %.0f%% | %.1f + %.1f |\n", r.name, r.took.Seconds(), r.rate(),
			rs[len(rs)-1].rate(), rs[0].rate(), 100*r.rate()/copyRate, r.clientCPU.Seconds(), r.serverCPU.Seconds())
	}
}

func vsCopyRun(nSources, perSource int, shared, preloadShare float64, rounds int, bulk bool, binaries string) error {
	fmt.Fprintf(os.Stderr, "generating %d sources x %d files...\n", nSources, perSource)
	sources := generate(nSources, perSource, shared)
	input := stream(sources)
	var preload []byte
	if preloadShare > 0 {
		preload = stream(generatePreload(sources, preloadShare))
	}
	if externalDB != "" {
		return runVsCopy(nil, input, preload, nSources*perSource, rounds, bulk, binaries, strings.Fields(os.Getenv("LOADBENCH_ARGS")))
	}
	var settings []string
	if serverStats {
		settings = serverStatsSettings
	}
	pg, err := pgtest.StartDurable(settings...)
	if err != nil {
		return fmt.Errorf("starting PostgreSQL: %w", err)
	}
	defer pg.Close()
	if dst := os.Getenv("LOADBENCH_LOG"); dst != "" { // per-statement durations in the server's log, for profiling
		save, err := logStatements(pg, dst)
		if err != nil {
			return err
		}
		defer func() {
			if err := save(); err != nil {
				fmt.Fprintln(os.Stderr, "loadbench:", err)
			}
		}()
	}
	if os.Getenv("LOADBENCH_KEEP") != "" { // load once, keep the server for experiments until the file named exists
		url, err := pg.CreateDatabase()
		if err != nil {
			return err
		}
		if status := load.Main([]string{"--db", url, "--quiet"}, bytes.NewReader(input), io.Discard, os.Stderr); status != 0 {
			return fmt.Errorf("exit %d", status)
		}
		fmt.Println(url)
		for {
			if _, err := os.Stat(os.Getenv("LOADBENCH_KEEP")); err == nil {
				return nil
			}
			time.Sleep(time.Second)
		}
	}
	if err := settleServer(pg); err != nil {
		return err
	}
	return runVsCopy(pg, input, preload, nSources*perSource, rounds, bulk, binaries, strings.Fields(os.Getenv("LOADBENCH_ARGS")))
}

// A loaderKind is one way of running hashr-load that -vs-copy times, in a
// process of its own as a user runs it: this binary as hashr-load
// (asHashrLoad), or a hashr-load binary (-binaries: main's beside this
// branch's, alternating in every round).
type loaderKind struct {
	name   string
	binary string // "" runs this binary as hashr-load
	args   []string
}

// asHashrLoad, set in a child's environment, makes this binary hashr-load
// (cli.Exec, as cmd/hashr-load's main runs it): timed in this process,
// hashr-load would share its heap, and not start fresh as the command
// does.
const asHashrLoad = "LOADBENCH_AS_HASHR_LOAD"

// loaderKinds are hashr-load, and --bulk, for this binary or for each
// name=path of binaries.
func loaderKinds(binaries string, bulk bool) []loaderKind {
	type binary struct{ name, path string }
	bins := []binary{{"hashr-load", ""}}
	if binaries != "" {
		bins = nil
		for _, nb := range strings.Split(binaries, ",") {
			name, path, _ := strings.Cut(nb, "=")
			bins = append(bins, binary{"hashr-load (" + name + ")", path})
		}
	}
	var kinds []loaderKind
	for _, b := range bins {
		kinds = append(kinds, loaderKind{b.name, b.path, nil})
	}
	if bulk {
		for _, b := range bins {
			kinds = append(kinds, loaderKind{b.name + " --bulk", b.path, []string{"--bulk"}})
		}
	}
	return kinds
}

// time loads input into url once and measures it.
func (k loaderKind) time(pg *pgtest.Server, url string, input []byte, extra []string) (result, error) {
	args := append(append([]string{"--db", url, "--quiet"}, k.args...), extra...)
	cpu := startCPU(pg)
	start := time.Now()
	clientCPU, err := runLoader(k.binary, args, input)
	if err != nil {
		return result{}, fmt.Errorf("%s: %w", k.name, err)
	}
	r := result{name: k.name, took: time.Since(start)}
	cpu.stop(&r)
	r.clientCPU = clientCPU
	return r, nil
}

// runLoader runs hashr-load over input, binary or ("") this binary as
// hashr-load, and returns its processor time (the child's rusage).
func runLoader(binary string, args []string, input []byte) (time.Duration, error) {
	cmd := exec.Command(binary, args...)
	if binary == "" {
		self, err := os.Executable()
		if err != nil {
			return 0, fmt.Errorf("finding this binary to run as hashr-load: %w", err)
		}
		cmd = exec.Command(self, args...)
		cmd.Env = append(os.Environ(), asHashrLoad+"=1")
	}
	var stderr bytes.Buffer
	cmd.Stdin, cmd.Stderr = bytes.NewReader(input), &stderr
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("%w: %s", err, stderr.String())
	}
	return cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), nil
}

// serverStats (-server-stats): print what the server did in each
// loader's first run (serverstats.go).
var serverStats bool

// startStats resets the server's counters before a run whose counts
// -server-stats prints: the first round's.
func startStats(pg *pgtest.Server, round int) error {
	if !serverStats || round > 0 || pg == nil {
		return nil
	}
	return statsReset(context.Background(), pg)
}

// printStats prints what the server did in the run startStats began.
func printStats(pg *pgtest.Server, round int, name, url string, records int) error {
	if !serverStats || round > 0 || pg == nil {
		return nil
	}
	return statsPrint(context.Background(), os.Stdout, pg, name, url, records)
}

// externalDB (-db) is a database -vs-copy loads into instead of fresh ones
// on a server of its own (a Citus coordinator): its tables are emptied
// before each run, and the server's processor time is not measured.
var externalDB string

// freshDatabase returns the URL of a database with no rows: a new one on
// pg, or externalDB emptied.
func freshDatabase(pg *pgtest.Server) (string, error) {
	if externalDB == "" {
		return pg.CreateDatabase()
	}
	var stderr bytes.Buffer
	if status := load.Main([]string{"--db", externalDB, "--quiet"}, bytes.NewReader(nil), io.Discard, &stderr); status != 0 {
		return "", fmt.Errorf("creating the tables in %s: exit %d: %s", externalDB, status, stderr.String())
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, externalDB)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "TRUNCATE "+strings.Join(append(finalTables, "payloads"), ", ")); err != nil {
		return "", fmt.Errorf("emptying %s: %w", externalDB, err)
	}
	return externalDB, nil
}

func serverURL(pg *pgtest.Server) string {
	if pg == nil {
		return externalDB
	}
	return pg.URL("postgres")
}

// logStatements has the server log every statement with its duration, and
// returns the function that copies the server's log (its own: other
// servers' beside it in the temporary directory are other runs') to dst.
func logStatements(pg *pgtest.Server, dst string) (save func() error, err error) {
	ctx := context.Background()
	if err := pg.Exec(ctx, "postgres", "ALTER SYSTEM SET log_min_duration_statement = 0"); err != nil {
		return nil, err
	}
	if err := pg.Exec(ctx, "postgres", "SELECT pg_reload_conf()"); err != nil {
		return nil, err
	}
	return func() error {
		b, err := os.ReadFile(pg.LogFile())
		if err != nil {
			return fmt.Errorf("reading the server's log: %w", err)
		}
		return os.WriteFile(dst, b, 0o644)
	}, nil
}

// settleRuns (-settle): each timed run starts on a server with nothing
// left to do for the runs before it.
var settleRuns bool

// settle, with -settle, vacuums and analyses the database loaded last
// (url; none when "") and writes every dirty buffer (CHECKPOINT), outside
// the timed windows. pgtest.Server.CPUTime counts every server process:
// without it, a checkpoint of the earlier runs' WAL or an earlier
// database's autovacuum fell in whichever run's window overlapped it, the
// longer windows catching more (bench/README.md, load21h).
func settle(pg *pgtest.Server, url string) error {
	if !settleRuns || pg == nil {
		return nil
	}
	ctx := context.Background()
	if url != "" {
		if err := pg.Exec(ctx, dbName(url), "VACUUM (ANALYZE)"); err != nil {
			return fmt.Errorf("vacuuming the last run's database: %w", err)
		}
	}
	if err := pg.Exec(ctx, "postgres", "CHECKPOINT"); err != nil {
		return fmt.Errorf("checkpointing before a run: %w", err)
	}
	return nil
}

// settleServer, with -settle, turns autovacuum off: settle vacuums each
// database loaded, between the windows. With autovacuum on, a worker
// could start on a hashr-load run's tables in its own window, made
// eligible by its first batches' commits, while COPY's tables, committed
// once at the end of its window, were only ever vacuumed after it: the
// same work charged to one side alone (load21j counted 6 to 58 ticks of
// 10 ms of autovacuum workers in hashr-load's windows, none in COPY's).
func settleServer(pg *pgtest.Server) error {
	if !settleRuns || pg == nil {
		return nil
	}
	ctx := context.Background()
	if err := pg.Exec(ctx, "postgres", "ALTER SYSTEM SET autovacuum = off"); err != nil {
		return fmt.Errorf("turning autovacuum off: %w", err)
	}
	if err := pg.Exec(ctx, "postgres", "SELECT pg_reload_conf()"); err != nil {
		return fmt.Errorf("turning autovacuum off: %w", err)
	}
	return nil
}

// settleBefore, with -settle, readies url for k's timed run: its tables
// created (createSchema), then the database loaded last (last) settled.
func (k loaderKind) settleBefore(pg *pgtest.Server, url, last string) error {
	if err := k.createSchema(pg, url); err != nil {
		return err
	}
	return settle(pg, last)
}

// createSchema, with -settle, creates hashr-load's tables in url before
// its timed run, with the run's own binary and no records, as COPY's are
// created before its window (emptySchema): both windows then hold the
// same work, rows written into the same empty indexed tables. Without
// -settle the timed run creates them, as in the figures before load21j.
func (k loaderKind) createSchema(pg *pgtest.Server, url string) error {
	if !settleRuns || pg == nil {
		return nil
	}
	args := []string{"--db", url, "--quiet"}
	var stderr bytes.Buffer
	if k.binary == "" {
		if status := load.Main(args, bytes.NewReader(nil), io.Discard, &stderr); status != 0 {
			return fmt.Errorf("%s: creating the tables: exit %d: %s", k.name, status, stderr.String())
		}
		return nil
	}
	cmd := exec.Command(k.binary, args...)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: creating the tables: %w: %s", k.name, err, stderr.String())
	}
	return nil
}

// dbName is the database a URL names.
func dbName(url string) string {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return url
	}
	return cfg.Database
}
