// Command scalebench measures hashr's scale-out (examples/Makefile): the
// real Debian corpus (scripts/corpus.sh deb) through 1 and through
// 2 pipelines side by side into one PostgreSQL, end to end (scan → load),
// and the peak memory of every stage as the corpus grows tenfold (each
// package again under nine more names: the same bytes, so the extra work is
// real extraction and hashing, and the stream is ten times as long).
//
// It starts its own PostgreSQL from the system's binaries (fsync on) and
// wraps each stage in /usr/bin/time to read its peak RSS.
//
//	go run ./bench/scalebench [-scale 10] [-pipelines 1,2] [-placement own|shared]
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashr-dev/hashr/internal/db/pgtest"
	"golang.org/x/sys/unix"
)

var stages = []string{"scan", "fetch", "extract", "hash", "dedup", "load"}

func main() {
	scale := flag.String("scale", "10", "how many times the corpus is repeated for the memory figures (a list: 10,30)")
	pipelines := flag.String("pipelines", "1,2", "pipeline counts to time")
	perPipeline := flag.Int("shards-per-pipeline", 1, "with -placement own, how many shards each pipeline's CPU works through, taking the next from a queue")
	placement := flag.String("placement", "own", "own: each pipeline on a CPU of its own, as on the machines of a cluster; shared: make -j N, the N pipelines sharing N CPUs")
	flag.Parse()
	if *placement != "own" && *placement != "shared" {
		fmt.Fprintln(os.Stderr, "scalebench: -placement is own or shared")
		os.Exit(2)
	}
	if err := run(*scale, *pipelines, *placement, max(*perPipeline, 1)); err != nil {
		fmt.Fprintln(os.Stderr, "scalebench:", err)
		os.Exit(1)
	}
}

func run(scaleList, pipelineList, placement string, perPipeline int) error {
	scales, err := parseScales(scaleList)
	if err != nil {
		return err
	}
	debs, corpusBytes, err := fetchCorpus()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "hashr-scalebench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	b := &bench{tmp: tmp, debs: debs, placement: placement, perPipeline: perPipeline}
	if err := b.buildWrappedStages(); err != nil {
		return err
	}
	if b.pg, err = pgtest.StartDurable(); err != nil {
		return err
	}
	defer b.pg.Close()

	one, err := b.repo("corpus", 1)
	if err != nil {
		return err
	}
	loadStart, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("Corpus: %d real Debian packages, %.0f MiB; %d CPUs, %s; load average at the start %s.\n\n",
		len(debs), float64(corpusBytes)/(1<<20), runtime.NumCPU(), runtime.GOARCH, strings.Join(strings.Fields(string(loadStart))[:3], " "))
	if err := b.timePipelines(one, pipelineList, corpusBytes); err != nil {
		return err
	}
	if len(scales) == 0 {
		return nil
	}
	if err := b.measureMemory(one, scales, scaleList); err != nil {
		return err
	}
	loadEnd, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("\nLoad average at the end: %s.\n", strings.Join(strings.Fields(string(loadEnd))[:3], " "))
	return nil
}

// parseScales reads -scale: copies of the corpus for the memory figures,
// 0 for none.
func parseScales(scaleList string) ([]int, error) {
	var scales []int
	for _, f := range strings.Split(scaleList, ",") {
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 || n == 1 {
			return nil, fmt.Errorf("-scale: %q is not 0 (no memory figures) or a number of copies above 1", f)
		}
		if n > 0 {
			scales = append(scales, n)
		}
	}
	return scales, nil
}

