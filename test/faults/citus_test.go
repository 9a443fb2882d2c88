package faults

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hashr-dev/hashr/internal/db/citustest"
	"github.com/hashr-dev/hashr/internal/db/pgtest"
	"github.com/hashr-dev/hashr/internal/lockedbuf"
	"github.com/hashr-dev/hashr/internal/testcorpus"
)

// examples/Makefile's shards, one loader each, load at once into a Citus
// cluster of two workers; one worker stops as a failed machine does
// (pg_ctl -m immediate) once the loaders have created the schema, and
// starts again after the first loader reports a retry. Every shard
// finishes, and the database equals a clean single-PostgreSQL run's, row
// for row.
func TestMakefileShardsIntoCitusAcrossAWorkerRestart(t *testing.T) {
	testcorpus.NeedTools(t, "make", "awk", "go")
	repo := repository(t)
	cluster := citustest.Start(t, 2)
	pg := pgtest.Start(t)
	clean, _ := cleanDump(t, pg, repo)
	top, bin := buildCommands(t)
	db := cluster.NewDatabase(t)
	work := t.TempDir()
	cmd := exec.Command("make", "-s", "-f", filepath.Join(top, "examples", "Makefile"), "-j", "3", "SHARDS=3",
		"REPO="+strings.Join(repo, " "), "DB="+db, "WORK="+work, "BIN="+bin, "STAGE_FLAGS=--verbose --progress=never")
	cmd.Dir = work
	out := &lockedbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	worker := cluster.Workers[0]
	waitFor(t, "the loaders' schema", func() bool { return jobs(db) >= 0 })
	if err := worker.Crash(); err != nil {
		t.Fatal(err)
	}
	down := time.Now()
	waitFor(t, "a loader's retry", func() bool { return strings.Contains(out.String(), "retrying in") })
	time.Sleep(time.Second)
	if err := worker.Start(); err != nil {
		t.Fatal(err)
	}
	t.Logf("worker on port %d down for %s", worker.Port, time.Since(down).Round(time.Millisecond))
	if err := cmd.Wait(); err != nil {
		t.Fatalf("make across the worker's restart: %v\n%s", err, out.String())
	}
	sameAsClean(t, clean, db, "examples/Makefile with 3 shards into Citus across a worker restart")
	retries := strings.Count(out.String(), "retrying in")
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.Contains(line, "retrying in") {
			t.Logf("%d retries; the first: %s", retries, line)
			break
		}
	}
	for i := range 3 {
		if _, err := os.Stat(filepath.Join(work, fmt.Sprintf("shard-%d.done", i))); err != nil {
			t.Errorf("shard %d: %v", i, err)
		}
	}
	t.Logf("FIGURES citus-restart: 3 shards into Citus (2 workers), a worker down mid-load, %d retries, %d rows compared with one PostgreSQL's", retries, rowsOf(clean))
}

// buildCommands builds hashr's commands for tests that run them as a user
// does (make), and returns the repository's top and the bin directory.
func buildCommands(t *testing.T) (top, bin string) {
	t.Helper()
	_, here, _, _ := runtime.Caller(0)
	top = filepath.Join(filepath.Dir(here), "..", "..")
	bin = t.TempDir()
	build := exec.Command("go", "build", "-o", bin+"/", "./cmd/...")
	build.Dir = top
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return top, bin
}
