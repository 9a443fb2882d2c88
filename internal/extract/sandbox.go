package extract

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/sandbox"
	"github.com/hashr-dev/hashr/internal/unpack"
	"github.com/hashr-dev/hashr/pkg/records"
)

// sandboxOptions are the flags of the sandbox.
type sandboxOptions struct {
	off     bool
	memory  int64
	cpu     time.Duration
	sources int // sources a shared child parses (--hash only)
}

// The defaults are far above what real packages and images need: the
// whole Debian corpus of bench/ peaks at a few 100 MiB and a few seconds
// of CPU per package.
const (
	defaultSandboxMemory = 4 << 30
	defaultSandboxCPU    = time.Hour
)

// addSandboxFlags adds the sandbox's flags; the function it returns
// checks them once parsed.
func addSandboxFlags(fl *pflag.FlagSet, o *sandboxOptions) func() error {
	var memory string
	fl.BoolVar(&o.off, "no-sandbox", false, "parse sources in this process, unconfined (for debugging: a hostile source then runs with all your rights)")
	fl.StringVar(&memory, "sandbox-memory", unpack.FormatSize(defaultSandboxMemory, ""), "memory limit of the process parsing one source")
	fl.DurationVar(&o.cpu, "sandbox-cpu", defaultSandboxCPU, "CPU time limit of the process parsing one source")
	fl.IntVar(&o.sources, "sandbox-sources", defaultSandboxSources, "packages and archives a sandboxed process parses in turn before it is replaced (1: a process for every source)")
	return func() error {
		n, err := cli.ParseSize(memory)
		if err != nil {
			return cli.Usagef("--sandbox-memory: %v", err)
		}
		if n < 16<<20 {
			return cli.Usagef("--sandbox-memory must be at least 16M, not %s", memory)
		}
		o.memory = n
		if o.cpu < time.Second {
			return cli.Usagef("--sandbox-cpu must be at least 1s, not %v", o.cpu)
		}
		if o.sources < 1 {
			return cli.Usagef("--sandbox-sources must be at least 1, not %d", o.sources)
		}
		return nil
	}
}

// startSandbox finds the program sandbox children run: this one.
func (x *extractor) startSandbox() error {
	if x.opts.sandbox.off {
		x.warnUnsandboxed()
		x.runner = inProcess{}
		return nil
	}
	x.runner = sandboxed{}
	// A descriptor this process's caller left open (a shell's `exec
	// 7>>log`) must not reach the children: they get only what they are
	// handed. Each child also closes what it finds (sandbox.Confine).
	if err := sandbox.MarkInheritedCloseOnExec(); err != nil {
		return fmt.Errorf("marking inherited file descriptors close-on-exec, for the sandboxed parsers: %w", err)
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding this program, to run the sandboxed parsers: %w", err)
	}
	x.exe = exe
	if x.opts.sandbox.sources > 1 {
		x.shared = &sharedPool{max: x.opts.sandbox.sources}
	}
	return nil
}

// warnUnsandboxed says, once and even with --quiet, that the sandbox is
// off: HASHR_NO_SANDBOX set in an environment and forgotten must not
// leave every run unconfined unnoticed. It writes directly, as
// Program.Warnf is silent with --quiet; no worker runs yet.
func (x *extractor) warnUnsandboxed() {
	how := "--no-sandbox"
	if v, ok := os.LookupEnv(cli.EnvName("no-sandbox")); ok {
		how += fmt.Sprintf(" (%s=%s)", cli.EnvName("no-sandbox"), v)
	}
	fmt.Fprintf(x.p.Stderr, "%s: warning: %s: sources are parsed in this process, with no Landlock, rlimits, seccomp "+
		"or capability drop; a source built to exploit a parser bug would run with all your rights\n", x.p.Name, how)
}

// reportSandbox prints, once per run, what the children's sandbox is.
func (x *extractor) reportSandbox(applied string) {
	x.reported.Do(func() {
		x.p.Verbosef("sandbox: sources are parsed in child processes; %s", applied)
	})
}

// sandboxed parses each source in a sandbox child: a shared one for the
// formats the table marks Shared, else one of its own.
type sandboxed struct{}