// fetchCorpus runs scripts/corpus.sh deb and returns its packages and
// their bytes together.
func fetchCorpus() (debs []string, corpusBytes int64, err error) {
	root, err := os.Getwd()
	if err != nil {
		return nil, 0, err
	}
	out, err := exec.Command(filepath.Join(root, "scripts", "corpus.sh"), "deb").Output()
	if err != nil {
		return nil, 0, fmt.Errorf("fetching the corpus: %w", err)
	}
	corpus := strings.TrimSpace(lastLine(string(out)))
	debs, _ = filepath.Glob(filepath.Join(corpus, "*.deb"))
	if len(debs) == 0 {
		return nil, 0, fmt.Errorf("no .deb in %s", corpus)
	}
	for _, d := range debs {
		fi, err := os.Stat(d)
		if err != nil {
			return nil, 0, err
		}
		corpusBytes += fi.Size()
	}
	return debs, corpusBytes, nil
}

// A bench is one run of the program: its temporary directory, the
// corpus, the PostgreSQL server and how pipelines are placed on CPUs.
type bench struct {
	tmp         string
	debs        []string
	pg          *pgtest.Server
	placement   string // own or shared, as -placement
	perPipeline int    // shards each CPU works through with placement own
}

// wrapped is the directory of the stages' wrappers, which the Makefile
// runs as its BIN; rss is where the wrappers write what they measured.
func (b *bench) wrapped() string { return filepath.Join(b.tmp, "wrapped") }
func (b *bench) rss() string     { return filepath.Join(b.tmp, "rss") }

// buildWrappedStages builds the commands and puts each stage behind a
// wrapper that appends a line to a file of its own: peak RSS (KiB), wall
// seconds, user and system CPU seconds.
func (b *bench) buildWrappedStages() error {
	bin := filepath.Join(b.tmp, "bin")
	build := exec.Command("go", "build", "-o", bin+"/", "./cmd/...")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building: %w", err)
	}
	os.MkdirAll(b.wrapped(), 0o755)
	os.MkdirAll(b.rss(), 0o755)
	for _, s := range stages {
		script := fmt.Sprintf("#!/bin/sh\nexec /usr/bin/time -a -o %s/%s -f '%%M %%e %%U %%S' %s/hashr-%s \"$@\"\n", b.rss(), s, bin, s)
		if err := os.WriteFile(filepath.Join(b.wrapped(), "hashr-"+s), []byte(script), 0o755); err != nil {
			return err
		}
	}
	return nil
}

