package extract

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/digest"
	"github.com/hashr-dev/hashr/internal/sandbox"
	"github.com/hashr-dev/hashr/internal/unpack"
	"github.com/hashr-dev/hashr/pkg/records"
)

// SandboxChildEnv is sandbox.ChildEnv, for a test binary that calls Main
// in-process: the sandbox's children are that binary, run with this
// variable set to "1", and it must then run Main (before its tests).
const SandboxChildEnv = sandbox.ChildEnv

// childTestHook is set only by this package's tests (in TestMain, in the
// test binary): it runs in the child once it is confined, before each
// source, to play a parser that misbehaves. The hashr-extract binary
// never sets it.
var childTestHook func(p *cli.Program, source json.RawMessage)

// childMain is a sandbox child's whole life.
func childMain(stdin io.Reader, stdout, stderr io.Writer) int {
	p := cli.New("hashr-extract", nil, stdout, stderr)
	var job sandbox.Job
	if err := json.NewDecoder(io.LimitReader(stdin, 16<<20)).Decode(&job); err != nil {
		fmt.Fprintf(stderr, "sandbox: reading the job: %v\n", err)
		return sandbox.ExitSetup
	}
	p.Verbose, p.Quiet = job.Verbose, job.Quiet

	// Go ignores SIGXCPU unless asked; the hard limit, a few seconds
	// later, is SIGKILL. Saying so first gives the parent a clear reason.
	xcpu := make(chan os.Signal, 1)
	signal.Notify(xcpu, syscall.SIGXCPU)
	go func() {
		<-xcpu
		fmt.Fprintf(stderr, "sandbox: CPU time limit of %ds reached\n", job.CPUSeconds)
		os.Exit(sandbox.ExitCPU)
	}()

	applied, err := sandbox.Confine(job.Confinement())
	if err != nil {
		fmt.Fprintf(stderr, "sandbox: %v\n", err)
		return sandbox.ExitSetup
	}
	out := &pipeSink{w: bufio.NewWriterSize(stdout, 64<<10)}
	out.line(map[string]string{"type": "sandbox", "applied": applied})

	var algos digest.Set
	if job.Algos != "" {
		if algos, err = digest.Parse(job.Algos); err != nil {
			fmt.Fprintf(stderr, "sandbox: the job's digests: %v\n", err)
			return sandbox.ExitSetup
		}
	}
	x := &extractor{p: p, tmpDir: job.Temp, unfinished: map[string]bool{}, opts: options{
		algos: algos, maxDepth: job.MaxDepth, flatten: job.Flatten, debControl: job.DebControl,
		systemFiles: job.SystemFiles, limits: job.Limits,
		members: childMemberVerification(job.VerifyMembers, job.Roots),
	}}
	if job.Platform != "" {
		if x.opts.platform, err = v1.ParsePlatform(job.Platform); err != nil {
			fmt.Fprintf(stderr, "sandbox: the job's platform: %v\n", err)
			return sandbox.ExitSetup
		}
	}
	parse := func(source json.RawMessage, spool string, f *os.File) int {
		if childTestHook != nil {
			childTestHook(p, source)
		}
		return x.childSource(&job, source, spool, f, out, stderr)
	}
	if job.Shared {
		if err := out.w.Flush(); err != nil {
			fmt.Fprintf(stderr, "sandbox: writing records to hashr-extract: %v\n", err)
			return 1
		}
		return sandbox.ServeShared(&job, func(sj *sandbox.SharedJob, f *os.File) int { return parse(sj.Source, sj.Spool, f) })
	}
	return parse(job.Source, job.Spool, nil)
}

// childSource extracts one source in a child, its file already open when
// f is not nil, and writes its records, then its end record.
func (x *extractor) childSource(job *sandbox.Job, source json.RawMessage, spool string, f *os.File, out *pipeSink, stderr io.Writer) int {
	rec, err := records.Unmarshal(source)
	src, ok := rec.(*records.Source)
	if err != nil || !ok {
		fmt.Fprintf(stderr, "sandbox: the job's source record: %v\n", err)
		return sandbox.ExitSetup
	}
	j := &sourceJob{x: x, ctx: context.Background(), src: src, label: unpack.Label(src), out: out}
	if spool != "" {
		j.spool = unpack.NewSpool(spool, job.Flatten)
	}
	end := j.run(inProcess{}, f)
	if j.fatal == nil {
		j.fatal = out.Add(end)
	}
	if j.fatal == nil {
		j.fatal = out.w.Flush()
	}
	if j.fatal != nil {
		fmt.Fprintf(stderr, "sandbox: writing records to hashr-extract: %v\n", j.fatal)
		return 1
	}
	return 0
}

// pipeSink writes a child's records to its parent as they come.
type pipeSink struct {
	w *bufio.Writer
}

func (ps *pipeSink) Add(rec records.Record) error {
	line, err := records.Marshal(rec)
	if err != nil {
		return err
	}
	ps.w.Write(line)
	return ps.w.WriteByte('\n')
}

func (ps *pipeSink) line(v any) {
	b, _ := json.Marshal(v)
	ps.w.Write(b)
	ps.w.WriteByte('\n')
}