func (sandboxed) parse(j *sourceJob) {
	x := j.x
	// A split WIM's parts are opened by path: a shared child opens none.
	if j.file != nil && len(j.src.Parts) == 0 && x.sharable(j.file, j.size) {
		err := j.runShared()
		if err == nil || j.fatal != nil || j.ctx.Err() != nil {
			return
		}
		// Perhaps a source before it left the child in a bad state: only
		// a failure of its own child counts.
		x.p.Verbosef("%s: a shared sandboxed parser failed on it: %v; parsing it again in a child of its own", j.label, err)
		j.forget()
	}
	tmp, err := os.MkdirTemp(x.tmpDir, "child-")
	if err != nil {
		j.sourceError(fmt.Errorf("creating a temporary directory: %w", err))
		return
	}
	defer os.RemoveAll(tmp)
	err = j.runChild(tmp)
	if err == nil || j.fatal != nil || j.ctx.Err() != nil {
		return
	}
	j.forget()
	if j.spool != nil {
		x.dropSpool(j.spool.Dir)
		j.spool = nil
	}
	j.sourceError(err)
}

// forget drops what a child that died sent: nothing of it can be trusted
// to be whole.
func (j *sourceJob) forget() {
	j.spill.discard()
	j.counts = unpack.Counts{}
}

// maxChildLine bounds one record line from a child.
const maxChildLine = 4 << 20

// childJob is the part of a child's job every source shares.
func (x *extractor) childJob(temp string) childJob {
	job := childJob{
		Temp: temp, Algos: x.opts.algos.String(), MaxDepth: x.opts.maxDepth,
		Flatten: x.opts.flatten, DebControl: x.opts.debControl, SystemFiles: x.opts.systemFiles,
		Limits: x.opts.limits, Memory: x.opts.sandbox.memory,
		CPUSeconds: int64(x.opts.sandbox.cpu / time.Second),
		Verbose:    x.p.Verbose, Quiet: x.p.Quiet,
	}
	if x.opts.algos == 0 {
		job.Algos = ""
	}
	if pl := x.opts.platform; pl != nil {
		job.Platform = pl.String()
	}
	return job
}

// childProc is a running sandbox child.
type childProc struct {
	cmd       *exec.Cmd
	stdout    *records.LineReader
	rawOut    io.Reader // what stdout reads, drained when the child ends
	tail      *stderrTail
	forwarded chan struct{}          // closed once its stderr has ended
	label     atomic.Pointer[string] // the source it parses, for its messages

	// A shared child's socket, temporary directory and sources parsed.
	jobs   *os.File
	temp   string
	served int
}

// startChild starts a child on job; jobs, if not nil, becomes its socket
// for the sources of a shared child.
func (x *extractor) startChild(job *childJob, jobs *os.File) (*childProc, error) {
	data, err := json.Marshal(job)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(x.exe)
	cmd.Args[0] = os.Args[0] // a test binary (testscript) tells its commands by argv[0]
	cmd.Env = append(childEnvironment(), childEnv+"=1")
	cmd.Stdin = bytes.NewReader(data)
	if jobs != nil {
		cmd.ExtraFiles = []*os.File{jobs} // its fd 3: sharedJobFD
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
		return nil, fmt.Errorf("starting the sandboxed parser %s: %w", x.exe, err)
	}
	c := &childProc{cmd: cmd, stdout: records.NewLineReader(stdout, maxChildLine), rawOut: stdout, tail: &stderrTail{}, forwarded: make(chan struct{})}
	go func() {
		x.forwardMessages(stderr, c)
		close(c.forwarded)
	}()
	return c, nil
}

// reap reads what is left of a child's output, which ends when it exits,
// kills what it started (xz), if still there, and waits for it.
func (c *childProc) reap() error {
	io.Copy(io.Discard, c.rawOut) // what the line reader holds is of no use either
	<-c.forwarded
	syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
	return c.cmd.Wait()
}

// runChild extracts the source in a child process of its own, adding the
// records it streams back to the spill. It returns how the child failed,
// if it did.
func (j *sourceJob) runChild(tmp string) error {
	job := j.x.childJob(tmp)
	if j.spool != nil {
		job.Spool = j.spool.Dir
	}
	var err error
	if job.Source, err = records.Marshal(j.src); err != nil {
		return err
	}
	c, err := j.x.startChild(&job, nil)
	if err != nil {
		return err
	}
	c.label.Store(&j.label)
	stop := context.AfterFunc(j.ctx, func() { c.cmd.Process.Kill() })
	defer stop()
	perr := j.readChild(c.stdout, "", false)
	if perr != nil {
		c.cmd.Process.Kill()
	}
	werr := c.reap()
	if perr == nil && werr == nil {
		return nil
	}
	return j.x.childFailure(c.cmd.ProcessState, perr, c.tail)
}

