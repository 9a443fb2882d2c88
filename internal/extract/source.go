package extract

import (
	"context"
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

// extractSource extracts one source with the run's walker, in a sandbox
// child or in this process, keeping its records in a spill.
func (x *extractor) extractSource(ctx context.Context, raw *records.Raw) *result {
	start := time.Now()
	rec, err := raw.Decode()
	if err != nil {
		return x.undecodable(raw, err)
	}
	src := rec.(*records.Source)
	if src.Refused {
		return &result{raw: raw} // it failed verification: its bytes are not read
	}
	out := newSpill(x.tmpDir)
	j := &unpack.Job{Ctx: ctx, Src: src, Sink: out, Log: x.p}
	if x.spools != nil {
		j.ClaimSpool = x.openSpool
	}
	res := &result{source: src, out: out, inputSHA: src.SHA256}
	res.end = unpack.Run(j, x.walker(out), nil)
	res.end.MS = map[string]int64{unpack.Stage: time.Since(start).Milliseconds()}
	if j.Spool != nil {
		res.spoolDir = j.Spool.Dir
	}
	res.err = j.Fatal
	return res
}

// walker is what walks a source whose records go to out: a sandbox
// child, or with --no-sandbox this process.
func (x *extractor) walker(out *spill) unpack.Walker {
	if x.sandbox != nil {
		return &sandboxed{x: x, spill: out}
	}
	return unpack.InProcess{Options: unpack.Options{Settings: x.opts.walk, TempDir: x.tmpDir, Log: x.p}}
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
