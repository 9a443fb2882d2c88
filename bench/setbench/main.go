// Command setbench loads a synthetic hash set of tens of millions of
// samples (bench/setgen: real-world shape, 30% of file records shared
// across sources) into one database in ten slices, and measures what a
// user of a set that size meets: the load rate of each slice as the set
// grows, the database's size per sample, hashr-lookup's latency for one
// key and for 1,000, its throughput, and the time and peak RSS of
// hashr-export --format md5sum and --format bloom over the whole set.
//
// It starts its own PostgreSQL (fsync on) unless -db names a database
// (an empty one: PostgreSQL, or Citus's coordinator). Before it starts it
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
	flag.Parse()
	if err := run(*sources, *slices, *dbURL, *logFile, strings.Fields(*loadArgs), *stopAfter); err != nil {
		fmt.Fprintln(os.Stderr, "setbench:", err)
		os.Exit(1)
	}
}

func run(sources, nSlices int, dbURL, logFile string, loadArgs []string, stopAfter time.Duration) error {
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
		pg, err := pgtest.StartDurable()
		if err != nil {
			return fmt.Errorf("starting PostgreSQL: %w", err)
		}
		defer pg.Close()
		if b.url, err = pg.CreateDatabase(); err != nil {
			return err
		}
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
	cmd := exec.Command("/usr/bin/time", append([]string{"-v", filepath.Join(b.bin, name)}, args...)...)
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
	if m := rssRE.FindSubmatch(stderr.Bytes()); m != nil {
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
	fmt.Fprintln(b.out, "| slice | file records | load time | records/s | vs slice 1 | hashr-load peak RSS | samples after | database size | bytes per sample |")
	fmt.Fprintln(b.out, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
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
		t, err := b.timed(file, "hashr-load", append([]string{"--db", b.url, "--quiet"}, loadArgs...)...)
		os.Remove(file)
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
		if err := b.query(`SELECT (SELECT count(*) FROM samples), pg_database_size(current_database())`, &samples, &size); err != nil {
			return err
		}
		fmt.Fprintf(b.out, "| %d | %d | %.0f s | %.0f | %.0f%% | %d MiB | %d | %.1f GiB | %.0f |\n", i+1, files, t.wall.Seconds(), rate,
			100*rate/first, t.rssKiB>>10, samples, float64(size)/(1<<30), float64(size)/float64(samples))
	}
	return nil
}

// lookupKeys writes n keys the set holds, chosen by seed, to a file, and
// returns its name.
func (b *bench) lookupKeys(n int, seed int) (string, error) {
	out, err := exec.Command(filepath.Join(b.bin, "setgen"), "-sources", strconv.Itoa(b.sources), "-keys", strconv.Itoa(n), "-seed", strconv.Itoa(seed), "-to", strconv.Itoa(b.loaded)).Output()
	if err != nil {
		return "", fmt.Errorf("setgen -keys: %w", err)
	}
	file := filepath.Join(b.tmp, fmt.Sprintf("keys-%d-%d", n, seed))
	return file, os.WriteFile(file, out, 0o644)
}

// lookup times hashr-lookup over the keys in file, batch keys a query,
// and checks it found them all.
func (b *bench) lookup(file string, batch int) (timed, error) {
	t, err := b.timed(file, "hashr-lookup", "--db", b.url, "--batch", strconv.Itoa(batch))
	if err == nil && bytes.Count(t.stdout, []byte(`"known":true`)) != bytes.Count(t.stdout, []byte("\n")) {
		err = fmt.Errorf("hashr-lookup did not find every key of %s", file)
	}
	return t, err
}

// lookups measures hashr-lookup on keys the set holds: one key per query
// (--batch 1), 1,000 keys in one query, and the throughput of 10,000.
func (b *bench) lookups() error {
	keys, look := b.lookupKeys, b.lookup
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
	for _, format := range []string{"md5sum", "bloom"} {
		out := filepath.Join(b.tmp, "export."+format)
		t, err := b.timed("", "hashr-export", "--db", b.url, "--format", format, "-o", out)
		if err != nil {
			return err
		}
		fi, err := os.Stat(out)
		if err != nil {
			return err
		}
		os.Remove(out)
		fmt.Fprintf(b.out, "| --format %s | %.0f s | %d MiB | %.0f MiB |\n", format, t.wall.Seconds(), t.rssKiB>>10, float64(fi.Size())/(1<<20))
	}
	return nil
}
