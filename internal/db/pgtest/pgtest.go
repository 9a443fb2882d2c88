// Package pgtest starts a real, throwaway PostgreSQL server for tests, from
// the system's binaries (Debian's postgresql package: initdb, pg_ctl and
// postgres under /usr/lib/postgresql/VERSION/bin). The server listens on a
// free loopback port with trust authentication, keeps its data in a
// temporary directory, and is stopped and removed when the test ends.
//
// Tests that need it call Start. When the binaries are missing a test is
// skipped, except under CI (the CI environment variable is set), where it
// fails: PostgreSQL tests must run there, never be skipped.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sys/unix"
)

// Server is one running PostgreSQL server.
type Server struct {
	bin   string // directory holding initdb, pg_ctl, postgres
	root  string // temporary directory: data/, sockets/, log
	Port  int
	cred  *syscall.Credential // the postgres user's, when tests run as root
	dbSeq atomic.Int64
	// durable servers sync to disk; test servers skip it for speed.
	durable bool
	// settings are more server settings, name=value, each passed as -c.
	settings []string
}

// Start initialises and starts a server for the test, and registers its
// shutdown and removal with t.Cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartWith(t)
}

// StartWith is Start with more server settings, each name=value (such as
// shared_preload_libraries=citus, for an extension that must be loaded at
// start).
func StartWith(t testing.TB, settings ...string) *Server {
	t.Helper()
	bin, err := Binaries()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("PostgreSQL tests must run in CI: %v (install the postgresql package)", err)
		}
		t.Skipf("skipping PostgreSQL test: %v", err)
	}
	s, err := start(bin, false, settings...)
	if err != nil {
		t.Fatalf("starting PostgreSQL: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// Binaries finds the directory of PostgreSQL's server binaries: the newest
// under /usr/lib/postgresql, else the one pg_config names, else PATH.
func Binaries() (string, error) {
	var candidates []string
	if dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin"); len(dirs) > 0 {
		sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
		candidates = append(candidates, dirs...)
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		candidates = append(candidates, strings.TrimSpace(string(out)))
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		candidates = append(candidates, filepath.Dir(p))
	}
	for _, dir := range candidates {
		if isExecutable(filepath.Join(dir, "initdb")) && isExecutable(filepath.Join(dir, "pg_ctl")) && isExecutable(filepath.Join(dir, "postgres")) {
			return dir, nil
		}
	}
	return "", errors.New("no PostgreSQL server binaries (initdb, pg_ctl, postgres) in /usr/lib/postgresql/*/bin or PATH")
}

func versionOf(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// StartDurable starts a server outside a test, for benchmarks: unlike
// Start's, it syncs its writes to disk (fsync on, PostgreSQL's default), as
// a production server does. settings are more server settings, each
// name=value. The caller must Close it.
func StartDurable(settings ...string) (*Server, error) {
	bin, err := Binaries()
	if err != nil {
		return nil, err
	}
	return start(bin, true, settings...)
}

func start(bin string, durable bool, settings ...string) (*Server, error) {
	root, err := os.MkdirTemp("", "hashr-pgtest-")
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin, root: root, durable: durable, settings: settings}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(root)
		}
	}()
	// PostgreSQL refuses to run as root: the server runs as the postgres
	// user then, and must own its directories.
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("tests run as root but there is no postgres user to run the server: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	for _, dir := range []string{root, s.dataDir(), s.socketDir()} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		if s.cred != nil {
			if err := os.Chown(dir, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
				return nil, err
			}
		}
	}
	if out, err := s.run("initdb", "-D", s.dataDir(), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	var lastErr error
	for range 5 { // a free port can be taken between choosing and binding
		if s.Port, err = freePort(); err != nil {
			return nil, err
		}
		if lastErr = s.Start(); lastErr == nil {
			ok = true
			return s, nil
		}
	}
	return nil, lastErr
}

func (s *Server) dataDir() string   { return filepath.Join(s.root, "data") }
func (s *Server) socketDir() string { return filepath.Join(s.root, "sockets") }

// LogFile is the path of the server's log (pg_ctl -l): this server's
// alone, for benchmarks that read what it logged.
func (s *Server) LogFile() string { return filepath.Join(s.root, "server.log") }

func (s *Server) run(name string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(s.bin, name), args...)
	cmd.Dir = s.root
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	return cmd.CombinedOutput()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start starts the server again after Stop, on the same port. Tests use
// Stop and Start to take the server away in the middle of a load.
func (s *Server) Start() error {
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=50", s.Port, s.socketDir())
	if !s.durable {
		opts += " -c fsync=off -c full_page_writes=off"
	}
	for _, setting := range s.settings {
		opts += " -c " + setting
	}
	out, err := s.run("pg_ctl", "start", "-w", "-t", "60", "-D", s.dataDir(), "-l", s.LogFile(), "-o", opts)
	if err != nil {
		log, _ := os.ReadFile(s.LogFile())
		return fmt.Errorf("pg_ctl start: %w\n%s\nserver log:\n%s", err, out, log)
	}
	return nil
}

