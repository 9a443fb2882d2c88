package sandbox

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/pkg/records"
)

// MaxLine bounds one record line from a child.
const MaxLine = 4 << 20

// Proc is a running sandbox child.
type Proc struct {
	Cmd       *exec.Cmd
	Stdout    *records.LineReader
	rawOut    io.Reader // what Stdout reads, drained when the child ends
	Tail      *Tail
	forwarded chan struct{}          // closed once its stderr has ended
	Label     atomic.Pointer[string] // the source it parses, for its messages

	// A shared child's socket, temporary directory and sources parsed.
	jobs   *os.File
	Temp   string
	Served int
}

// Start starts the program exe as a child on job; its messages go to p.
// jobs, if not nil, becomes its socket for the sources of a shared child.
func Start(p *cli.Program, exe string, job *Job, jobs *os.File) (*Proc, error) {
	data, err := json.Marshal(job)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Args[0] = os.Args[0] // a test binary (testscript) tells its commands by argv[0]
	cmd.Env = append(Environment(), ChildEnv+"=1")
	cmd.Stdin = bytes.NewReader(data)
	if jobs != nil {
		cmd.ExtraFiles = []*os.File{jobs} // its fd 3: SharedJobFD
	}
	// Its own process group: a ^C in the terminal reaches this process,
	// which stops the child itself. Pdeathsig: a parent killed outright
	// takes its children with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the sandboxed parser %s: %w", exe, err)
	}
	c := &Proc{Cmd: cmd, Stdout: records.NewLineReader(stdout, MaxLine), rawOut: stdout, Tail: &Tail{}, forwarded: make(chan struct{})}
	go func() {
		c.forwardMessages(p, stderr)
		close(c.forwarded)
	}()
	return c, nil
}

// Reap reads what is left of a child's output, which ends when it exits,
// kills what it started (xz), if still there, and waits for it.
func (c *Proc) Reap() error {
	io.Copy(io.Discard, c.rawOut) // what the line reader holds is of no use either
	<-c.forwarded
	syscall.Kill(-c.Cmd.Process.Pid, syscall.SIGKILL)
	return c.Cmd.Wait()
}

// Finish ends a shared child between sources and removes its temporary
// directory.
func (c *Proc) Finish() {
	c.jobs.Close()
	c.Reap()
	os.RemoveAll(c.Temp)
}

// Kill ends a shared child at once and removes its temporary directory.
func (c *Proc) Kill() {
	c.Cmd.Process.Kill()
	c.jobs.Close()
	c.Reap()
	os.RemoveAll(c.Temp)
}

// Send hands a source to a shared child.
func (c *Proc) Send(src *records.Source, spool string, f *os.File) error {
	line, err := records.Marshal(src)
	if err != nil {
		return err
	}
	msg, err := json.Marshal(&SharedJob{Source: line, Spool: spool})
	if err != nil {
		return err
	}
	if len(msg) > MaxSharedMessage {
		return fmt.Errorf("its source record is %d bytes, over the %d a shared child takes", len(msg), MaxSharedMessage)
	}
	return unix.Sendmsg(int(c.jobs.Fd()), msg, unix.UnixRights(int(f.Fd())), nil, 0)
}

// forwardMessages passes a child's messages on to p's stderr, counting
// its failures as this run's, and keeps the rest (a Go panic's trace,
// the runtime's out-of-memory report) for the error record should it die.
func (c *Proc) forwardMessages(p *cli.Program, stderr io.Reader) {
	prefix := p.Name + ": "
	sc := bufio.NewScanner(stderr)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, prefix+"error: "):
			p.Failf("%s", line[len(prefix+"error: "):])
		case strings.HasPrefix(line, prefix):
			p.Infof("%s", line[len(prefix):])
		default:
			c.Tail.add(line)
			label := "?"
			if l := c.Label.Load(); l != nil {
				label = *l
			}
			p.Verbosef("%s: sandboxed parser: %s", label, line)
		}
	}
	io.Copy(io.Discard, stderr)
}

// Tail keeps what explains a child's death: the first line of a panic
// or fatal error, and the last lines.
type Tail struct {
	mu    sync.Mutex
	first string
	last  []string
}

const tailLines = 6

func (t *Tail) add(line string) {
	if len(line) > 300 {
		line = line[:300] + "…"
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.first == "" && (strings.HasPrefix(line, "panic: ") || strings.HasPrefix(line, "fatal error: ") ||
		strings.HasPrefix(line, "sandbox: ")) {
		t.first = line
	}
	if line == "" {
		return
	}
	t.last = append(t.last, line)
	if len(t.last) > tailLines {
		t.last = t.last[1:]
	}
}

// Reset forgets the lines of a shared child's sources before.
func (t *Tail) Reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.first, t.last = "", nil
}

// First is the first line of a panic, fatal error or sandbox failure.
func (t *Tail) First() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.first
}

func (t *Tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.last, " | ")
}