// childEnvironment is what of this process's environment a child gets:
// what finding and running programs, and the Go runtime, need, and
// hashr-extract's own markers; not the credentials (AWS_*, PGPASSWORD,
// HASHR_DB…) a pipeline's environment often holds, which a parser taken
// over by its input could otherwise read.
func childEnvironment() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case name == "PATH", name == "LANG", name == "TZ", name == "TMPDIR",
			strings.HasPrefix(name, "LC_"), strings.HasPrefix(name, "GO"), strings.HasPrefix(name, "HASHR_EXTRACT_"):
			env = append(env, kv)
		}
	}
	return env
}

// readChild reads a child's records: a "sandbox" line saying what it
// applied, the file and error records of its source, its end record. A
// child that was taken over by a hostile source could write anything, so
// each line is checked (childLines.check). A child of its own must then
// end its output; a shared child's next lines are of its next source.
// staged is where a shared child spooled the source ("" for a child of
// its own, which spools in place).
func (j *sourceJob) readChild(r *records.LineReader, staged string, shared bool) error {
	cl := &childLines{j: j, staged: staged}
	if j.spool != nil {
		cl.spoolPrefix = j.spool.Dir + string(filepath.Separator)
		if staged != "" {
			cl.spoolPrefix = staged + string(filepath.Separator)
		}
	}
	gotEnd := false
	for {
		line, err := nextChildLine(r)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if gotEnd {
			return errors.New("it wrote records after its end record")
		}
		keep, end, err := cl.check(line)
		switch {
		case err != nil:
			return err
		case end && shared:
			return nil
		case end:
			gotEnd = true
		case keep != nil:
			if err := j.spill.addLine(keep); err != nil {
				j.fatal = err
				return err
			}
		}
	}
	if !gotEnd {
		return errors.New("its output ended before its end record")
	}
	return nil
}

// nextChildLine is a child's next line; io.EOF at the end of its output.
func nextChildLine(r *records.LineReader) ([]byte, error) {
	line, err := r.Next()
	var tooLong *records.TooLongError
	switch {
	case errors.Is(err, io.EOF):
		return nil, io.EOF
	case errors.As(err, &tooLong):
		return nil, fmt.Errorf("it wrote a line longer than %d bytes: %w", maxChildLine, err)
	case err != nil:
		return nil, err
	case r.Unterminated():
		return nil, errors.New("its output ended in the middle of a line")
	}
	return line, nil
}

// childLines checks the lines of one source from a child.
type childLines struct {
	j           *sourceJob
	staged      string
	spoolPrefix string // where its files' "local" must be
}

// check checks one line of a child: the line to keep (nil: none), or
// whether it is the source's end record.
func (cl *childLines) check(line []byte) (keep []byte, end bool, err error) {
	j := cl.j
	typ, source, local, sawSource, err := childLineFields(line)
	if err != nil {
		return nil, false, fmt.Errorf("it wrote a line that is not a record: %w", err)
	}
	switch typ {
	case "sandbox":
		var hello struct{ Applied string }
		json.Unmarshal(line, &hello)
		j.x.reportSandbox(hello.Applied)
		return nil, false, nil
	case records.TypeFile:
		if source != j.src.SHA256 {
			return nil, false, fmt.Errorf("it wrote a file record of another source (%q)", source)
		}
		if local != "" && (cl.spoolPrefix == "" || !strings.HasPrefix(local, cl.spoolPrefix) || filepath.Clean(local) != local) {
			return nil, false, fmt.Errorf("it wrote a file record with local %q, outside the source's spool directory", local)
		}
		if local != "" && cl.staged != "" {
			if line, err = cl.unstage(line); err != nil {
				return nil, false, err
			}
		}
		j.counts.Files++
	case records.TypeError:
		if sawSource && source != j.src.SHA256 {
			return nil, false, fmt.Errorf("it wrote an error record of another source (%q)", source)
		}
		j.counts.Errors++
	case records.TypeEnd:
		return nil, true, cl.checkEnd(line)
	default:
		return nil, false, fmt.Errorf("it wrote a record of type %q", typ)
	}
	return line, false, nil
}

// childLineFields reads the members of a child's line that checking it
// needs.
func childLineFields(line []byte) (typ, source, local string, sawSource bool, err error) {
	err = records.Members(line, func(name, value []byte) bool {
		var dst *string
		switch string(name) {
		case "type":
			dst = &typ
		case "source":
			dst, sawSource = &source, true
		case "local":
			dst = &local
		default:
			return true
		}
		*dst, _ = records.StringValue(value)
		return true
	})
	return typ, source, local, sawSource, err
}

