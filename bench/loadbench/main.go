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
	if err := run(*sources, *files, *shared, *baselineSources, *only); err != nil {
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

	var results []result
	extra := strings.Fields(os.Getenv("LOADBENCH_ARGS")) // e.g. "--batch 10000", for tuning
	hashrLoad := func(name, dbURL string, args ...string) error {
		args = append(args, extra...)
		if !strings.Contains(name, only) {
			return nil
		}
		fmt.Fprintf(os.Stderr, "%s...\n", name)
		cpu := startCPU(pg)
		start := time.Now()
		var stderr bytes.Buffer
		if status := load.Main(append([]string{"--db", dbURL}, args...), bytes.NewReader(input), io.Discard, &stderr); status != 0 {
			return fmt.Errorf("%s: exit %d: %s", name, status, stderr.String())
		}
		r := result{name: name, records: records, took: time.Since(start)}
		cpu.stop(&r)
		results = append(results, r)
		fmt.Fprint(os.Stderr, stderr.String())
		return nil
	}
	pgNative, err := pg.CreateDatabase()
	if err != nil {
		return err
	}
	if err := hashrLoad("hashr-load, PostgreSQL", pgNative); err != nil {
		return err
	}
	pgHashR, err := pg.CreateDatabase()
	if err != nil {
		return err
	}
	if err := hashrLoad("hashr-load --schema hashr, PostgreSQL", pgHashR, "--schema", "hashr"); err != nil {
		return err
	}
	if err := hashrLoad("hashr-load, SQLite", "sqlite:"+filepath.Join(tmp, "hashr.db")); err != nil {
		return err
	}

	baseDB, err := pg.CreateDatabase()
	if err != nil {
		return err
	}
	// HashR's tables, created the way hashr-load --schema hashr does.
	if status := load.Main([]string{"--db", baseDB, "--schema", "hashr", "--quiet"}, bytes.NewReader(nil), io.Discard, os.Stderr); status != 0 {
		return fmt.Errorf("creating HashR's tables: exit %d", status)
	}
	if baselineSources <= 0 || baselineSources > nSources {
		baselineSources = nSources
	}
	fmt.Fprintf(os.Stderr, "baseline: HashR's per-sample statements, %d sources...\n", baselineSources)
	cpu := startCPU(pg)
	// HashR's driver, lib/pq, sends each statement with parameters as an
	// unnamed Parse+Describe, then Bind+Execute: two round trips, parsed
	// and planned every time. pgx's describe_exec mode does the same.
	took, samples, err := baseline(baseDB+"&default_query_exec_mode=describe_exec", sources[:baselineSources])
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	base := result{name: "baseline: HashR exporter's SQL, as lib/pq sends it", records: baselineSources * perSource, took: took}
	cpu.stop(&base)

	// The same statements with prepared statements cached (pgx's default),
	// which HashR does not do: a faster baseline, on a share of the sources.
	cachedDB, err := pg.CreateDatabase()
	if err != nil {
		return err
	}
	if status := load.Main([]string{"--db", cachedDB, "--schema", "hashr", "--quiet"}, bytes.NewReader(nil), io.Discard, os.Stderr); status != 0 {
		return fmt.Errorf("creating HashR's tables: exit %d", status)
	}
	cachedSources := min(baselineSources, max(nSources/5, 1))
	fmt.Fprintf(os.Stderr, "baseline with cached prepared statements, %d sources...\n", cachedSources)
	cpu = startCPU(pg)
	cachedTook, _, err := baseline(cachedDB, sources[:cachedSources])
	if err != nil {
		return fmt.Errorf("baseline with cached statements: %w", err)
	}
	cached := result{name: "the same statements, prepared once (not HashR's way)", records: cachedSources * perSource, took: cachedTook}
	cpu.stop(&cached)

	loadavg, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("Load %d file records of %d sources (%.0f%% of records share content with other sources); %s, %d CPUs (load average %s), PostgreSQL %s with fsync on.\n\n",
		records, nSources, shared*100, runtime.GOARCH, runtime.NumCPU(), strings.Join(strings.Fields(string(loadavg))[:3], " "), serverVersion(pgNative))
	fmt.Println("| loader | records | time | records/s | vs baseline | CPU s: client + server |")
	fmt.Println("|---|---:|---:|---:|---:|---:|")
	for _, r := range append(results, base, cached) {
		fmt.Printf("| %s | %d | %.1f s | %.0f | %.1fx | %.1f + %.1f |\n", r.name, r.records, r.took.Seconds(), r.rate(),
			r.rate()/base.rate(), r.clientCPU.Seconds(), r.serverCPU.Seconds())
	}
	fmt.Printf("\nThe baseline wrote %d samples (grouped per source, as HashR's exporter gets them): %.0f samples/s.\n",
		samples, float64(samples)/took.Seconds())
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
