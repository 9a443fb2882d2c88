// Command setbench loads a synthetic hash set of tens of millions of
// samples (bench/setgen: real-world shape, 30% of file records shared
// across sources) into one database in ten slices, and measures what a
// user of a set that size meets: the load rate of each slice as the set
// grows, the database's size per sample, hashr-lookup's latency for one
// key and for 1,000, its throughput, and the time and peak RSS of
// hashr-export --format md5sum and --format bloom over the whole set.
//
// It starts its own PostgreSQL (fsync on) unless -db names a database
// (an empty one: PostgreSQL, or Citus's coordinator), sized as the README
// tells a user loading a large set (loadSettings; -pg-settings to change). Before it starts it
// checks that the free disk space can hold the set, with what a 1M-record
// run measured per file record, and refuses otherwise. Each slice's row is
// printed (and appended to -log) as soon as it is loaded.
//
//	go run ./bench/setbench -sources 590000          # about 43M file records, 30M samples
//	go run ./bench/setbench -sources 14000 -db postgres://…/hashr
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hashr-dev/hashr/internal/db/pgtest"
)

// bytesPerRecord is the disk a loaded file record takes, tables, indexes
// and WAL together, as measured at 1M records (bench/README.md), with a
// margin; generated slices and exports come on top.
const bytesPerRecord = 700

// recordsPerSource is setgen's mean.
const recordsPerSource = 72.7

type bench struct {
	bin, tmp, url string
	ownServer     bool // the server is setbench's: its WAL and checkpoints are the load's
	sources       int
	loaded        int // sources loaded so far
	stopAfter     time.Duration
	log           *os.File
	out           io.Writer
}

func main() {
	sources := flag.Int("sources", 14_000, "sources in the set (setgen: about 73 file records each, 70% of them distinct samples)")
	slices := flag.Int("slices", 10, "slices the set is loaded in, one hashr-load each")
	dbURL := flag.String("db", "", "an empty database to load into (default: a PostgreSQL of its own)")
	logFile := flag.String("log", "", "append each figure to this file as soon as it is measured")
	loadArgs := flag.String("load-args", "", "more hashr-load flags, space-separated")
	stopAfter := flag.Duration("stop-after", 0, "load no more slices once this long has passed, and measure lookups and exports on what was loaded (0: load them all)")
	pgSettings := flag.String("pg-settings", strings.Join(loadSettings(), ","), "settings of setbench's own PostgreSQL, name=value, comma-separated (\"\": PostgreSQL's defaults)")
	flag.Parse()
	settings := strings.FieldsFunc(*pgSettings, func(r rune) bool { return r == ',' })
	if err := run(*sources, *slices, *dbURL, *logFile, strings.Fields(*loadArgs), *stopAfter, settings); err != nil {
		fmt.Fprintln(os.Stderr, "setbench:", err)
		os.Exit(1)
	}
}

// loadSettings size a server for loading a large set, as the README's
// "How a set grows in one PostgreSQL" says: a quarter of the RAM for
// shared_buffers, and checkpoints far enough apart that the random pages
// of the digest indexes are not written to the WAL whole again and again.
// Each page a checkpoint has cleaned is logged whole at its next change
// (full_page_writes), and a load touches random index pages: with
// PostgreSQL's defaults (1 GB of WAL between checkpoints) most of the WAL
// becomes those page images as the indexes outgrow shared_buffers.
func loadSettings() []string {
	memMB := memTotalMB()
	return []string{
		fmt.Sprintf("shared_buffers=%dMB", memMB/4),
		fmt.Sprintf("effective_cache_size=%dMB", memMB*3/4),
		"max_wal_size=8GB",
		"checkpoint_timeout=30min",
		"wal_compression=lz4",
	}
}

// memTotalMB is the machine's RAM (/proc/meminfo), 4 GB if unknown.
func memTotalMB() int {
	data, _ := os.ReadFile("/proc/meminfo")
	for line := range strings.Lines(string(data)) {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
			if kib, err := strconv.Atoi(f[1]); err == nil {
				return kib / 1024
			}
		}
	}
	return 4096
}

