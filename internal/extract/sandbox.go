package extract

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/pflag"

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
	x.sandbox = &sandbox.Runner{P: x.p, Exe: exe,
		Limits: sandbox.Limits{CPU: x.opts.sandbox.cpu, Memory: x.opts.sandbox.memory}}
	if x.opts.sandbox.sources > 1 {
		x.sandbox.Pool = &sandbox.Pool{Max: x.opts.sandbox.sources}
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

// childJob is the part of a child's job every source shares.
func (x *extractor) childJob(temp string) sandbox.Job {
	job := sandbox.Job{
		Temp: temp, Algos: x.opts.algos.String(), MaxDepth: x.opts.maxDepth,
		Flatten: x.opts.flatten, DebControl: x.opts.debControl, SystemFiles: x.opts.systemFiles,
		Limits: x.opts.limits, Memory: x.opts.sandbox.memory,
		CPUSeconds: int64(x.opts.sandbox.cpu / time.Second),
		Verbose:    x.p.Verbose, Quiet: x.p.Quiet,
		VerifyMembers: x.opts.members.on, Roots: x.opts.members.pem,
	}
	if x.opts.algos == 0 {
		job.Algos = ""
	}
	if pl := x.opts.platform; pl != nil {
		job.Platform = pl.String()
	}
	return job
}

// sourceLines checks a child's lines of j's source, keeping them in j's
// spill and counting them in j's counts.
func (j *sourceJob) sourceLines() *sandbox.SourceLines {
	sl := &sandbox.SourceLines{SHA256: j.src.SHA256, Hello: j.x.reportSandbox, Counts: &j.counts,
		Keep: func(line []byte) error {
			if err := j.spill.addLine(line); err != nil {
				j.fatal = err
				return err
			}
			return nil
		}}
	if j.spool != nil {
		sl.SpoolDir = j.spool.Dir
	}
	return sl
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
	return j.x.sandbox.RunOwn(j.ctx, &job, j.label, j.sourceLines())
}

// runShared parses the source in a shared child. An error means the
// child failed on it: the caller parses it again alone.
func (j *sourceJob) runShared() error {
	newTemp := func() (string, error) {
		temp, err := os.MkdirTemp(j.x.tmpDir, "child-")
		if err != nil {
			return "", fmt.Errorf("creating a temporary directory: %w", err)
		}
		return temp, nil
	}
	return j.x.sandbox.RunShared(j.ctx, j.x.childJob(""), newTemp, j.src, j.label, j.file, j.sourceLines())
}
