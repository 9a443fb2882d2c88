// Package faults injects faults into whole hashr pipelines over real
// Debian packages loading into a real PostgreSQL — kill -9 of each stage at
// random moments, a server restart in the middle of a load, a spool whose
// disk fills up, four pipelines loading at once — and checks that a re-run
// ends with exactly the database a clean run gives, table by table.
//
// The short form runs in CI with `make test`. The long form injects more
// faults and prints the figures bench/README.md keeps:
//
//	HASHR_FAULTS_ROUNDS=5 go test -count=1 -v -run . ./test/faults/
package faults

import (
	"bytes"
	"database/sql"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"

	"github.com/hashr-dev/hashr/internal/db/dbtest"
	"github.com/hashr-dev/hashr/internal/db/pgtest"
	"github.com/hashr-dev/hashr/internal/dedup"
	"github.com/hashr-dev/hashr/internal/extract"
	"github.com/hashr-dev/hashr/internal/fetch"
	"github.com/hashr-dev/hashr/internal/hash"
	"github.com/hashr-dev/hashr/internal/load"
	"github.com/hashr-dev/hashr/internal/scan"
	"github.com/hashr-dev/hashr/internal/testcorpus"
)

// mains are the stages, each run as a process of its own: the test binary
// started again with HASHR_FAULTS_STAGE naming the stage (see TestMain).
var mains = map[string]func(args []string, stdin io.Reader, stdout, stderr io.Writer) int{
	"scan": scan.Main, "fetch": fetch.Main, "extract": extract.Main,
	"hash": hash.Main, "dedup": dedup.Main, "load": load.Main,
}

// stageNames is the pipeline's order.
var stageNames = []string{"scan", "fetch", "extract", "hash", "dedup", "load"}