// Stop shuts the server down the way an operator's restart does: sessions
// are terminated (their clients see admin_shutdown), and the port closes.
func (s *Server) Stop() error {
	out, err := s.run("pg_ctl", "stop", "-w", "-t", "60", "-m", "fast", "-D", s.dataDir())
	if err != nil {
		return fmt.Errorf("pg_ctl stop: %w\n%s", err, out)
	}
	return nil
}

// Crash stops the server the way a machine's failure does (pg_ctl -m
// immediate): no session is told, and the next start recovers from the
// write-ahead log.
func (s *Server) Crash() error {
	out, err := s.run("pg_ctl", "stop", "-w", "-t", "60", "-m", "immediate", "-D", s.dataDir())
	if err != nil {
		return fmt.Errorf("pg_ctl stop -m immediate: %v\n%s", err, out)
	}
	return nil
}

// Close stops the server, if it runs, and removes its files.
func (s *Server) Close() {
	_, _ = s.run("pg_ctl", "stop", "-w", "-t", "60", "-m", "immediate", "-D", s.dataDir())
	os.RemoveAll(s.root)
}

// URL is the connection URL of database name on the server.
func (s *Server) URL(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.Port, name)
}

// NewDatabase creates an empty database for the test and returns its URL.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	url, err := s.CreateDatabase()
	if err != nil {
		t.Fatalf("creating database: %v", err)
	}
	return url
}

// CreateDatabase creates an empty database and returns its URL.
func (s *Server) CreateDatabase() (string, error) {
	name := fmt.Sprintf("test_%d", s.dbSeq.Add(1))
	if err := s.Exec(context.Background(), "postgres", "CREATE DATABASE "+name); err != nil {
		return "", err
	}
	return s.URL(name), nil
}

// Exec runs SQL statements in the named database.
func (s *Server) Exec(ctx context.Context, database string, sql string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.URL(database))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// CPUTime is the processor time the server has used so far: its
// postmaster's and its live and exited child processes' (Linux /proc), for
// benchmarks that weigh the server's work too.
func (s *Server) CPUTime() (time.Duration, error) {
	procs, err := s.processes()
	if err != nil {
		return 0, err
	}
	var ticks int64
	for _, p := range procs {
		// Fields after the command name: utime 14, stime 15, and for
		// the postmaster the children that exited, cutime 16, cstime 17.
		last := 13
		if p.postmaster {
			last = 15
		}
		for _, f := range p.stat[11:last] {
			n, _ := strconv.ParseInt(f, 10, 64)
			ticks += n
		}
	}
	return time.Duration(ticks) * time.Second / 100, nil // USER_HZ is 100 on Linux
}

// Pin restricts the server to the given CPUs: the postmaster and its live
// children, and so every backend it forks from now on. Benchmarks that
// give a pipeline n CPUs give the server the same n, so that it cannot
// lend the pipeline a CPU it was not given.
func (s *Server) Pin(cpus unix.CPUSet) error {
	procs, err := s.processes()
	if err != nil {
		return err
	}
	for _, p := range procs {
		if err := unix.SchedSetaffinity(p.pid, &cpus); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("setting the CPU affinity of PostgreSQL process %d: %w", p.pid, err)
		}
	}
	return nil
}

// serverProcess is one process of the server, with the fields of its
// /proc/PID/stat after the command name (state is stat[0], ppid stat[1]).
type serverProcess struct {
	pid        int
	postmaster bool
	stat       []string
}

// processes lists the postmaster and its live children (Linux /proc).
func (s *Server) processes() ([]serverProcess, error) {
	pidFile, err := os.ReadFile(filepath.Join(s.dataDir(), "postmaster.pid"))
	if err != nil {
		return nil, err
	}
	postmaster, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(pidFile), "\n", 2)[0]))
	if err != nil {
		return nil, fmt.Errorf("reading postmaster.pid: %w", err)
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var procs []serverProcess
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// The command name is in parentheses and may hold spaces.
		fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(fields) < 15 {
			continue
		}
		ppid, _ := strconv.Atoi(fields[1])
		if pid != postmaster && ppid != postmaster {
			continue
		}
		procs = append(procs, serverProcess{pid: pid, postmaster: pid == postmaster, stat: fields})
	}
	return procs, nil
}