// checkEnd checks a child's end record against the records it wrote, and
// takes its byte count.
func (cl *childLines) checkEnd(line []byte) error {
	j := cl.j
	rec, err := records.Unmarshal(line)
	if err != nil {
		return fmt.Errorf("its end record: %w", err)
	}
	end := rec.(*records.End)
	if end.Files != j.counts.Files || end.Errors != j.counts.Errors {
		return fmt.Errorf("its end record counts %d files and %d errors, but it wrote %d and %d", end.Files, end.Errors, j.counts.Files, j.counts.Errors)
	}
	j.counts.Bytes = end.Bytes
	return nil
}

// unstage moves a file record's local from the directory a shared child
// spooled the source in to the source's spool directory, where that
// directory goes once the source is done.
func (cl *childLines) unstage(line []byte) ([]byte, error) {
	rec, err := records.Unmarshal(line)
	if err != nil {
		return nil, fmt.Errorf("it wrote a file record that does not decode: %w", err)
	}
	f := rec.(*records.File)
	f.Local = cl.j.spool.Dir + strings.TrimPrefix(f.Local, cl.staged)
	return records.Marshal(f)
}

// forwardMessages passes a child's messages on to stderr, counting its
// failures as this run's, and keeps the rest (a Go panic's trace, the
// runtime's out-of-memory report) for the error record should it die.
func (x *extractor) forwardMessages(stderr io.Reader, c *childProc) {
	p, tail := x.p, c.tail
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
			tail.add(line)
			label := "?"
			if l := c.label.Load(); l != nil {
				label = *l
			}
			p.Verbosef("%s: sandboxed parser: %s", label, line)
		}
	}
	io.Copy(io.Discard, stderr)
}

// stderrTail keeps what explains a child's death: the first line of a
// panic or fatal error, and the last lines.
type stderrTail struct {
	mu    sync.Mutex
	first string
	last  []string
}

const tailLines = 6

func (t *stderrTail) add(line string) {
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

// reset forgets the lines of a shared child's sources before.
func (t *stderrTail) reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.first, t.last = "", nil
}

func (t *stderrTail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.last, " | ")
}

// childFailure says what stopped a child, for the source's error record.
func (x *extractor) childFailure(st *os.ProcessState, protocol error, tail *stderrTail) error {
	opts := x.opts.sandbox
	ws, _ := st.Sys().(syscall.WaitStatus)
	cpu := st.UserTime() + st.SystemTime()
	tail.mu.Lock()
	first := tail.first
	tail.mu.Unlock()
	all := tail.String()
	var what string
	switch {
	case protocol != nil && !ws.Signaled() && ws.ExitStatus() == 0:
		what = "broke the protocol: " + protocol.Error()
	case ws.Exited() && ws.ExitStatus() == childExitCPU, ws.Signaled() && ws.Signal() == syscall.SIGXCPU,
		ws.Signaled() && ws.Signal() == syscall.SIGKILL && cpu >= opts.cpu-time.Second:
		what = fmt.Sprintf("went over the CPU time limit of %v (set with --sandbox-cpu)", opts.cpu)
	case strings.Contains(all, "out of memory") || strings.Contains(first, "out of memory") ||
		strings.Contains(all, "cannot allocate memory"):
		what = fmt.Sprintf("went over the memory limit of %s (set with --sandbox-memory)", unpack.FormatSize(opts.memory, ""))
	case ws.Exited() && ws.ExitStatus() == childExitSetup:
		what = "could not set up its sandbox: " + strings.TrimPrefix(first, "sandbox: ")
	case strings.HasPrefix(first, "panic: "):
		what = "crashed: " + first
	case ws.Signaled():
		what = "was killed by " + unix.SignalName(ws.Signal())
		if ws.Signal() == syscall.SIGKILL {
			what += " (by the kernel's out-of-memory killer?)"
		}
	case protocol != nil:
		what = "broke the protocol: " + protocol.Error()
	default:
		what = "failed"
	}
	msg := fmt.Sprintf("the sandboxed parser %s (%v, %v CPU); nothing of this source is kept", what, st, cpu.Round(time.Millisecond))
	if all != "" {
		msg += "; its last messages: " + all
	}
	return errors.New(msg)
}