func TestMain(m *testing.M) {
	if name := os.Getenv("HASHR_FAULTS_STAGE"); name != "" {
		os.Exit(mains[name](os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	// hashr-extract parses each source in a child that is this binary.
	if os.Getenv(extract.SandboxChildEnv) == "1" {
		os.Exit(extract.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// rounds is how many faults of each kind a test injects: 1 in the short
// form, HASHR_FAULTS_ROUNDS in the long one.
func rounds(t *testing.T) int {
	n, err := strconv.Atoi(os.Getenv("HASHR_FAULTS_ROUNDS"))
	if err != nil || n < 1 {
		return 1
	}
	return n
}

// volatile are the columns that differ between two correct runs of the
// same pipeline: how long each stage took on a source, and how many of
// its files the dedup store had not seen (a store that got ahead of the
// database before a crash sees more).
var volatile = []string{"ms", "new_files"}

// work is the state one pipeline keeps between runs, as a user's make
// job would: fetch's work directory, the spool and the dedup store.
type work struct{ fetch, spool, store string }

func newWork(t *testing.T) work {
	dir := t.TempDir()
	return work{filepath.Join(dir, "fetch"), filepath.Join(dir, "spool"), filepath.Join(dir, "store")}
}

// args are the six stages' command lines for repo into db. scan --db
// skips the sources a run before finished, as a user's re-run would.
func (w work) args(db string, repo ...string) [][]string {
	return [][]string{
		append([]string{"--quiet", "--db", db}, repo...),
		{"--quiet", "--work", w.fetch},
		{"--quiet", "--spool", w.spool},
		{"--quiet", "--delete"},
		{"--quiet", "--store", w.store},
		{"--quiet", "--db", db, "--retry-for", "1m"},
	}
}

// pipeline is the six stages running as processes, stdout to stdin.
type pipeline struct {
	cmds   []*exec.Cmd
	stderr []*bytes.Buffer
	output bytes.Buffer // hashr-load's stdout: the error records (and the plan)
}

func start(t *testing.T, args [][]string) *pipeline {
	t.Helper()
	p := &pipeline{}
	var stdin *os.File
	for i, name := range stageNames {
		cmd := exec.Command(os.Args[0], args[i]...)
		cmd.Env = append(os.Environ(), "HASHR_FAULTS_STAGE="+name)
		cmd.Stdin = stdin
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		var next *os.File
		if i < len(stageNames)-1 {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stdout, next = w, r
		} else {
			cmd.Stdout = &p.output
		}
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting %s: %v", name, err)
		}
		// The children hold their own copies of the pipe's ends.
		if stdin != nil {
			stdin.Close()
		}
		if w, ok := cmd.Stdout.(*os.File); ok {
			w.Close()
		}
		stdin = next
		p.cmds = append(p.cmds, cmd)
		p.stderr = append(p.stderr, &stderr)
	}
	t.Cleanup(func() {
		for _, c := range p.cmds {
			c.Process.Kill()
		}
	})
	return p
}

// wait returns each stage's exit status (-1 for a stage killed by a
// signal).
func (p *pipeline) wait() []int {
	status, _ := p.waitTimed()
	return status
}

// waitTimed also says when each stage ended, counted from the call.
func (p *pipeline) waitTimed() ([]int, []time.Duration) {
	began := time.Now()
	status := make([]int, len(p.cmds))
	ended := make([]time.Duration, len(p.cmds))
	var wg sync.WaitGroup
	for i, c := range p.cmds {
		wg.Go(func() {
			c.Wait()
			status[i], ended[i] = c.ProcessState.ExitCode(), time.Since(began)
		})
	}
	wg.Wait()
	return status, ended
}

// stderrOf is what every stage said, for failure messages.
func (p *pipeline) stderrOf() string {
	var b strings.Builder
	for i, s := range p.stderr {
		if s.Len() > 0 {
			fmt.Fprintf(&b, "--- hashr-%s:\n%s", stageNames[i], s.String())
		}
	}
	return b.String()
}

// runClean runs a pipeline to its end, requires every stage to succeed,
// and returns how long each stage ran.
func runClean(t *testing.T, args [][]string) []time.Duration {
	t.Helper()
	p := start(t, args)
	status, ended := p.waitTimed()
	for i, s := range status {
		if s != 0 {
			t.Fatalf("hashr-%s: exit %d\n%s", stageNames[i], s, p.stderrOf())
		}
	}
	return ended
}

// repository is real Debian packages, and, so that sources share content
// as in real repositories, two of them again as .tar.gz of their installed
// files; spread over four directories, the quarters that four pipelines
// take at once. A pipeline's run over the whole repository scans all four.
func repository(t *testing.T) (quarters []string) {
	t.Helper()
	testcorpus.NeedTools(t, "dpkg-deb", "gzip")
	debs := testcorpus.SmallDebs(t, 8, 600<<10)
	root := t.TempDir()
	for q := range 4 {
		quarters = append(quarters, filepath.Join(root, fmt.Sprintf("q%d", q)))
		if err := os.Mkdir(quarters[q], 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for i, deb := range debs {
		if err := os.Symlink(deb, filepath.Join(quarters[i%4], filepath.Base(deb))); err != nil {
			t.Fatal(err)
		}
	}
	for i, deb := range debs[len(debs)-2:] {
		dst := filepath.Join(quarters[i], strings.TrimSuffix(filepath.Base(deb), ".deb")+".files.tar.gz")
		script := `dpkg-deb --fsys-tarfile "$1" | gzip -n > "$2"`
		if out, err := exec.Command("sh", "-c", script, "sh", deb, dst).CombinedOutput(); err != nil {
			t.Fatalf("repacking %s: %v\n%s", deb, err, out)
		}
	}
	return quarters
}

// cleanDump loads repo with a clean run into a new database and returns
// the database's dump and how long each stage ran.
func cleanDump(t *testing.T, pg *pgtest.Server, repo []string) (map[string][]string, []time.Duration) {
	t.Helper()
	db := pg.NewDatabase(t)
	took := runClean(t, newWork(t).args(db, repo...))
	dump := dbtest.DumpExcept(t, db, volatile...)
	if len(dump["samples"]) < 100 || len(dump["jobs"]) < 8 {
		t.Fatalf("the clean run loaded %d samples and %d jobs: too little to test with", len(dump["samples"]), len(dump["jobs"]))
	}
	return dump, took
}

func rowsOf(dump map[string][]string) (n int) {
	for _, rows := range dump {
		n += len(rows)
	}
	return n
}

// sameAsClean compares a database with the clean run's dump.
func sameAsClean(t *testing.T, clean map[string][]string, db, what string) {
	t.Helper()
	if d := dbtest.Diff(clean, dbtest.DumpExcept(t, db, volatile...)); d != "" {
		t.Fatalf("%s: the database differs from a clean run's:\n%s", what, d)
	}
}

// kill -9 of each stage at a random moment of a run, then the same
// pipeline again: the database equals a clean run's.
func TestKill9OfEachStageThenRerun(t *testing.T) {
	repo := repository(t)
	pg := pgtest.Start(t)
	clean, took := cleanDump(t, pg, repo)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 9))
	faults, compared := 0, 0
	for _, victim := range stageNames {
		i := indexOf(victim)
		window := took[i] // how long the stage ran in the clean run
		for round := range rounds(t) {
			// A moment drawn from the stage's run time, judging by the clean
			// run; when the stage had already ended (the machine was faster
			// this time), the pipeline is re-run afresh into a new database
			// and killed earlier, until the kill lands.
			for attempt := 0; ; attempt++ {
				db := pg.NewDatabase(t)
				w := newWork(t)
				p := start(t, w.args(db, repo...))
				delay := time.Duration(rng.Int64N(int64(window)))
				time.Sleep(delay)
				p.cmds[i].Process.Signal(syscall.SIGKILL)
				status := p.wait()
				killed := status[i] == -1
				t.Logf("kill -9 hashr-%s after %v (round %d): killed=%v, exit statuses %v, %d jobs committed before the re-run",
					victim, delay.Round(time.Millisecond), round+1, killed, status, max(jobs(db), 0))
				runClean(t, w.args(db, repo...))
				sameAsClean(t, clean, db, fmt.Sprintf("re-run after kill -9 of hashr-%s at %v", victim, delay))
				compared++
				if killed {
					faults++
					break
				}
				if attempt == 5 {
					t.Fatalf("hashr-%s was never running when killed in 6 attempts", victim)
				}
				window = max(window/2, 10*time.Millisecond)
			}
		}
	}
	t.Logf("FIGURES kill-9: %d kills of running stages (%d stages x %d rounds), %d re-runs compared with the clean run, %d rows each",
		faults, len(stageNames), rounds(t), compared, rowsOf(clean))
}

func indexOf(stage string) int {
	for i, s := range stageNames {
		if s == stage {
			return i
		}
	}
	panic("no stage " + stage)
}

// A PostgreSQL restarted while the pipeline loads: hashr-load retries,
// the pipeline finishes, and the database equals a clean run's.
func TestPostgresRestartMidPipeline(t *testing.T) {
	repo := repository(t)
	pg := pgtest.Start(t)
	clean, _ := cleanDump(t, pg, repo)
	for round := range rounds(t) {
		db := pg.NewDatabase(t)
		args := newWork(t).args(db, repo...)
		// Commit each source as it ends, so the restart falls between
		// commits and inside them.
		args[5] = append(args[5], "--commit-every", "1ms", "--batch", "1")
		p := start(t, args)
		waitFor(t, "the first committed job", func() bool { return jobs(db) > 0 })
		if err := pg.Stop(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		if err := pg.Start(); err != nil {
			t.Fatal(err)
		}
		for i, s := range p.wait() {
			if s != 0 {
				t.Fatalf("round %d: hashr-%s: exit %d across the restart\n%s", round+1, stageNames[i], s, p.stderrOf())
			}
		}
		sameAsClean(t, clean, db, "a pipeline across a server restart")
	}
	t.Logf("FIGURES restart: %d server restarts mid-load, %d rows compared each time", rounds(t), rowsOf(clean))
}

// jobs counts a database's jobs, or returns -1 while it cannot be asked.
func jobs(db string) int64 {
	sqldb, err := sql.Open("pgx", db)
	if err != nil {
		return -1
	}
	defer sqldb.Close()
	var n int64
	if err := sqldb.QueryRow("SELECT count(*) FROM jobs").Scan(&n); err != nil {
		return -1
	}
	return n
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 2 minutes for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A spool on a file system that fills up: the sources that do not fit
// fail (error records, exit 3, their jobs partial or failed: a member that
// could not be spooled fails alone), the rest load; a re-run with room
// retries every job not done and ends with a clean run's database.
// It needs a small file system of its own: a tmpfs, mounted as root.
func TestSpoolDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		testcorpus.Unavailable(t, "mounting a small tmpfs needs root")
	}
	repo := repository(t)
	pg := pgtest.Start(t)
	clean, _ := cleanDump(t, pg, repo)
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt).CombinedOutput(); err != nil {
		testcorpus.Unavailable(t, "cannot mount a tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })

	db := pg.NewDatabase(t)
	w := newWork(t)
	full := w
	full.spool = filepath.Join(mnt, "spool")
	args := full.args(db, repo...)
	// No reserve of free space: the writes themselves hit ENOSPC.
	args[2] = append(args[2], "--min-free", "0")
	p := start(t, args)
	status := p.wait()
	if status[indexOf("extract")] != 3 {
		t.Fatalf("hashr-extract on a full spool: exit %d, want 3\n%s", status[indexOf("extract")], p.stderrOf())
	}
	failed := dbtest.Count(t, db, "SELECT count(*) FROM jobs WHERE status <> 'done'")
	if failed == 0 {
		t.Fatalf("no job failed with a 2 MiB spool\n%s", p.stderrOf())
	}
	t.Logf("with a 2 MiB spool: exit statuses %v, %d jobs partial or failed, %d done", status, failed,
		dbtest.Count(t, db, "SELECT count(*) FROM jobs WHERE status = 'done'"))
	// hashr-hash --delete removed what was spooled; a failed source's
	// partial files must not stay behind either.
	filepath.WalkDir(full.spool, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			t.Errorf("left in the full spool after the run: %s", path)
		}
		return nil
	})
	runClean(t, w.args(db, repo...))
	sameAsClean(t, clean, db, "a re-run after a full spool")
	t.Logf("FIGURES disk-full: %d sources failed on a 2 MiB spool, then loaded on a re-run; %d rows compared", failed, rowsOf(clean))
}

// Four pipelines over disjoint quarters of a repository whose sources
// share content, loading into one PostgreSQL at once: every one succeeds
// without an error, and the database equals one clean run's.
func TestFourPipelinesIntoOnePostgres(t *testing.T) {
	repo := repository(t)
	pg := pgtest.Start(t)
	clean, _ := cleanDump(t, pg, repo)
	for round := range rounds(t) {
		db := pg.NewDatabase(t)
		var ps []*pipeline
		for _, quarter := range repo {
			ps = append(ps, start(t, newWork(t).args(db, quarter)))
		}
		for q, p := range ps {
			for i, s := range p.wait() {
				if s != 0 {
					t.Fatalf("round %d, pipeline %d: hashr-%s: exit %d\n%s", round+1, q, stageNames[i], s, p.stderrOf())
				}
			}
			if strings.Contains(p.stderrOf(), "error") || strings.Contains(p.output.String(), `"type":"error"`) {
				t.Fatalf("round %d, pipeline %d reported errors:\n%s%s", round+1, q, p.stderrOf(), p.output.String())
			}
		}
		sameAsClean(t, clean, db, "four pipelines at once")
	}
	t.Logf("FIGURES concurrency: %d rounds of 4 pipelines into one PostgreSQL, %d rows compared each time", rounds(t), rowsOf(clean))
}

// examples/Makefile splits a repository by source across make -j
// pipelines into one PostgreSQL: the database equals one pipeline's, and
// a second make has nothing left to do.
func TestMakefileShardsIntoOnePostgres(t *testing.T) {
	testcorpus.NeedTools(t, "make", "awk", "go")
	repo := repository(t)
	pg := pgtest.Start(t)
	clean, _ := cleanDump(t, pg, repo)
	top, bin := buildCommands(t)
	db := pg.NewDatabase(t)
	work := t.TempDir()
	makeArgs := []string{"-s", "-f", filepath.Join(top, "examples", "Makefile"), "-j", "3", "SHARDS=3",
		"REPO=" + strings.Join(repo, " "), "DB=" + db, "WORK=" + work, "BIN=" + bin}
	for run := range 2 {
		cmd := exec.Command("make", makeArgs...)
		cmd.Dir = work
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("make, run %d: %v\n%s", run+1, err, out)
		}
		if run == 1 && !strings.Contains(string(out), "Nothing to be done") && len(out) > 0 {
			t.Errorf("the second make did work:\n%s", out)
		}
	}
	sameAsClean(t, clean, db, "examples/Makefile with 3 shards")
	for i := range 3 {
		if _, err := os.Stat(filepath.Join(work, fmt.Sprintf("shard-%d.done", i))); err != nil {
			t.Errorf("shard %d: %v", i, err)
		}
	}
}
