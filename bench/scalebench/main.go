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
	// Each stage behind a wrapper that appends its peak RSS (KiB) to a file.
	wrapped := filepath.Join(tmp, "wrapped")
	rss := filepath.Join(tmp, "rss")
	os.MkdirAll(wrapped, 0o755)
	os.MkdirAll(rss, 0o755)
	for _, s := range stages {
		script := fmt.Sprintf("#!/bin/sh\nexec /usr/bin/time -a -o %s/%s -f %%M %s/hashr-%s \"$@\"\n", rss, s, bin, s)
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

	// pipelineRun runs the Makefile with n shards and returns its wall time
	// and each stage's peak RSS (the largest over the shards).
	pipelineRun := func(repoDir string, n int) (time.Duration, map[string]int, error) {
		db, err := pg.CreateDatabase()
		if err != nil {
			return 0, nil, err
		}
		os.RemoveAll(rss)
		os.MkdirAll(rss, 0o755)
		work := filepath.Join(tmp, fmt.Sprintf("work-%d-%d", n, time.Now().UnixNano()))
		// n pipelines on n CPUs (taskset; PostgreSQL runs where it
		// likes): each stage sizes its workers by the CPUs it may use,
		// so one pipeline alone already fills a machine, and the
		// question is how throughput grows with the CPUs given, as it
		// would with machines of a cluster.
		args := []string{"-c", "0-" + strconv.Itoa(n-1), "make", "-s", "-f", "examples/Makefile", "-j", strconv.Itoa(n),
			"SHARDS=" + strconv.Itoa(n), "REPO=" + repoDir, "DB=" + db, "WORK=" + work, "BIN=" + wrapped}
		if n > runtime.NumCPU() {
			args[1] = "0-" + strconv.Itoa(runtime.NumCPU()-1)
		}
		cmd := exec.Command("taskset", args...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		start := time.Now()
		if err := cmd.Run(); err != nil {
			return 0, nil, fmt.Errorf("make with %d shards: %w", n, err)
		}
		took := time.Since(start)
		defer os.RemoveAll(work)
		peaks := map[string]int{}
		for _, s := range stages {
			f, err := os.Open(filepath.Join(rss, s))
			if err != nil {
				return 0, nil, err
			}
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				if kib, err := strconv.Atoi(strings.TrimSpace(sc.Text())); err == nil {
					peaks[s] = max(peaks[s], kib)
				}
			}
			f.Close()
		}
		return took, peaks, nil
	}

	one, err := repo("corpus", 1)
	if err != nil {
		return err
	}
	loadStart, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("Corpus: %d real Debian packages, %.0f MiB; %d CPUs, %s; load average at the start %s.\n\n",
		len(debs), float64(corpusBytes)/(1<<20), runtime.NumCPU(), runtime.GOARCH, strings.Join(strings.Fields(string(loadStart))[:3], " "))
	fmt.Println("| pipelines (make -j) on as many CPUs | wall | MiB/s of packages | speed-up |")
	fmt.Println("|---:|---:|---:|---:|")
	var base time.Duration
	for _, f := range strings.Split(pipelineList, ",") {
		n, err := strconv.Atoi(f)
		if err != nil {
			return fmt.Errorf("-pipelines: %w", err)
		}
		took, _, err := pipelineRun(one, n)
		if err != nil {
			return err
		}
		if base == 0 {
			base = took
		}
		fmt.Printf("| %d | %.1f s | %.1f | %.2fx |\n", n, took.Seconds(), float64(corpusBytes)/(1<<20)/took.Seconds(), base.Seconds()/took.Seconds())
	}

	if len(scales) == 0 {
		return nil
	}
	_, small, err := pipelineRun(one, 1)
	if err != nil {
		return err
	}
	var larges []map[string]int
	for _, scale := range scales {
		big, err := repo(fmt.Sprintf("corpus-x%d", scale), scale)
		if err != nil {
			return err
		}
		_, large, err := pipelineRun(big, 1)
		if err != nil {
			return err
		}
		larges = append(larges, large)
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

func lastLine(s string) string {
	lines := slices.DeleteFunc(strings.Split(s, "\n"), func(l string) bool { return strings.TrimSpace(l) == "" })
	if len(lines) == 0 {
		return ""
	}
	return lines[len(lines)-1]
}
