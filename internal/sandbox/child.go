package sandbox

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/unpack"
	"github.com/hashr-dev/hashr/pkg/records"
)

// ChildTestHook is set only by hashr-extract's tests (in their TestMain,
// in the test binary): it runs in the child once it is confined, before
// each source, to play a parser that misbehaves. The hashr-extract
// binary never sets it.
var ChildTestHook func(p *cli.Program, source json.RawMessage)

// ChildMain is a sandbox child's whole life, run by the program name
// when ChildEnv is set: it reads its Job on stdin, confines itself,
// walks its source (or, shared, the sources handed to it on SharedJobFD)
// with unpack.Run, and writes their records on stdout, each source's
// end record last. It returns the child's exit status.
func ChildMain(name string, stdin io.Reader, stdout, stderr io.Writer) int {
	p := cli.New(name, nil, stdout, stderr)
	var job Job
	if err := json.NewDecoder(io.LimitReader(stdin, 16<<20)).Decode(&job); err != nil {
		fmt.Fprintf(stderr, "sandbox: reading the job: %v\n", err)
		return ExitSetup
	}
	p.Verbose, p.Quiet = job.Verbose, job.Quiet
	sayCPULimit(job.CPUSeconds, stderr)
	applied, err := Confine(job.Confinement())
	if err != nil {
		fmt.Fprintf(stderr, "sandbox: %v\n", err)
		return ExitSetup
	}
	out := &pipeSink{w: bufio.NewWriterSize(stdout, 64<<10)}
	out.line(map[string]string{"type": "sandbox", "applied": applied})
	c := &child{p: p, job: &job, out: out, stderr: stderr,
		walker: unpack.InProcess{Options: unpack.Options{Settings: job.Settings, TempDir: job.Temp, Log: p}}}
	if job.Shared {
		if err := out.w.Flush(); err != nil {
			fmt.Fprintf(stderr, "sandbox: writing records to %s: %v\n", name, err)
			return 1
		}
		return ServeShared(&job, func(sj *SharedJob, f *os.File) int { return c.source(sj.Source, sj.Spool, f) })
	}
	return c.source(job.Source, job.Spool, nil)
}

// sayCPULimit makes SIGXCPU, which Go ignores unless asked, end the child
// saying why: the hard limit, a few seconds later, is SIGKILL, which
// gives the parent no reason.
func sayCPULimit(seconds int64, stderr io.Writer) {
	xcpu := make(chan os.Signal, 1)
	signal.Notify(xcpu, syscall.SIGXCPU)
	go func() {
		<-xcpu
		fmt.Fprintf(stderr, "sandbox: CPU time limit of %ds reached\n", seconds)
		os.Exit(ExitCPU)
	}()
}

// child is a confined child's state: its job, and where its records go.
type child struct {
	p      *cli.Program
	job    *Job
	walker unpack.InProcess
	out    *pipeSink
	stderr io.Writer
}

// source extracts one source, its file already open when f is not nil,
// spooling it in spool ("" with --hash), and writes its records, then
// its end record. It returns the child's exit status so far.
func (c *child) source(source json.RawMessage, spool string, f *os.File) int {
	if ChildTestHook != nil {
		ChildTestHook(c.p, source)
	}
	rec, err := records.Unmarshal(source)
	src, ok := rec.(*records.Source)
	if err != nil || !ok {
		fmt.Fprintf(c.stderr, "sandbox: the job's source record: %v\n", err)
		return ExitSetup
	}
	j := &unpack.Job{Ctx: context.Background(), Src: src, Sink: c.out, Log: c.p}
	if spool != "" {
		j.ClaimSpool = func(string) (*unpack.Spool, error) { return unpack.NewSpool(spool, c.job.Flatten), nil }
	}
	end := unpack.Run(j, c.walker, f)
	fatal := j.Fatal
	if fatal == nil {
		fatal = c.out.Add(end)
	}
	if fatal == nil {
		fatal = c.out.w.Flush()
	}
	if fatal != nil {
		fmt.Fprintf(c.stderr, "sandbox: writing records to %s: %v\n", c.p.Name, fatal)
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
