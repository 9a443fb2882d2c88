// Command scalebench measures hashr's scale-out (examples/Makefile): the
// real Debian corpus (../shared/corpus/fetch.sh deb) through 1 and through
// 2 pipelines side by side into one PostgreSQL, end to end (scan → load),
// and the peak memory of every stage as the corpus grows tenfold (each
// package again under nine more names: the same bytes, so the extra work is
// real extraction and hashing, and the stream is ten times as long).
//
// It starts its own PostgreSQL from the system's binaries (fsync on) and
// wraps each stage in /usr/bin/time to read its peak RSS.
//
//	go run ./bench/scalebench [-scale 10] [-pipelines 1,2]
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashr-dev/hashr/internal/db/pgtest"
	"golang.org/x/sys/unix"
)

var stages = []string{"scan", "fetch", "extract", "hash", "dedup", "load"}

func main() {
	scale := flag.String("scale", "10", "how many times the corpus is repeated for the memory figures (a list: 10,30)")
	pipelines := flag.String("pipelines", "1,2", "pipeline counts to time")
	flag.Parse()
	if err := run(*scale, *pipelines); err != nil {
		fmt.Fprintln(os.Stderr, "scalebench:", err)
		os.Exit(1)
	}
}

func run(scaleList string, pipelineList string) error {
	var scales []int
	for _, f := range strings.Split(scaleList, ",") {
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 || n == 1 {
			return fmt.Errorf("-scale: %q is not 0 (no memory figures) or a number of copies above 1", f)
		}
		if n > 0 {
			scales = append(scales, n)
		}
	}
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	out, err := exec.Command(filepath.Join(root, "..", "shared", "corpus", "fetch.sh"), "deb").Output()
	if err != nil {
		return fmt.Errorf("fetching the corpus: %w", err)
	}
	corpus := filepath.Join(strings.TrimSpace(lastLine(string(out))), "deb")
	debs, _ := filepath.Glob(filepath.Join(corpus, "*.deb"))
	if len(debs) == 0 {
		return fmt.Errorf("no .deb in %s", corpus)
	}
	var corpusBytes int64
	for _, d := range debs {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		corpusBytes += fi.Size()
	}

	tmp, err := os.MkdirTemp("", "hashr-scalebench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "bin")
	build := exec.Command("go", "build", "-o", bin+"/", "./cmd/...")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building: %w", err)
	}
	// Each stage behind a wrapper that appends a line to a file of its
	// own: peak RSS (KiB), wall seconds, user and system CPU seconds.
	wrapped := filepath.Join(tmp, "wrapped")
	rss := filepath.Join(tmp, "rss")
	os.MkdirAll(wrapped, 0o755)
	os.MkdirAll(rss, 0o755)
	for _, s := range stages {
		script := fmt.Sprintf("#!/bin/sh\nexec /usr/bin/time -a -o %s/%s -f '%%M %%e %%U %%S' %s/hashr-%s \"$@\"\n", rss, s, bin, s)
		if err := os.WriteFile(filepath.Join(wrapped, "hashr-"+s), []byte(script), 0o755); err != nil {
			return err
		}
	}

	repo := func(name string, copies int) (string, error) {
		dir := filepath.Join(tmp, name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", err
		}
		for c := range copies {
			for _, d := range debs {
				base := filepath.Base(d)
				if c > 0 {
					base = fmt.Sprintf("copy%d-%s", c, base)
				}
				if err := os.Symlink(d, filepath.Join(dir, base)); err != nil {
					return "", err
				}
			}
		}
		return dir, nil
	}

	pg, err := pgtest.StartDurable()
	if err != nil {
		return err
	}
	defer pg.Close()

	// pipelineRun runs the Makefile with n shards on n CPUs.
	pipelineRun := func(repoDir string, n int) (pipelineResult, error) {
		var res pipelineResult
		db, err := pg.CreateDatabase()
		if err != nil {
			return res, err
		}
		os.RemoveAll(rss)
		os.MkdirAll(rss, 0o755)
		work := filepath.Join(tmp, fmt.Sprintf("work-%d-%d", n, time.Now().UnixNano()))
		// n pipelines on n CPUs, and PostgreSQL on the same n: each
		// stage sizes its workers by the CPUs it may use, so one
		// pipeline alone already fills a machine, and the question is
		// how throughput grows with the CPUs given, as it would with
		// machines of a cluster. An unpinned server would lend the
		// one-CPU run a second CPU.
		cpus := min(n, runtime.NumCPU())
		var set unix.CPUSet
		for c := range cpus {
			set.Set(c)
		}
		if err := pg.Pin(set); err != nil {
			return res, err
		}
		pgBefore, err := pg.CPUTime()
		if err != nil {
			return res, err
		}
		args := []string{"-c", "0-" + strconv.Itoa(cpus-1), "make", "-s", "-f", "examples/Makefile", "-j", strconv.Itoa(n),
			"SHARDS=" + strconv.Itoa(n), "REPO=" + repoDir, "DB=" + db, "WORK=" + work, "BIN=" + wrapped}
		cmd := exec.Command("taskset", args...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		start := time.Now()
		if err := cmd.Run(); err != nil {
			return res, fmt.Errorf("make with %d shards: %w", n, err)
		}
		res.wall = time.Since(start)
		res.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		pgAfter, err := pg.CPUTime()
		if err != nil {
			return res, err
		}
		res.serverCPU = pgAfter - pgBefore
		defer os.RemoveAll(work)
		res.peaks = map[string]int{}
		res.stageCPU = map[string]float64{}
		for _, s := range stages {
			f, err := os.Open(filepath.Join(rss, s))
			if err != nil {
				return res, err
			}
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				var kib int
				var wall, user, sys float64
				if _, err := fmt.Sscan(sc.Text(), &kib, &wall, &user, &sys); err != nil {
					continue // time's own complaint, e.g. a non-zero exit status
				}
				res.peaks[s] = max(res.peaks[s], kib)
				res.stageCPU[s] += user + sys
				if s == "load" { // the last stage: it ends with its shard
					res.shardWalls = append(res.shardWalls, wall)
				}
			}
			f.Close()
		}
		return res, nil
	}

	one, err := repo("corpus", 1)
	if err != nil {
		return err
	}
	loadStart, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("Corpus: %d real Debian packages, %.0f MiB; %d CPUs, %s; load average at the start %s.\n\n",
		len(debs), float64(corpusBytes)/(1<<20), runtime.NumCPU(), runtime.GOARCH, strings.Join(strings.Fields(string(loadStart))[:3], " "))
	fmt.Println("| pipelines (make -j) on as many CPUs | wall | MiB/s of packages | speed-up | CPU-s: pipelines | PostgreSQL | busy | each shard |")
	fmt.Println("|---:|---:|---:|---:|---:|---:|---:|---|")
	var base time.Duration
	for _, f := range strings.Split(pipelineList, ",") {
		n, err := strconv.Atoi(f)
		if err != nil {
			return fmt.Errorf("-pipelines: %w", err)
		}
		r, err := pipelineRun(one, n)
		if err != nil {
			return err
		}
		if base == 0 {
			base = r.wall
		}
		var shards []string
		for _, w := range r.shardWalls {
			shards = append(shards, fmt.Sprintf("%.1f s", w))
		}
		// busy: the share of the n CPUs' time that went to the
		// pipelines and the server; the rest was idle or the kernel's.
		busy := (r.cpu + r.serverCPU).Seconds() / (r.wall.Seconds() * float64(min(n, runtime.NumCPU())))
		fmt.Printf("| %d | %.1f s | %.1f | %.2fx | %.1f | %.1f | %.0f%% | %s |\n", n, r.wall.Seconds(), float64(corpusBytes)/(1<<20)/r.wall.Seconds(),
			base.Seconds()/r.wall.Seconds(), r.cpu.Seconds(), r.serverCPU.Seconds(), 100*busy, strings.Join(shards, ", "))
		if os.Getenv("SCALEBENCH_STAGES") != "" {
			for _, s := range stages {
				fmt.Fprintf(os.Stderr, "  %d pipelines: hashr-%s %.1f CPU-s\n", n, s, r.stageCPU[s])
			}
		}
	}

	if len(scales) == 0 {
		return nil
	}
	smallRun, err := pipelineRun(one, 1)
	if err != nil {
		return err
	}
	small := smallRun.peaks
	var larges []map[string]int
	for _, scale := range scales {
		big, err := repo(fmt.Sprintf("corpus-x%d", scale), scale)
		if err != nil {
			return err
		}
		large, err := pipelineRun(big, 1)
		if err != nil {
			return err
		}
		larges = append(larges, large.peaks)
	}
	fmt.Printf("\nPeak RSS of each stage, one pipeline, the corpus once and %s times (%d sources once):\n\n", scaleList, len(debs))
	fmt.Print("| stage | 1x |")
	for _, scale := range scales {
		fmt.Printf(" %dx | ratio |", scale)
	}
	fmt.Print("\n|---|---:|")
	fmt.Print(strings.Repeat("---:|---:|", len(scales)))
	fmt.Println()
	for _, s := range stages {
		fmt.Printf("| hashr-%s | %.0f MiB |", s, float64(small[s])/1024)
		for _, large := range larges {
			fmt.Printf(" %.0f MiB | %.2f |", float64(large[s])/1024, float64(large[s])/float64(max(small[s], 1)))
		}
		fmt.Println()
	}
	loadEnd, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("\nLoad average at the end: %s.\n", strings.Join(strings.Fields(string(loadEnd))[:3], " "))
	return nil
}

// pipelineResult is what one run of the Makefile measured.
type pipelineResult struct {
	wall       time.Duration
	cpu        time.Duration      // every stage of every shard, user + system
	serverCPU  time.Duration      // PostgreSQL's, over the run
	shardWalls []float64          // seconds, one per shard
	peaks      map[string]int     // stage → largest peak RSS over the shards, KiB
	stageCPU   map[string]float64 // stage → CPU seconds over the shards
}

func lastLine(s string) string {
	lines := slices.DeleteFunc(strings.Split(s, "\n"), func(l string) bool { return strings.TrimSpace(l) == "" })
	if len(lines) == 0 {
		return ""
	}
	return lines[len(lines)-1]
}
