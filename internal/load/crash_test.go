package load

import (
	"bytes"
	"database/sql"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashr-dev/hashr/internal/db/dbtest"
)

// child is hashr-load running as a process of its own (see TestMain).
type child struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr bytes.Buffer
	fed    chan struct{}
}

func startChild(t *testing.T, args ...string) *child {
	t.Helper()
	c := &child{cmd: exec.Command(os.Args[0], args...), fed: make(chan struct{})}
	c.cmd.Env = append(os.Environ(), "HASHR_LOAD_CHILD=1")
	c.cmd.Stderr = &c.stderr
	var err error
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.cmd.Process.Kill() })
	return c
}

// feed writes input in chunks with pauses, as a pipeline upstream does,
// then closes stdin. It gives up quietly when the child is gone.
func (c *child) feed(input []byte, chunk int, pause time.Duration) {
	go func() {
		defer close(c.fed)
		defer c.stdin.Close()
		for len(input) > 0 {
			n := min(chunk, len(input))
			if _, err := c.stdin.Write(input[:n]); err != nil {
				return
			}
			input = input[n:]
			time.Sleep(pause)
		}
	}()
}

func (c *child) wait() int {
	err := c.cmd.Wait()
	<-c.fed
	if exitErr, ok := err.(*exec.ExitError); ok {
		return exitErr.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// waitWithin is wait with a deadline: a child still running after d (a
// hang) is killed, and the test fails then rather than at go test's
// timeout.
func (c *child) waitWithin(t *testing.T, d time.Duration) int {
	t.Helper()
	var killed atomic.Bool
	timer := time.AfterFunc(d, func() {
		killed.Store(true)
		c.cmd.Process.Kill()
	})
	status := c.wait()
	timer.Stop()
	if killed.Load() {
		t.Fatalf("still running after %s, killed:\n%s", d, c.stderr.String())
	}
	return status
}

// checkWholeSources checks that every source in the database holds all its
// samples, and that a job exists only for a source that is there: no
// source is committed in part.
func checkWholeSources(t *testing.T, url string, sources []testSource) (committed int) {
	t.Helper()
	links := map[string]int64{}
	for _, s := range sources {
		distinct := map[string]bool{}
		for _, f := range s.files {
			h, _, _ := hexSum(f.content)
			distinct[h] = true
		}
		links[s.sha256] = int64(len(distinct))
	}
	sqldb := dbtest.Open(t, url)
	tableQuery := "SELECT count(*) FROM sqlite_master WHERE name = 'sources'"
	if strings.HasPrefix(url, "postgres") {
		tableQuery = "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'sources'"
	}
	if dbtest.Count(t, url, tableQuery) == 0 {
		return 0 // killed before it made its tables: nothing committed
	}
	rows, err := sqldb.Query(`SELECT s.sha256, (SELECT count(*) FROM samples_sources r WHERE r.source_sha256 = s.sha256),
		(SELECT count(*) FROM jobs j WHERE j.sha256 = s.sha256) FROM sources s`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var sha []byte
		var n, jobs int64
		if err := rows.Scan(&sha, &n, &jobs); err != nil {
			t.Fatal(err)
		}
		h := hex.EncodeToString(sha)
		if n != links[h] || jobs != 1 {
			t.Fatalf("source %s holds %d of its %d samples and %d jobs: committed in part", h, n, links[h], jobs)
		}
		committed++
	}
	if jobs := dbtest.Count(t, url, "SELECT count(*) FROM jobs"); jobs != int64(committed) {
		t.Fatalf("%d jobs for %d sources", jobs, committed)
	}
	return committed
}

// A kill -9 at any moment, then the same stream again, gives exactly the
// database a clean run gives.
func TestKill9ThenRerunEqualsCleanRun(t *testing.T) {
	sources := makeSources(4, 120, 30)
	input := ndjson(t, sources)
	pg, bs := backends(t)
	r := rand.New(rand.NewPCG(4, 4))
	for _, b := range bs {
		t.Run(b.name, func(t *testing.T) {
			if status, _, stderr := runLoad(t, input, "--db", b.url); status != 0 {
				t.Fatalf("clean run: exit %d\n%s", status, stderr)
			}
			clean := dbtest.Dump(t, b.url)
			for i := range 6 {
				url := sqliteURL(t)
				if b.name == "postgres" {
					url = pg.NewDatabase(t)
				}
				c := startChild(t, "--db", url, "--batch", "50", "--commit-every", "10ms")
				c.feed(input, 8<<10, 5*time.Millisecond)
				time.Sleep(time.Duration(r.Int64N(int64(700 * time.Millisecond))))
				c.cmd.Process.Kill()
				c.wait()
				committed := checkWholeSources(t, url, sources)
				t.Logf("kill %d: %d of %d sources were committed", i, committed, len(sources))
				if status, _, stderr := runLoad(t, input, "--db", url); status != 0 {
					t.Fatalf("re-run after kill -9: exit %d\n%s", status, stderr)
				}
				if d := dbtest.Diff(clean, dbtest.Dump(t, url)); d != "" {
					t.Fatalf("re-run after kill -9 differs from a clean run:\n%s", d)
				}
			}
		})
	}
}

// Four loaders into one PostgreSQL at once, sources split between them
// and samples overlapping, end with the rows one loader would write, and
// none of them sees an error.
func TestConcurrentLoadersIntoPostgres(t *testing.T) {
	concurrentLoaders(t, 5, func(i, j int) bool { return j%4 == i })
}

// The same with every source loaded by two of the four: each process's
// committers overlap (their waits for each other are advisory locks the
// server sees), and the processes' batches cross on samples and links.
// (load21d's overlap, whose waits were in process, hung in the test above;
// internal/db's TestWaitCycleAcrossProcessesIsBroken builds its cycle.)
func TestConcurrentLoadersSharingSourcesIntoPostgres(t *testing.T) {
	concurrentLoaders(t, 8, func(i, j int) bool { return j%4 == i || j%4 == (i+1)%4 })
}

// concurrentLoaders loads sources once by one loader and once by four at
// once, loader i taking source j when takes(i, j), and compares.
func concurrentLoaders(t *testing.T, seed uint64, takes func(i, j int) bool) {
	pg, _ := backends(t)
	sources := makeSources(seed, 240, 30)
	one := pg.NewDatabase(t)
	if status, _, stderr := runLoad(t, ndjson(t, sources), "--db", one); status != 0 {
		t.Fatalf("single loader: exit %d\n%s", status, stderr)
	}
	many := pg.NewDatabase(t)
	var children []*child
	for i := range 4 {
		var part []testSource
		for j := range sources {
			if takes(i, j) {
				part = append(part, sources[j])
			}
		}
		c := startChild(t, "--db", many, "--batch", "40", "--verbose")
		c.feed(ndjson(t, part), 64<<10, 0)
		children = append(children, c)
	}
	retries := 0
	for i, c := range children {
		if status := c.waitWithin(t, 3*time.Minute); status != 0 {
			t.Fatalf("loader %d: exit %d\n%s", i, status, c.stderr.String())
		}
		if strings.Contains(c.stderr.String(), "error") {
			t.Fatalf("loader %d reported an error:\n%s", i, c.stderr.String())
		}
		retries += strings.Count(c.stderr.String(), "retrying")
	}
	t.Logf("%d transactions retried", retries)
	checkCounts(t, many, expect(sources))
	if d := dbtest.Diff(dbtest.Dump(t, one), dbtest.Dump(t, many)); d != "" {
		t.Fatalf("four loaders at once differ from one:\n%s", d)
	}
}

// A PostgreSQL restarted in the middle of a load: the loader retries and
// ends with the database a clean run gives.
func TestPostgresRestartedMidLoad(t *testing.T) {
	pg, _ := backends(t)
	sources := makeSources(6, 150, 30)
	input := ndjson(t, sources)
	clean := pg.NewDatabase(t)
	if status, _, stderr := runLoad(t, input, "--db", clean); status != 0 {
		t.Fatalf("clean run: exit %d\n%s", status, stderr)
	}
	url := pg.NewDatabase(t)
	c := startChild(t, "--db", url, "--batch", "30", "--commit-every", "10ms", "--verbose", "--retry-for", "1m")
	c.feed(input, 4<<10, 10*time.Millisecond) // about 3 s of input
	waitFor(t, "a first commit", func() bool { return jobCount(url) > 0 })
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	if status := c.wait(); status != 0 {
		t.Fatalf("exit %d\n%s", status, c.stderr.String())
	}
	if !strings.Contains(c.stderr.String(), "retrying in") {
		t.Errorf("no retry was reported:\n%s", c.stderr.String())
	}
	if d := dbtest.Diff(dbtest.Dump(t, clean), dbtest.Dump(t, url)); d != "" {
		t.Fatalf("a load across a server restart differs from a clean run:\n%s", d)
	}
}

// A PostgreSQL that stays away: the loader retries for --retry-for, then
// stops with exit status 1 and a clear message, and nothing is committed
// in part.
func TestPostgresGoneForGood(t *testing.T) {
	pg, _ := backends(t)
	sources := makeSources(7, 150, 30)
	url := pg.NewDatabase(t)
	c := startChild(t, "--db", url, "--batch", "30", "--commit-every", "10ms", "--retry-for", "2s")
	c.feed(ndjson(t, sources), 4<<10, 10*time.Millisecond)
	waitFor(t, "a first commit", func() bool { return jobCount(url) > 0 })
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	status := c.wait()
	stderr := c.stderr.String()
	if status != 1 {
		t.Fatalf("exit %d, want 1\n%s", status, stderr)
	}
	if !strings.Contains(stderr, "still failing after retrying for 2s") || !strings.Contains(stderr, "nothing of these sources was committed") {
		t.Fatalf("unclear message:\n%s", stderr)
	}
	if waited := time.Since(start); waited > 30*time.Second {
		t.Fatalf("gave up after %s, --retry-for was 2s", waited)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := pg.Start(); err != nil {
			t.Error(err)
		}
	})
	wg.Wait()
	committed := checkWholeSources(t, url, sources)
	t.Logf("%d of %d sources were committed before the server went away", committed, len(sources))
	if committed == 0 || committed == len(sources) {
		t.Fatalf("%d sources committed: the server did not go away mid-load", committed)
	}
}

// SIGINT commits the sources that had finished, not the one being read,
// and the run ends with exit status 1.
func TestInterruptCommitsFinishedSourcesOnly(t *testing.T) {
	sources := makeSources(8, 6, 10)
	input := ndjson(t, sources)
	// The first four sources whole, and half of the fifth.
	fifth := bytes.Index(input, []byte(`{"type":"source","repo":"deb","repo_path":"/mirror","id":"`+sources[4].id))
	part := input[:fifth+(bytes.Index(input[fifth:], []byte(`{"type":"end"`)))]
	url := sqliteURL(t)
	c := startChild(t, "--db", url, "--commit-every", "1h")
	if _, err := c.stdin.Write(part); err != nil {
		t.Fatal(err)
	}
	// The database exists once the child handles signals; then let it
	// read what it was given.
	waitFor(t, "the database", func() bool { _, err := os.Stat(strings.TrimPrefix(url, "sqlite:")); return err == nil })
	time.Sleep(500 * time.Millisecond)
	c.cmd.Process.Signal(os.Interrupt)
	close(c.fed)
	err := c.cmd.Wait()
	c.stdin.Close()
	exitErr, ok := err.(*exec.ExitError)
	if !ok || exitErr.ExitCode() != 1 {
		t.Fatalf("exit %v, want 1\n%s", err, c.stderr.String())
	}
	if !strings.Contains(c.stderr.String(), "source "+sources[4].id+": interrupted before its end record: nothing of it was loaded") {
		t.Fatalf("stderr:\n%s", c.stderr.String())
	}
	checkCounts(t, url, expect(sources[:4]))
}

// waitFor polls cond for up to a minute: a loaded test machine can be slow.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("waited a minute for %s", what)
}

// jobCount counts the jobs committed so far, or -1 when it cannot tell.
func jobCount(url string) int64 {
	sqldb, err := sql.Open("pgx", url)
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
