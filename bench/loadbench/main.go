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

	"github.com/hashr-dev/hashr/internal/db/pgtest"
	"github.com/hashr-dev/hashr/internal/load"
	"github.com/hashr-dev/hashr/pkg/records"
)

func main() {
	sources := flag.Int("sources", 2000, "sources in the stream")
	files := flag.Int("files", 100, "file records per source")
	shared := flag.Float64("shared", 0.4, "share of file records whose content other sources have too")
	baselineSources := flag.Int("baseline-sources", 0, "sources the baseline loads (0: all; fewer to save time, its rate is per record)")
	only := flag.String("only", "", "run only the loaders whose name holds this text (the baseline always runs)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of this process to the file")
	vsCopy := flag.Int("vs-copy", 0, "instead of the baseline: this many rounds of hashr-load, hashr-load --bulk and a raw COPY of the rows they end with")
	bulk := flag.Bool("bulk", true, "with -vs-copy, time hashr-load --bulk too")
	flag.Parse()
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
		err = vsCopyRun(*sources, *files, *shared, *vsCopy, *bulk)
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
	clientCPU time.Duration // this process: hashr-load in-process, or the baseline's client
	serverCPU time.Duration // PostgreSQL's processes
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
	server, _ := pg.CPUTime()
	return cpuMeter{pg: pg, client: processCPU(), server: server}
}

func (m cpuMeter) stop(r *result) {
	r.clientCPU = processCPU() - m.client
	server, _ := m.pg.CPUTime()
	r.serverCPU = server - m.server
}

func (r result) rate() float64 { return float64(r.records) / r.took.Seconds() }