// repo makes a directory of links to the corpus's packages, copies times
// over (copies after the first under other names).
func (b *bench) repo(name string, copies int) (string, error) {
	dir := filepath.Join(b.tmp, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	for c := range copies {
		for _, d := range b.debs {
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

// pipelineRun runs the Makefile with n shards on n CPUs.
func (b *bench) pipelineRun(repoDir string, n int) (pipelineResult, error) {
	var res pipelineResult
	db, err := b.pg.CreateDatabase()
	if err != nil {
		return res, err
	}
	os.RemoveAll(b.rss())
	os.MkdirAll(b.rss(), 0o755)
	work := filepath.Join(b.tmp, fmt.Sprintf("work-%d-%d", n, time.Now().UnixNano()))
	defer os.RemoveAll(work)
	cpus := min(n, runtime.NumCPU())
	if err := b.pinServer(cpus); err != nil {
		return res, err
	}
	pgBefore, err := b.pg.CPUTime()
	if err != nil {
		return res, err
	}
	m := makeRun{args: []string{"-s", "-f", "examples/Makefile", "SHARDS=" + strconv.Itoa(b.shards(n)),
		"REPO=" + repoDir, "DB=" + db, "WORK=" + work, "BIN=" + b.wrapped()}, cpus: cpus, work: work}
	start := time.Now()
	var cmds []*exec.Cmd
	if b.placement == "shared" {
		cmds, err = m.shared(n)
	} else {
		cmds, err = m.ownCPUs(n, b.shards(n))
	}
	if err != nil {
		return res, err
	}
	res.wall = time.Since(start)
	for _, cmd := range cmds {
		res.cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	pgAfter, err := b.pg.CPUTime()
	if err != nil {
		return res, err
	}
	res.serverCPU = pgAfter - pgBefore
	return res, b.readStageFigures(&res)
}

// shards is how many shards n pipelines work through.
func (b *bench) shards(n int) int {
	if b.placement == "own" {
		return n * b.perPipeline
	}
	return n
}

// pinServer puts PostgreSQL on the first cpus CPUs, the pipelines' own:
// each stage sizes its workers by the CPUs it may use, so one pipeline
// alone already fills a machine, and the question is how throughput grows
// with the CPUs given, as it would with machines of a cluster. An
// unpinned server would lend the one-CPU run a second CPU.
func (b *bench) pinServer(cpus int) error {
	var set unix.CPUSet
	for c := range cpus {
		set.Set(c)
	}
	return b.pg.Pin(set)
}

// A makeRun runs examples/Makefile with the arguments of one pipeline run.
type makeRun struct {
	args []string
	cpus int
	work string
}

// command is make on the given CPUs (taskset's list) with extra
// arguments; its CPU time (every stage it waited for) counts in the run's.
func (m makeRun) command(cpuList string, extra ...string) *exec.Cmd {
	cmd := exec.Command("taskset", append([]string{"-c", cpuList, "make"}, append(m.args, extra...)...)...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd
}

func (m makeRun) allCPUs() string { return "0-" + strconv.Itoa(m.cpus-1) }

// shared is make -j n: the n pipelines share the n CPUs.
func (m makeRun) shared(n int) ([]*exec.Cmd, error) {
	cmd := m.command(m.allCPUs(), "-j", strconv.Itoa(n))
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("make with %d shards: %w", n, err)
	}
	return []*exec.Cmd{cmd}, nil
}

// ownCPUs scans and deals the shards first, then runs each shard's
// pipeline on one CPU, as on the machines of a cluster (no stage's
// threads, caches or TLBs span two CPUs): n workers, one per CPU, each
// taking the next shard from a queue as a cluster's job runner hands out
// jobs, so a worker that is done early takes on more.
func (m makeRun) ownCPUs(n, shards int) ([]*exec.Cmd, error) {
	var shardFiles []string
	for i := range shards {
		shardFiles = append(shardFiles, filepath.Join(m.work, fmt.Sprintf("shard-%d.ndjson", i)))
	}
	deal := m.command(m.allCPUs(), shardFiles...)
	if err := deal.Run(); err != nil {
		return nil, fmt.Errorf("make of %d shard files: %w", shards, err)
	}
	queue := make(chan int, shards)
	for i := range shards {
		queue <- i
	}
	close(queue)
	cmds := []*exec.Cmd{deal}
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for w := range n {
		wg.Go(func() {
			for i := range queue {
				cmd := m.command(strconv.Itoa(w%m.cpus), filepath.Join(m.work, fmt.Sprintf("shard-%d.done", i)))
				err := cmd.Run()
				mu.Lock()
				cmds = append(cmds, cmd)
				if err != nil {
					errs = append(errs, fmt.Errorf("make of shard %d of %d: %w", i, shards, err))
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return cmds, errors.Join(errs...)
}

// readStageFigures reads what the stages' wrappers wrote into res: each
// stage's peak RSS and CPU time over the shards, and each shard's wall.
func (b *bench) readStageFigures(res *pipelineResult) error {
	res.peaks = map[string]int{}
	res.stageCPU = map[string][2]float64{}
	for _, s := range stages {
		f, err := os.Open(filepath.Join(b.rss(), s))
		if err != nil {
			return err
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var kib int
			var wall, user, sys float64
			if _, err := fmt.Sscan(sc.Text(), &kib, &wall, &user, &sys); err != nil {
				continue // time's own complaint, e.g. a non-zero exit status
			}
			res.peaks[s] = max(res.peaks[s], kib)
			c := res.stageCPU[s]
			res.stageCPU[s] = [2]float64{c[0] + user, c[1] + sys}
			if s == "load" { // the last stage: it ends with its shard
				res.shardWalls = append(res.shardWalls, wall)
			}
		}
		f.Close()
	}
	return nil
}

// timePipelines runs the corpus through each count of pipelines in
// pipelineList and prints a table row for each run, then the medians.
func (b *bench) timePipelines(one, pipelineList string, corpusBytes int64) error {
	fmt.Println("| pipelines, on as many CPUs | wall | MiB/s of packages | speed-up | CPU-s: pipelines | PostgreSQL | busy | each shard |")
	fmt.Println("|---:|---:|---:|---:|---:|---:|---:|---|")
	var base time.Duration
	walls := map[int][]float64{} // pipelines → wall seconds of each run
	var counts []int
	for _, f := range strings.Split(pipelineList, ",") {
		n, err := strconv.Atoi(f)
		if err != nil {
			return fmt.Errorf("-pipelines: %w", err)
		}
		r, err := b.pipelineRun(one, n)
		if err != nil {
			return err
		}
		if base == 0 {
			base = r.wall
		}
		if walls[n] == nil {
			counts = append(counts, n)
		}
		walls[n] = append(walls[n], r.wall.Seconds())
		printPipelineRow(n, r, base, corpusBytes)
	}
	printMedians(walls, counts)
	return nil
}

// printPipelineRow prints one run's row of the table: base is the first
// run's wall, that speed-ups are of.
func printPipelineRow(n int, r pipelineResult, base time.Duration, corpusBytes int64) {
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
			fmt.Fprintf(os.Stderr, "  %d pipelines: hashr-%s %.1f user + %.1f system CPU-s\n", n, s, r.stageCPU[s][0], r.stageCPU[s][1])
		}
	}
}

// printMedians prints, where a count of pipelines ran more than once, the
// median wall of each count. This machine's speed drifts from run to run
// (a VM on a shared host: the same run takes 22 s or 30 s), so with
// several runs of each count the figure to quote is the ratio of the
// medians.
func printMedians(walls map[int][]float64, counts []int) {
	if len(walls[counts[0]]) <= 1 {
		return
	}
	fmt.Println()
	first := median(walls[counts[0]])
	for _, n := range counts {
		fmt.Printf("%d pipelines: median %.1f s of %d runs (%s), speed-up of medians %.2fx\n", n, median(walls[n]), len(walls[n]),
			strings.Trim(strings.Join(strings.Fields(fmt.Sprintf("%.1f", walls[n])), ", "), "[]"), first/median(walls[n]))
	}
}

// measureMemory runs one pipeline over the corpus once and over each
// scale's copies of it, and prints each stage's peak RSS for each.
func (b *bench) measureMemory(one string, scales []int, scaleList string) error {
	smallRun, err := b.pipelineRun(one, 1)
	if err != nil {
		return err
	}
	small := smallRun.peaks
	var larges []map[string]int
	for _, scale := range scales {
		big, err := b.repo(fmt.Sprintf("corpus-x%d", scale), scale)
		if err != nil {
			return err
		}
		large, err := b.pipelineRun(big, 1)
		if err != nil {
			return err
		}
		larges = append(larges, large.peaks)
	}
	fmt.Printf("\nPeak RSS of each stage, one pipeline, the corpus once and %s times (%d sources once):\n\n", scaleList, len(b.debs))
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
	return nil
}

// pipelineResult is what one run of the Makefile measured.
type pipelineResult struct {
	wall       time.Duration
	cpu        time.Duration         // every stage of every shard, user + system
	serverCPU  time.Duration         // PostgreSQL's, over the run
	shardWalls []float64             // seconds, one per shard
	peaks      map[string]int        // stage → largest peak RSS over the shards, KiB
	stageCPU   map[string][2]float64 // stage → user, system CPU seconds over the shards
}

func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func lastLine(s string) string {
	lines := slices.DeleteFunc(strings.Split(s, "\n"), func(l string) bool { return strings.TrimSpace(l) == "" })
	if len(lines) == 0 {
		return ""
	}
	return lines[len(lines)-1]
}