func run(sources, nSlices int, dbURL, logFile string, loadArgs []string, stopAfter time.Duration, settings []string) error {
	tmp, err := os.MkdirTemp("", "hashr-setbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := checkDisk(tmp, sources, nSlices); err != nil {
		return err
	}
	b := &bench{bin: filepath.Join(tmp, "bin"), tmp: tmp, sources: sources, out: os.Stdout, stopAfter: stopAfter}
	if logFile != "" {
		if b.log, err = os.OpenFile(logFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err != nil {
			return err
		}
		defer b.log.Close()
		b.out = io.MultiWriter(os.Stdout, b.log)
	}
	build := exec.Command("go", "build", "-o", b.bin+"/", "./cmd/hashr-load", "./cmd/hashr-lookup", "./cmd/hashr-export", "./bench/setgen")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building: %w", err)
	}
	b.url = dbURL
	if dbURL == "" {
		pg, err := pgtest.StartDurable(settings...)
		if err != nil {
			return fmt.Errorf("starting PostgreSQL: %w", err)
		}
		defer pg.Close()
		if b.url, err = pg.CreateDatabase(); err != nil {
			return err
		}
		b.ownServer = true
		fmt.Fprintf(b.out, "\nsetbench's PostgreSQL: fsync on, %s\n", strings.Join(settings, ", "))
	}
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Fprintf(b.out, "\nsetbench %s: %d sources in %d slices into %s; load average %s\n\n", time.Now().UTC().Format(time.RFC3339),
		sources, nSlices, redact(b.url), strings.Join(strings.Fields(string(load))[:3], " "))
	if err := b.loadSlices(nSlices, loadArgs); err != nil {
		return err
	}
	if err := b.lookups(); err != nil {
		return err
	}
	return b.exports()
}

// checkDisk refuses a set the free space of dir's file system (where the
// database, the slices and the exports go) cannot hold.
func checkDisk(dir string, sources, nSlices int) error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return err
	}
	free := float64(st.Bavail) * float64(st.Bsize)
	records := float64(sources) * recordsPerSource
	need := records*bytesPerRecord + records/float64(nSlices)*400 + records*0.7*120
	fmt.Fprintf(os.Stderr, "setbench: about %.1fM file records need about %.0f GB of the %.0f GB free\n", records/1e6, need/1e9, free/1e9)
	if need > 0.8*free {
		return fmt.Errorf("the set needs about %.0f GB (database %d B per file record, a slice, the exports), more than 80%% of the %.0f GB free: use fewer -sources (at most %d)",
			need/1e9, bytesPerRecord, free/1e9, int(0.8*free/need*float64(sources)))
	}
	return nil
}

var passwordRE = regexp.MustCompile(`:[^:@/]*@`)

func redact(url string) string { return passwordRE.ReplaceAllString(url, ":…@") }

// timed is one command's wall time and peak RSS (/usr/bin/time -v).
type timed struct {
	wall   time.Duration
	rssKiB int64
	stdout []byte
}

var rssRE = regexp.MustCompile(`Maximum resident set size \(kbytes\): (\d+)`)

