package sandbox

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/pkg/records"
)

// A Runner starts sandbox children (the program Exe) and reads back what
// they extract; Pool, if not nil, holds its shared children.
type Runner struct {
	P      *cli.Program
	Exe    string
	Limits Limits
	Pool   *Pool
}

// RunOwn extracts job's one source in a child of its own, passing its
// checked lines to sl. It returns how the child failed, if it did.
func (rn *Runner) RunOwn(ctx context.Context, job *Job, label string, sl *SourceLines) error {
	c, err := Start(rn.P, rn.Exe, job, nil)
	if err != nil {
		return err
	}
	c.Label.Store(&label)
	stop := context.AfterFunc(ctx, func() { c.Cmd.Process.Kill() })
	defer stop()
	perr := sl.Read(c.Stdout)
	if perr != nil {
		c.Cmd.Process.Kill()
	}
	werr := c.Reap()
	if perr == nil && werr == nil {
		return nil
	}
	return Classify(c.Cmd.ProcessState, perr, c.Tail, rn.Limits)
}

// RunShared extracts src, open as f, in a shared child made from job (a
// fresh one's temporary directory comes from newTemp). An error means
// the child failed on it: the caller parses it again alone.
func (rn *Runner) RunShared(ctx context.Context, job Job, newTemp func() (string, error), src *records.Source, label string, f *os.File, sl *SourceLines) error {
	pool := rn.Pool
	c, err := pool.get(func() (*Proc, error) { return rn.startShared(job, newTemp) })
	if err != nil {
		return err
	}
	c.Label.Store(&label)
	c.Tail.Reset()
	if sl.SpoolDir != "" {
		// The child may write only its temporary directory: it spools
		// there, and the directory moves into place once it is done.
		sl.Staged = filepath.Join(c.Temp, "spool-"+strconv.Itoa(c.Served))
		if err := os.Mkdir(sl.Staged, 0o755); err != nil {
			pool.put(c)
			return fmt.Errorf("creating a directory to spool in: %w", err)
		}
	}
	if err := c.Send(src, sl.Staged, f); err != nil {
		c.Kill()
		return fmt.Errorf("handing the source to a shared sandboxed parser: %w", err)
	}
	sl.Shared = true
	stop := context.AfterFunc(ctx, func() { c.Cmd.Process.Kill() })
	perr := sl.Read(c.Stdout)
	stop()
	if perr == nil {
		return pool.keep(c, sl)
	}
	c.Kill()
	if err := ctx.Err(); err != nil {
		return err
	}
	return Classify(c.Cmd.ProcessState, perr, c.Tail, rn.Limits)
}

// startShared starts a shared child on job.
func (rn *Runner) startShared(job Job, newTemp func() (string, error)) (*Proc, error) {
	temp, err := newTemp()
	if err != nil {
		return nil, err
	}
	job.Temp = temp
	job.Shared = true
	job.SourceCPUSeconds = job.CPUSeconds
	job.CPUSeconds *= int64(rn.Pool.Max) // the hard limit; each source gets its own soft one
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		os.RemoveAll(temp)
		return nil, fmt.Errorf("creating the socket to a sandboxed parser: %w", err)
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "jobs"), os.NewFile(uintptr(fds[1]), "jobs")
	defer theirs.Close()
	c, err := Start(rn.P, rn.Exe, &job, theirs)
	if err != nil {
		ours.Close()
		os.RemoveAll(temp)
		return nil, err
	}
	c.jobs, c.Temp = ours, temp
	return c, nil
}

// Pool holds the shared children that are between sources.
type Pool struct {
	Max int // sources a child parses before it is replaced

	mu     sync.Mutex
	idle   []*Proc
	closed bool
}

// get returns an idle child, or starts one.
func (pl *Pool) get(start func() (*Proc, error)) (*Proc, error) {
	pl.mu.Lock()
	if n := len(pl.idle); n > 0 {
		c := pl.idle[n-1]
		pl.idle = pl.idle[:n-1]
		pl.mu.Unlock()
		return c, nil
	}
	pl.mu.Unlock()
	return start()
}

// keep moves a source a child parsed well into place, and takes the
// child back.
func (pl *Pool) keep(c *Proc, sl *SourceLines) error {
	defer pl.put(c)
	if sl.Staged == "" {
		return nil
	}
	// The spool directory was created empty (spoolDirs.open), which
	// rename(2) replaces (os.Rename refuses any directory).
	if err := unix.Rename(sl.Staged, sl.SpoolDir); err != nil {
		os.RemoveAll(sl.Staged)
		return fmt.Errorf("moving the spooled files to %s: %w", sl.SpoolDir, err)
	}
	return nil
}

// put takes a child back after a source, or ends it once it has parsed
// its share.
func (pl *Pool) put(c *Proc) {
	c.Served++
	pl.mu.Lock()
	if !pl.closed && c.Served < pl.Max {
		pl.idle = append(pl.idle, c)
		pl.mu.Unlock()
		return
	}
	pl.mu.Unlock()
	c.Finish()
}

// Close ends the idle children: with their socket closed, they exit.
func (pl *Pool) Close() {
	pl.mu.Lock()
	idle := pl.idle
	pl.idle, pl.closed = nil, true
	pl.mu.Unlock()
	for _, c := range idle {
		c.Finish()
	}
}

// ServeShared is a shared child's loop: a source, with its file, on the
// socket; run writes its records and end record on stdout; until the
// socket closes. It returns the child's exit status.
func ServeShared(job *Job, run func(sj *SharedJob, f *os.File) int) int {
	sock := os.NewFile(SharedJobFD, "jobs")
	buf := make([]byte, MaxSharedMessage)
	oob := make([]byte, unix.CmsgSpace(4*4))
	for {
		sj, f, err := receiveJob(buf, oob, job.SourceCPUSeconds)
		if err != nil {
			fmt.Fprintf(os.Stderr, "sandbox: %v\n", err)
			return ExitSetup
		}
		if sj == nil {
			sock.Close()
			return 0 // the parent closed the socket: done
		}
		status := run(sj, f)
		f.Close()
		if status != 0 {
			return status
		}
	}
}
