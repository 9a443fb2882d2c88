package extract

// Shared sandbox children. Starting a child costs about 35 ms of CPU on
// the 2-CPU machine bench/ runs on (exec of a 12 MB Go program, its
// runtime and its page faults): as much as extracting a small package,
// and 10% of extracting the 31 packages of bench/extract.sh. So one child
// parses up to --sandbox-sources sources in turn. The parent hands it
// each source as an open file over a socket (SCM_RIGHTS): the child's
// Landlock rules name no source, so it reads only the files it is handed.
// It writes only its own temporary directory: in spool mode it spools a
// source into a fresh directory there, which the parent moves into place
// (and whose "local" paths it rewrites) once the source is done and its
// records checked.
//
// What a shared child gives up is isolation between the sources it
// parses: one taken over by its input could falsify the records of the
// sources it parses next. --sandbox-sources 1 gives every source a child
// of its own. Any source not of the formats read entirely in Go from one
// file (the table's Shared trait) gets a child of its own too: disk images, Windows
// images and OCI layouts run programs on their path or open directories.
//
// A source that kills a shared child (a crash, a limit, a broken record)
// is parsed again in a child of its own before it counts as failed, so an
// earlier source that left a shared child in a bad state cannot fail the
// next one.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/hashr-dev/hashr/internal/formats"
	"github.com/hashr-dev/hashr/internal/magic"
	"github.com/hashr-dev/hashr/internal/sandbox"
	"github.com/hashr-dev/hashr/pkg/records"
)

// defaultSandboxSources is how many sources a shared child parses before
// it is replaced: enough to make its start cost nothing (about 2 ms a
// source), few enough to bound what one child ever sees.
const defaultSandboxSources = 16

// sharedJobFD is the file descriptor of a shared child's socket.
const sharedJobFD = 3

// maxSharedMessage bounds one source's job on the socket (a source record).
const maxSharedMessage = 1 << 20

// sharable says whether the source in f can go to a shared child.
func (x *extractor) sharable(f *os.File, size int64) bool {
	if x.shared == nil {
		return false
	}
	res, err := magic.Detect(f, size)
	if err != nil {
		return false
	}
	if f := formats.Lookup(res.Format); f != nil && f.Shared {
		return true
	}
	return res.Format == "" && res.Compression != ""
}

// sharedPool holds the shared children that are between sources.
type sharedPool struct {
	max int // sources a child parses before it is replaced

	mu     sync.Mutex
	idle   []*childProc
	closed bool
}

// get returns an idle child, or starts one.
func (pl *sharedPool) get(x *extractor) (*childProc, error) {
	pl.mu.Lock()
	if n := len(pl.idle); n > 0 {
		c := pl.idle[n-1]
		pl.idle = pl.idle[:n-1]
		pl.mu.Unlock()
		return c, nil
	}
	pl.mu.Unlock()
	temp, err := os.MkdirTemp(x.tmpDir, "child-")
	if err != nil {
		return nil, fmt.Errorf("creating a temporary directory: %w", err)
	}
	job := x.childJob(temp)
	job.Shared = true
	job.SourceCPUSeconds = job.CPUSeconds
	job.CPUSeconds *= int64(pl.max) // the hard limit; each source gets its own soft one
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		os.RemoveAll(temp)
		return nil, fmt.Errorf("creating the socket to a sandboxed parser: %w", err)
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "jobs"), os.NewFile(uintptr(fds[1]), "jobs")
	defer theirs.Close()
	c, err := x.startChild(&job, theirs)
	if err != nil {
		ours.Close()
		os.RemoveAll(temp)
		return nil, err
	}
	c.jobs, c.temp = ours, temp
	return c, nil
}

// put takes a child back after a source, or ends it once it has parsed
// its share.
func (pl *sharedPool) put(c *childProc) {
	c.served++
	pl.mu.Lock()
	if !pl.closed && c.served < pl.max {
		pl.idle = append(pl.idle, c)
		pl.mu.Unlock()
		return
	}
	pl.mu.Unlock()
	c.finish()
}

// close ends the idle children: with their socket closed, they exit.
func (pl *sharedPool) close() {
	pl.mu.Lock()
	idle := pl.idle
	pl.idle, pl.closed = nil, true
	pl.mu.Unlock()
	for _, c := range idle {
		c.finish()
	}
}

