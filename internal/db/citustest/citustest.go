// Package citustest starts a throwaway Citus cluster for tests: a
// coordinator and workers, each a PostgreSQL server of pgtest's with the
// citus extension preloaded, on free loopback ports in temporary
// directories.
//
// Citus is not part of the project: its source and build script live in
// the shared test tools (HASHR_SHARED_TOOLS/citus; .ci/run sets it to the
// tools directory beside the clone). When citus is not installed, Start builds it with that
// build.sh (root only, once per machine). The tools' cluster.sh uses fixed
// ports and directories, and su, so tests that run beside others start
// their nodes here instead, with the same commands (shared_preload_libraries,
// CREATE EXTENSION citus, citus_set_coordinator_host, citus_add_node).
// Without the tools or the extension a test is skipped with the reason,
// except under CI, where it fails.
package citustest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sys/unix"

	"github.com/hashr-dev/hashr/internal/db/pgtest"
)

// Cluster is a running coordinator and its workers.
type Cluster struct {
	Coordinator *pgtest.Server
	Workers     []*pgtest.Server
	seq         int
}

// settings are every node's: citus loaded at start, room for the
// connections a coordinator opens to its workers for several loaders at
// once, and few shards, which is enough to spread rows over two workers
// and keeps each statement's fan-out small; and no TLS between the nodes
// on loopback (the servers run as the postgres user with root's HOME when
// tests run as root, and libpq would read root's ~/.postgresql).
var settings = []string{"shared_preload_libraries=citus", "max_connections=200", "citus.shard_count=8", "citus.node_conninfo=sslmode=disable"}

// Unavailable fails the test under CI and skips it elsewhere.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("Citus tests must run in CI: "+format, args...)
	}
	t.Skipf("skipping Citus test: "+format, args...)
}

var buildOnce struct {
	sync.Once
	err error
}

// Install makes sure the citus extension is installed in the system's
// PostgreSQL, building it with the shared tools' build.sh if not.
func Install(t testing.TB) {
	t.Helper()
	bin, err := pgtest.Binaries()
	if err != nil {
		Unavailable(t, "%v", err)
	}
	lib, err := exec.Command(filepath.Join(bin, "pg_config"), "--pkglibdir").Output()
	if err != nil {
		Unavailable(t, "pg_config --pkglibdir: %v (install postgresql-server-dev-15 or build.sh's packages)", err)
	}
	tools := os.Getenv("HASHR_SHARED_TOOLS")
	if tools == "" && os.Getenv("CI") != "" {
		// CI runs .ci/run, which sets it: its absence is a broken setup.
		t.Fatalf("Citus tests must run in CI: HASHR_SHARED_TOOLS is not set (.ci/run sets it to the shared tools directory beside the clone, whose citus/build.sh builds Citus)")
	}
	if _, err := os.Stat(filepath.Join(strings.TrimSpace(string(lib)), "citus.so")); err == nil {
		return
	}
	if tools == "" {
		Unavailable(t, "citus is not installed and HASHR_SHARED_TOOLS is not set: set it to the shared tools directory beside the clone, whose citus/build.sh builds it")
	}
	build := filepath.Join(tools, "citus", "build.sh")
	if _, err := os.Stat(build); err != nil {
		Unavailable(t, "citus is not installed and there is no build script: %v", err)
	}
	if os.Geteuid() != 0 {
		Unavailable(t, "citus is not installed, and only root may build it: run %s as root", build)
	}
	buildOnce.Do(func() { buildOnce.err = runBuild(t, build) })
	if buildOnce.err != nil {
		t.Fatalf("building citus: %v", buildOnce.err)
	}
}

// runBuild runs build.sh holding a lock that the test binaries of other
// packages, which go test runs at once, wait for: one builds, and the
// others find citus installed when build.sh, run after it, says so.
func runBuild(t testing.TB, build string) error {
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "hashr-citus-build.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("locking %s: %w", lock.Name(), err)
	}
	began := time.Now()
	out, err := exec.Command(build).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w\n%s", build, err, out)
	}
	t.Logf("%s: %s (%s)", build, strings.TrimSpace(string(out)), time.Since(began).Round(time.Second))
	return nil
}

// Start starts a coordinator and n workers for the test, stopped and
// removed when it ends.
func Start(t testing.TB, workers int) *Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("a Citus cluster (several PostgreSQL servers, and maybe building Citus): not with -short")
	}
	Install(t)
	c := &Cluster{Coordinator: pgtest.StartWith(t, settings...)}
	for range workers {
		c.Workers = append(c.Workers, pgtest.StartWith(t, settings...))
	}
	return c
}

// NewDatabase creates a database on every node, with the citus extension,
// the workers added to the coordinator's metadata, and returns the
// coordinator's URL of it: what a hashr user points --db at.
func (c *Cluster) NewDatabase(t testing.TB) string {
	t.Helper()
	c.seq++
	name := fmt.Sprintf("citus_%d", c.seq)
	ctx := context.Background()
	for _, node := range append([]*pgtest.Server{c.Coordinator}, c.Workers...) {
		if err := node.Exec(ctx, "postgres", "CREATE DATABASE "+name); err != nil {
			t.Fatalf("creating database %s on port %d: %v", name, node.Port, err)
		}
		if err := node.Exec(ctx, name, "CREATE EXTENSION citus"); err != nil {
			t.Fatalf("creating the citus extension on port %d: %v", node.Port, err)
		}
	}
	setup := fmt.Sprintf("SELECT citus_set_coordinator_host('127.0.0.1', %d);", c.Coordinator.Port)
	for _, w := range c.Workers {
		setup += fmt.Sprintf("SELECT citus_add_node('127.0.0.1', %d);", w.Port)
	}
	if err := c.Coordinator.Exec(ctx, name, setup); err != nil {
		t.Fatalf("adding the workers to the coordinator: %v", err)
	}
	return c.Coordinator.URL(name)
}

// Query runs a query on the coordinator and returns its first column's
// rows as text.
func Query(t testing.TB, url, query string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return out
}
