package extract

import (
	"context"
	"os"
	"time"

	"github.com/hashr-dev/hashr/internal/unpack"
	"github.com/hashr-dev/hashr/pkg/records"
)

// result is what the output needs of one input record: a record passed
// through, or an extracted source with its records and end.
type result struct {
	raw      *records.Raw
	source   *records.Source
	out      *spill
	end      *records.End
	inputSHA string // the sha256 the source record came with, if any
	spoolDir string // the source's spool directory, "" with --hash
	err      error  // fatal for the run (records could not be kept)
}

// sourceJob is the extraction of one source, on one worker goroutine
// (or in a sandbox child): what hashr-extract knows of the source,
// whichever runner parses it. The walk's own state is package unpack's;
// a sandbox child's, package sandbox's.
type sourceJob struct {
	x     *extractor
	ctx   context.Context
	src   *records.Source
	label string      // how messages name the source
	out   unpack.Sink // the spill, or in a sandbox child the pipe to the parent
	spill *spill      // the parent's records of the source; nil in a child
	spool *unpack.Spool
	// The source's open file and size, or its OCI layout directory.
	file *os.File
	size int64
	dir  string

	counts unpack.Counts
	fatal  error // records could not be kept
}

// runner parses a prepared source: in this process (inProcess), or in a
// sandbox child (sandboxed). It adds the source's records to j.out and
// their counts to j.counts.
type runner interface {
	parse(j *sourceJob)
}

// extractSource extracts one source with the run's runner.
func (x *extractor) extractSource(ctx context.Context, raw *records.Raw) *result {
	start := time.Now()
	rec, err := raw.Decode()
	if err != nil {
		return x.undecodable(raw, err)
	}
	src := rec.(*records.Source)
	out := newSpill(x.tmpDir)
	j := &sourceJob{x: x, ctx: ctx, src: src, label: unpack.Label(src), out: out, spill: out}
	res := &result{source: src, out: out, inputSHA: src.SHA256}
	res.end = j.run(x.runner, nil)
	res.end.MS = map[string]int64{unpack.Stage: time.Since(start).Milliseconds()}
	if j.spool != nil {
		res.spoolDir = j.spool.Dir
	}
	res.err = j.fatal
	return res
}

// run parses the source with r, once prepared (opened, when not nil, is
// its file already open), and returns its end record: the one way both
// hashr-extract and a sandbox child extract a source.
func (j *sourceJob) run(r runner, opened *os.File) *records.End {
	if j.prepare(opened) {
		r.parse(j)
		j.close()
	}
	return &records.End{Source: j.src.SHA256, Files: j.counts.Files, Errors: j.counts.Errors, Bytes: j.counts.Bytes}
}

// prepare opens the source (opened, when not nil, is its file already
// open), or identifies its OCI layout directory, and claims its spool
// directory. Reading the source to hash it, when its sha256 is not
// known, is no parsing: the parent does it, to name the spool directory.
// A failure is the source's error record.
func (j *sourceJob) prepare(opened *os.File) bool {
	var err error
	if dir, ok := unpack.LayoutDir(j.src); ok {
		j.dir, err = dir, unpack.IdentifyLayout(dir, j.src)
	} else {
		j.file, j.size, err = unpack.Open(j.ctx, j.src, opened)
	}
	if err == nil && j.spool == nil && j.x.spools != nil { // a sandbox child is given its spool
		j.spool, err = j.x.openSpool(j.src.SHA256)
	}
	if err != nil {
		j.sourceError(err)
		return false
	}
	return true
}

// close closes the source's file.
func (j *sourceJob) close() {
	if j.file != nil {
		j.file.Close()
	}
}

// options are the walk's options for this source.
func (j *sourceJob) options() unpack.Options {
	o := &j.x.opts
	return unpack.Options{Algos: o.algos, MaxDepth: o.maxDepth, Flatten: o.flatten, Platform: o.platform,
		DebControl: o.debControl, SystemFiles: o.systemFiles, Limits: o.limits,
		TempDir: j.x.tmpDir, Spool: j.spool, Log: j.x.p,
		VerifyMembers: o.members.on, Roots: o.members.roots}
}

// inProcess parses sources in this process: with --no-sandbox, and in a
// sandbox child.
type inProcess struct{}

func (inProcess) parse(j *sourceJob) {
	var c unpack.Counts
	if j.dir != "" {
		c, j.fatal = unpack.Layout(j.ctx, j.dir, j.src, j.options(), j.out)
	} else {
		c, j.fatal = unpack.Source(j.ctx, j.file, j.size, j.src, j.options(), j.out)
	}
	j.counts.Files += c.Files
	j.counts.Errors += c.Errors
	j.counts.Bytes += c.Bytes
}

// sourceError reports a failure of the source as a whole.
func (j *sourceJob) sourceError(err error) {
	if j.ctx.Err() != nil {
		return // interrupted: nothing of this source is written
	}
	j.counts.Errors++
	j.x.p.Failf("%s: %v", j.label, err)
	if j.fatal == nil {
		j.fatal = j.out.Add(unpack.ErrorRecord(j.src, "", err))
	}
}

// undecodable reports a source record that does not decode, and puts an
// error record in its place: passed on, the next stage would trip on it
// too, and dropped, the source would vanish without a word.
func (x *extractor) undecodable(raw *records.Raw, err error) *result {
	x.p.Failf("%v", err)
	line, merr := records.Marshal(records.Undecodable(unpack.Stage, raw, err))
	if merr != nil {
		return &result{err: merr}
	}
	return &result{raw: &records.Raw{Type: records.TypeError, Line: line, Where: raw.Where}}
}