// finish ends a shared child between sources and removes its temporary
// directory.
func (c *childProc) finish() {
	c.jobs.Close()
	c.reap()
	os.RemoveAll(c.temp)
}

// kill ends a shared child at once and removes its temporary directory.
func (c *childProc) kill() {
	c.cmd.Process.Kill()
	c.jobs.Close()
	c.reap()
	os.RemoveAll(c.temp)
}

// sharedJob is what a shared child is sent for each source, with the
// source's file as the message's one file descriptor.
type sharedJob struct {
	Source json.RawMessage `json:"source"`
	Spool  string          `json:"spool,omitempty"` // where to spool it, in the child's temporary directory
}

// send hands a source to a shared child.
func (c *childProc) send(src *records.Source, spool string, f *os.File) error {
	line, err := records.Marshal(src)
	if err != nil {
		return err
	}
	msg, err := json.Marshal(&sharedJob{Source: line, Spool: spool})
	if err != nil {
		return err
	}
	if len(msg) > maxSharedMessage {
		return fmt.Errorf("its source record is %d bytes, over the %d a shared child takes", len(msg), maxSharedMessage)
	}
	return unix.Sendmsg(int(c.jobs.Fd()), msg, unix.UnixRights(int(f.Fd())), nil, 0)
}

// runShared parses the source in a shared child. An error means the
// child failed on it: the caller parses it again alone.
func (j *sourceJob) runShared() error {
	pool := j.x.shared
	c, err := pool.get(j.x)
	if err != nil {
		return err
	}
	c.label.Store(&j.label)
	c.tail.reset()
	var staged string
	if j.spool != nil {
		// The child may write only its temporary directory: it spools
		// there, and the directory moves into place once it is done.
		staged = filepath.Join(c.temp, "spool-"+strconv.Itoa(c.served))
		if err := os.Mkdir(staged, 0o755); err != nil {
			pool.put(c)
			return fmt.Errorf("creating a directory to spool in: %w", err)
		}
	}
	if err := c.send(j.src, staged, j.file); err != nil {
		c.kill()
		return fmt.Errorf("handing the source to a shared sandboxed parser: %w", err)
	}
	stop := context.AfterFunc(j.ctx, func() { c.cmd.Process.Kill() })
	perr := j.readChild(c.stdout, staged, true)
	stop()
	if perr == nil && staged != "" {
		// The spool directory was created empty (spoolDirs.open), which
		// rename(2) replaces (os.Rename refuses any directory).
		if err := unix.Rename(staged, j.spool.Dir); err != nil {
			os.RemoveAll(staged)
			pool.put(c)
			return fmt.Errorf("moving the spooled files to %s: %w", j.spool.Dir, err)
		}
	}
	if perr == nil {
		pool.put(c)
		return nil
	}
	c.kill()
	if err := j.ctx.Err(); err != nil {
		return err
	}
	return j.x.childFailure(c.cmd.ProcessState, perr, c.tail)
}

// sharedChildMain is a shared child's loop: a source, with its file, on
// the socket; its records and end record on stdout; until the socket
// closes.
func sharedChildMain(job *childJob, run func(sj *sharedJob, f *os.File) int) int {
	sock := os.NewFile(sharedJobFD, "jobs")
	buf := make([]byte, maxSharedMessage)
	oob := make([]byte, unix.CmsgSpace(4*4))
	for {
		n, oobn, _, _, err := unix.Recvmsg(sharedJobFD, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err != nil {
			fmt.Fprintf(os.Stderr, "sandbox: reading the next source: %v\n", err)
			return childExitSetup
		}
		if n == 0 && oobn == 0 {
			sock.Close()
			return 0 // the parent closed the socket: done
		}
		f, err := sandbox.ReceivedFile(oob[:oobn])
		if err != nil {
			fmt.Fprintf(os.Stderr, "sandbox: the next source's file: %v\n", err)
			return childExitSetup
		}
		var sj sharedJob
		if err := json.Unmarshal(buf[:n], &sj); err != nil {
			fmt.Fprintf(os.Stderr, "sandbox: the next source: %v\n", err)
			return childExitSetup
		}
		if err := sandbox.LimitSourceCPU(job.SourceCPUSeconds); err != nil {
			fmt.Fprintf(os.Stderr, "sandbox: %v\n", err)
			return childExitSetup
		}
		status := run(&sj, f)
		f.Close()
		if status != 0 {
			return status
		}
	}
}