func run(nSources, perSource int, shared float64, baselineSources int, only string) error {
	fmt.Fprintf(os.Stderr, "generating %d sources x %d files...\n", nSources, perSource)
	sources := generate(nSources, perSource, shared)
	input := stream(sources)
	records := nSources * perSource
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

	// The machine may be shared, and its load change by the minute: our
	// loaders run once before the baseline, between its quarters and after
	// it, and their median is set against the baseline's total, measured
	// over the same span of time.
	const rounds = 5
	extra := strings.Fields(os.Getenv("LOADBENCH_ARGS")) // e.g. "--batch 10000", for tuning
	loaders := []struct {
		name   string
		sqlite bool
		args   []string
	}{
		{"hashr-load, PostgreSQL", false, nil},
		{"hashr-load --schema hashr, PostgreSQL", false, []string{"--schema", "hashr"}},
		{"hashr-load, SQLite", true, nil},
	}
	ours := make([][]result, len(loaders))
	runOurs := func(round int) error {
		for i, ld := range loaders {
			if !strings.Contains(ld.name, only) {
				continue
			}
			dbURL := "sqlite:" + filepath.Join(tmp, fmt.Sprintf("hashr-%d.db", round))
			if !ld.sqlite {
				var err error
				if dbURL, err = pg.CreateDatabase(); err != nil {
					return err
				}
			}
			fmt.Fprintf(os.Stderr, "round %d: %s...\n", round+1, ld.name)
			cpu := startCPU(pg)
			start := time.Now()
			var stderr bytes.Buffer
			args := append(append([]string{"--db", dbURL, "--quiet"}, ld.args...), extra...)
			if status := load.Main(args, bytes.NewReader(input), io.Discard, &stderr); status != 0 {
				return fmt.Errorf("%s: exit %d: %s", ld.name, status, stderr.String())
			}
			r := result{name: ld.name, records: records, took: time.Since(start)}
			cpu.stop(&r)
			ours[i] = append(ours[i], r)
			if ld.sqlite {
				os.Remove(strings.TrimPrefix(dbURL, "sqlite:"))
			}
		}
		return nil
	}

	// HashR's tables, created the way hashr-load --schema hashr does.
	hashrTables := func() (string, error) {
		url, err := pg.CreateDatabase()
		if err != nil {
			return "", err
		}
		if status := load.Main([]string{"--db", url, "--schema", "hashr", "--quiet"}, bytes.NewReader(nil), io.Discard, os.Stderr); status != 0 {
			return "", fmt.Errorf("creating HashR's tables: exit %d", status)
		}
		return url, nil
	}
	baseDB, err := hashrTables()
	if err != nil {
		return err
	}
	cachedDB, err := hashrTables()
	if err != nil {
		return err
	}
	if baselineSources <= 0 || baselineSources > nSources {
		baselineSources = nSources
	}
	cachedSources := min(baselineSources, max(nSources/5, rounds-1))
	base := result{name: "baseline: HashR exporter's SQL, as lib/pq sends it", records: baselineSources * perSource}
	cached := result{name: "the same statements, prepared once (not HashR's way)", records: cachedSources * perSource}
	samples := 0
	loadStart, _ := os.ReadFile("/proc/loadavg")
	for round := range rounds {
		if err := runOurs(round); err != nil {
			return err
		}
		if round == rounds-1 {
			break
		}
		part := func(n int) (int, int) { return n * round / (rounds - 1), n * (round + 1) / (rounds - 1) }
		a, b := part(baselineSources)
		fmt.Fprintf(os.Stderr, "baseline, sources %d to %d...\n", a, b)
		// HashR's driver, lib/pq, sends each statement with parameters as
		// an unnamed Parse+Describe, then Bind+Execute: two round trips,
		// parsed and planned every time. pgx's describe_exec mode does too.
		cpu := startCPU(pg)
		took, n, err := baseline(baseDB+"&default_query_exec_mode=describe_exec", sources[a:b])
		if err != nil {
			return fmt.Errorf("baseline: %w", err)
		}
		var r result
		cpu.stop(&r)
		base.took, base.clientCPU, base.serverCPU = base.took+took, base.clientCPU+r.clientCPU, base.serverCPU+r.serverCPU
		samples += n
		// The same statements with prepared statements cached (pgx's
		// default), which HashR does not do, on a share of the sources.
		a, b = part(cachedSources)
		cpu = startCPU(pg)
		took, _, err = baseline(cachedDB, sources[a:b])
		if err != nil {
			return fmt.Errorf("baseline with cached statements: %w", err)
		}
		cpu.stop(&r)
		cached.took, cached.clientCPU, cached.serverCPU = cached.took+took, cached.clientCPU+r.clientCPU, cached.serverCPU+r.serverCPU
	}
	loadEnd, _ := os.ReadFile("/proc/loadavg")

	fmt.Printf("Load %d file records of %d sources (%.0f%% of records share content with other sources); %s, %d CPUs, PostgreSQL %s with fsync on; load average %s at the start, %s at the end.\n\n",
		records, nSources, shared*100, runtime.GOARCH, runtime.NumCPU(), serverVersion(baseDB),
		strings.Join(strings.Fields(string(loadStart))[:3], " "), strings.Join(strings.Fields(string(loadEnd))[:3], " "))
	fmt.Printf("hashr-load: median of %d runs spread over the baseline's time (the range in brackets).\n\n", rounds)
	fmt.Println("| loader | records | time | records/s | vs baseline | CPU s: client + server |")
	fmt.Println("|---|---:|---:|---:|---:|---:|")
	for _, runs := range ours {
		if len(runs) == 0 {
			continue
		}
		slices.SortFunc(runs, func(a, b result) int { return cmp.Compare(a.took, b.took) })
		r := runs[len(runs)/2]
		fmt.Printf("| %s | %d | %.1f s | %.0f (%.0f–%.0f) | %.1fx | %.1f + %.1f |\n", r.name, r.records, r.took.Seconds(), r.rate(),
			runs[len(runs)-1].rate(), runs[0].rate(), r.rate()/base.rate(), r.clientCPU.Seconds(), r.serverCPU.Seconds())
	}
	for _, r := range []result{base, cached} {
		fmt.Printf("| %s | %d | %.1f s | %.0f | %.1fx | %.1f + %.1f |\n", r.name, r.records, r.took.Seconds(), r.rate(),
			r.rate()/base.rate(), r.clientCPU.Seconds(), r.serverCPU.Seconds())
	}
	fmt.Printf("\nThe baseline wrote %d samples (grouped per source, as HashR's exporter gets them): %.0f samples/s.\n",
		samples, float64(samples)/base.took.Seconds())
	return nil
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
	ctx := context.Background()
	exists := func(query string, args ...any) (bool, error) {
		rows, err := sqldb.QueryContext(ctx, query, args...)
		if err != nil {
			return false, err
		}
		defer rows.Close()
		return rows.Next(), rows.Err()
	}
	type grouped struct {
		sample sample
		paths  []string
	}
	written := 0
	var took time.Duration
	for _, s := range sources {
		// HashR's exporter receives a source's samples with their paths
		// grouped; grouping is not SQL, so it is not timed.
		var order []string
		bySHA := map[string]*grouped{}
		for j, f := range s.samples {
			g := bySHA[f.sha256]
			if g == nil {
				g = &grouped{sample: f}
				bySHA[f.sha256] = g
				order = append(order, f.sha256)
			}
			g.paths = append(g.paths, s.paths[j])
		}
		start := time.Now()
		there, err := exists(`SELECT sha256 FROM sources WHERE sha256=$1;`, s.sha256)
		if err != nil {
			return 0, 0, err
		}
		if !there {
			_, err = sqldb.ExecContext(ctx, `INSERT INTO sources (sha256, sourceID, sourcePath, repoName, repoPath, sourceDescription) VALUES ($1, $2, $3, $4, $5, $6)`,
				s.sha256, []string{s.id}, "/mirror/"+s.id, "deb", "/mirror", "")
		} else {
			_, err = sqldb.ExecContext(ctx, `UPDATE sources set sourceID = array_append(sourceID, $1) WHERE sha256 = $2`, s.id, s.sha256)
		}
		if err != nil {
			return 0, 0, err
		}
		for _, sha := range order {
			g := bySHA[sha]
			there, err := exists(`SELECT sha256 FROM samples WHERE sha256=$1;`, sha)
			if err != nil {
				return 0, 0, err
			}
			if !there {
				if _, err := sqldb.ExecContext(ctx, `INSERT INTO samples (sha256, size, mimetype, file_output) VALUES ($1, $2, $3, $4)`,
					sha, g.sample.size, "application/x-sharedlib", "ELF 64-bit LSB shared object"); err != nil {
					return 0, 0, err
				}
			}
			there, err = exists(`SELECT sample_sha256,source_sha256 FROM samples_sources WHERE sample_sha256=$1 AND source_sha256=$2;`, sha, s.sha256)
			if err != nil {
				return 0, 0, err
			}
			if !there {
				_, err = sqldb.ExecContext(ctx, `INSERT INTO samples_sources (sample_sha256, source_sha256, sample_paths) VALUES ($1, $2, $3)`, sha, s.sha256, g.paths)
			} else {
				_, err = sqldb.ExecContext(ctx, `UPDATE samples_sources set sample_paths = array_cat(sample_paths, $1) WHERE sample_sha256 = $2 AND source_sha256 = $3`, g.paths, sha, s.sha256)
			}
			if err != nil {
				return 0, 0, err
			}
			written++
		}
		took += time.Since(start)
	}
	return took, written, nil
}