// run runs a command under /usr/bin/time -v with stdin from a file (or
// none), returning its stdout.
func (b *bench) timed(stdin string, name string, args ...string) (timed, error) {
	// time's report goes to a file of its own, so that stderr is the
	// command's and its error, if any, is what the failure shows.
	report := filepath.Join(b.tmp, "time.txt")
	cmd := exec.Command("/usr/bin/time", append([]string{"-v", "-o", report, filepath.Join(b.bin, name)}, args...)...)
	if stdin != "" {
		f, err := os.Open(stdin)
		if err != nil {
			return timed{}, err
		}
		defer f.Close()
		cmd.Stdin = f
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	t := timed{wall: time.Since(start), stdout: stdout.Bytes()}
	times, _ := os.ReadFile(report)
	if m := rssRE.FindSubmatch(times); m != nil {
		t.rssKiB, _ = strconv.ParseInt(string(m[1]), 10, 64)
	}
	if err != nil {
		return t, fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, lastLines(stderr.String(), 5))
	}
	return t, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// generate writes sources [from, to) of the set to a file and counts its
// file records.
func (b *bench) generate(from, to int) (string, int64, error) {
	file := filepath.Join(b.tmp, "slice.ndjson")
	f, err := os.Create(file)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	cmd := exec.Command(filepath.Join(b.bin, "setgen"), "-sources", strconv.Itoa(b.sources), "-from", strconv.Itoa(from), "-to", strconv.Itoa(to))
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", 0, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return "", 0, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var files int64
	for sc.Scan() {
		if bytes.HasPrefix(sc.Bytes(), []byte(`{"type":"file"`)) {
			files++
		}
		w.Write(sc.Bytes())
		w.WriteByte('\n')
	}
	if err := cmd.Wait(); err != nil {
		return "", 0, fmt.Errorf("setgen: %w", err)
	}
	return file, files, w.Flush()
}

func (b *bench) query(sql string, dst ...any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, b.url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return conn.QueryRow(ctx, sql).Scan(dst...)
}

// loadSlices loads the set slice by slice, printing each slice's rate and
// the database's size after it.
func (b *bench) loadSlices(n int, loadArgs []string) error {
	fmt.Fprintln(b.out, "| slice | file records | load time | records/s | vs slice 1 | hashr-load peak RSS | samples after | database size | bytes per sample | WAL written | full-page images | checkpoints |")
	fmt.Fprintln(b.out, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	var first float64
	var total int64
	start := time.Now()
	for i := range n {
		if b.stopAfter > 0 && time.Since(start) > b.stopAfter {
			fmt.Fprintf(b.out, "\nStopped after %d of %d slices (-stop-after %s): %d file records, sources 0 to %d of %d.\n",
				i, n, b.stopAfter, total, b.loaded, b.sources)
			break
		}
		from, to := b.sources*i/n, b.sources*(i+1)/n
		file, files, err := b.generate(from, to)
		if err != nil {
			return err
		}
		walBefore, err := b.walStats()
		if err != nil {
			return err
		}
		t, err := b.timed(file, "hashr-load", append([]string{"--db", b.url, "--quiet"}, loadArgs...)...)
		os.Remove(file)
		if err != nil {
			return err
		}
		walAfter, err := b.walStats()
		if err != nil {
			return err
		}
		total += files
		b.loaded = to
		rate := float64(files) / t.wall.Seconds()
		if i == 0 {
			first = rate
		}
		var samples, size int64
		if err := b.query(`SELECT (SELECT count(*) FROM samples), `+b.databaseSize(), &samples, &size); err != nil {
			return err
		}
		fmt.Fprintf(b.out, "| %d | %d | %.0f s | %.0f | %.0f%% | %d MiB | %d | %.1f GiB | %.0f | %s |\n", i+1, files, t.wall.Seconds(), rate,
			100*rate/first, t.rssKiB>>10, samples, float64(size)/(1<<30), float64(size)/float64(samples), walAfter.since(walBefore))
	}
	return nil
}

// databaseSize is the SQL of the database's size: on Citus, that of every
// node's database of that name (the coordinator holds few rows).
func (b *bench) databaseSize() string {
	var citus bool
	if err := b.query(`SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')`, &citus); err != nil || !citus {
		return `pg_database_size(current_database())`
	}
	return `(SELECT sum(result::bigint) FROM run_command_on_all_nodes($$SELECT pg_database_size(current_database())$$))`
}

// walStats are the server's write-ahead log counters (pg_stat_wal,
// pg_stat_bgwriter); known only on setbench's own server, where the load
// is all it writes.
type walStats struct {
	known       bool
	bytes, fpi  int64 // WAL bytes, full-page images
	checkpoints int64
}

func (b *bench) walStats() (walStats, error) {
	if !b.ownServer {
		return walStats{}, nil
	}
	w := walStats{known: true}
	err := b.query(`SELECT w.wal_bytes::bigint, w.wal_fpi, c.checkpoints_timed + c.checkpoints_req
		FROM pg_stat_wal w, pg_stat_bgwriter c`, &w.bytes, &w.fpi, &w.checkpoints)
	return w, err
}

// since formats the WAL written between two readings as the table's last
// three cells.
func (w walStats) since(before walStats) string {
	if !w.known {
		return "— | — | —"
	}
	return fmt.Sprintf("%.1f GiB | %d | %d", float64(w.bytes-before.bytes)/(1<<30), w.fpi-before.fpi, w.checkpoints-before.checkpoints)
}

// keys writes n keys the loaded set holds, chosen by seed, to a file.
func (b *bench) keys(n int, seed int) (string, error) {
	out, err := exec.Command(filepath.Join(b.bin, "setgen"), "-sources", strconv.Itoa(b.sources), "-keys", strconv.Itoa(n), "-seed", strconv.Itoa(seed), "-to", strconv.Itoa(b.loaded)).Output()
	if err != nil {
		return "", fmt.Errorf("setgen -keys: %w", err)
	}
	file := filepath.Join(b.tmp, fmt.Sprintf("keys-%d-%d", n, seed))
	return file, os.WriteFile(file, out, 0o644)
}

// look times hashr-lookup over the keys in file, batch keys a query, and
// checks that it knew every one.
func (b *bench) look(file string, batch int) (timed, error) {
	t, err := b.timed(file, "hashr-lookup", "--db", b.url, "--batch", strconv.Itoa(batch))
	if err == nil && bytes.Count(t.stdout, []byte(`"known":true`)) != bytes.Count(t.stdout, []byte("\n")) {
		err = fmt.Errorf("hashr-lookup did not find every key of %s", file)
	}
	return t, err
}

// lookups measures hashr-lookup on keys the set holds: one key per query
// (--batch 1), 1,000 keys in one query, and the throughput of 10,000.
func (b *bench) lookups() error {
	keys, look := b.keys, b.look
	var one, thousand []time.Duration
	for seed := range 5 {
		single, err := keys(1, 100+seed)
		if err != nil {
			return err
		}
		t, err := look(single, 1)
		if err != nil {
			return err
		}
		one = append(one, t.wall)
		bulk, err := keys(1000, 200+seed)
		if err != nil {
			return err
		}
		if t, err = look(bulk, 1000); err != nil {
			return err
		}
		thousand = append(thousand, t.wall)
	}
	perKey, err := keys(1000, 300)
	if err != nil {
		return err
	}
	tp, err := look(perKey, 1)
	if err != nil {
		return err
	}
	many, err := keys(10_000, 400)
	if err != nil {
		return err
	}
	tm, err := look(many, 1000)
	if err != nil {
		return err
	}
	slices.Sort(one)
	slices.Sort(thousand)
	fmt.Fprintf(b.out, "\nhashr-lookup, keys the set holds: one key, whole process (start, connect, query): median %s of 5 (%s–%s); "+
		"1,000 keys one query each (--batch 1): %.2f ms a key; 1,000 keys in one query (--batch 1000), whole process: median %s of 5 (%s–%s); "+
		"10,000 keys (--batch 1000): %.1f s, %.0f keys/s, peak RSS %d MiB.\n",
		one[2].Round(time.Millisecond), one[0].Round(time.Millisecond), one[4].Round(time.Millisecond),
		float64(tp.wall.Microseconds())/1000/1000, thousand[2].Round(time.Millisecond), thousand[0].Round(time.Millisecond),
		thousand[4].Round(time.Millisecond), tm.wall.Seconds(), 10_000/tm.wall.Seconds(), tm.rssKiB>>10)
	return nil
}

// exports times hashr-export --format md5sum and --format bloom over the
// whole set.
func (b *bench) exports() error {
	fmt.Fprintln(b.out, "\n| hashr-export | time | peak RSS | output |")
	fmt.Fprintln(b.out, "|---|---:|---:|---:|")
	var failed error
	for _, format := range []string{"md5sum", "bloom"} {
		out := filepath.Join(b.tmp, "export."+format)
		t, err := b.timed("", "hashr-export", "--db", b.url, "--format", format, "-o", out)
		if err != nil {
			// The other format is still measured: a set this size takes
			// long to build again.
			fmt.Fprintf(b.out, "| --format %s | failed after %.0f s: %s | | |\n", format, t.wall.Seconds(), strings.ReplaceAll(err.Error(), "\n", " "))
			failed = errors.Join(failed, err)
			os.Remove(out)
			continue
		}
		fi, err := os.Stat(out)
		if err != nil {
			return err
		}
		os.Remove(out)
		fmt.Fprintf(b.out, "| --format %s | %.0f s | %d MiB | %.0f MiB |\n", format, t.wall.Seconds(), t.rssKiB>>10, float64(fi.Size())/(1<<20))
	}
	return failed
}
