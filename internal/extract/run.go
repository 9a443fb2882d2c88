package extract

import (
	"context"
	"errors"
	"iter"
	"maps"
	"os"
	"sync"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/formats/decompress"
	"github.com/hashr-dev/hashr/internal/ordered"
	"github.com/hashr-dev/hashr/internal/sandbox"
	"github.com/hashr-dev/hashr/internal/unpack"
	"github.com/hashr-dev/hashr/pkg/records"
)

// extractor is one run of hashr-extract.
type extractor struct {
	p        *cli.Program
	opts     options
	tmpDir   string          // temporary files: spilled records, copies of nested archives
	state    *spoolState     // this run's part of the spool; nil in a sandbox child
	spools   *spoolDirs      // nil with --hash and in a sandbox child
	sandbox  *sandbox.Runner // starts the sandbox children; nil with --no-sandbox
	reported sync.Once       // what the sandbox applies, said with --verbose

	// unfinished holds the spool directories of sources whose records are
	// not all written yet: an interrupted run removes them, as nothing
	// downstream will ever know of their files.
	mu         sync.Mutex
	unfinished map[string]bool
}

func run(ctx context.Context, p *cli.Program, opts options) error {
	state, cleaned, err := openSpoolState(opts.spool)
	if cleaned.runs > 0 || cleaned.spool > 0 || opts.cleanSpool {
		p.Infof("cleaned up after interrupted runs in %s: removed %d temporary directories and %d spool directories of unfinished sources",
			opts.spool, cleaned.runs, cleaned.spool)
	}
	if err != nil {
		return cli.Cause(err)
	}
	x := &extractor{p: p, opts: opts, tmpDir: state.runDir, state: state, unfinished: map[string]bool{}}
	p.OnExit(x.cleanUp)
	if opts.cleanSpool {
		return nil
	}
	if opts.walk.Algos == 0 {
		x.spools = newSpoolDirs(opts.spool, state)
	}
	if err := x.startSandbox(); err != nil {
		return err
	}
	if prog := decompress.XZProgram(); prog != "" {
		p.Verbosef("decoding xz with %s (faster than the Go decoder)", prog)
	} else {
		p.Verbosef("decoding xz in Go: neither 7zz nor xz on PATH")
	}

	return x.extractAll(ctx)
}

// extractAll extracts every source of the input, in parallel, and writes
// the records in input order.
func (x *extractor) extractAll(ctx context.Context) error {
	w := records.NewWriter(x.p.Stdout)
	defer w.Flush()

	var readErr error
	input := func(yield func(*records.Raw) bool) {
		for raw, err := range x.p.Records(ctx, x.opts.inputs) {
			if err != nil {
				readErr = err
				return
			}
			if !yield(raw) {
				return
			}
		}
	}
	out := &output{w: w, x: x}
	err := ordered.Map(ctx, x.opts.workers, iter.Seq[*records.Raw](input),
		func(raw *records.Raw) *result {
			if raw.Type != records.TypeSource {
				return &result{raw: raw}
			}
			return x.extractSource(ctx, raw)
		},
		out.emit)
	if x.sandbox != nil && x.sandbox.Pool != nil {
		x.sandbox.Pool.Close()
	}
	// Interrupted or not, a source whose records are all out gets its end.
	if ferr := out.flushEnd(); err == nil {
		err = ferr
	}
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if err == nil {
		err = readErr
	}
	if errors.Is(err, context.Canceled) {
		return cli.ErrInterrupted
	}
	return err
}

// cleanUp removes the temporary files and the spool of sources not
// written.
func (x *extractor) cleanUp() {
	x.mu.Lock()
	defer x.mu.Unlock()
	for dir := range x.unfinished {
		os.RemoveAll(dir)
	}
	x.state.close()
}

// openSpool claims the spool directory of the source sha256, to be
// removed if the run ends before the source's records are all written.
func (x *extractor) openSpool(sha256 string) (*unpack.Spool, error) {
	sp, err := x.spools.open(sha256, x.opts.walk.Flatten)
	if err != nil {
		return nil, err
	}
	x.mu.Lock()
	x.unfinished[sp.Dir] = true
	x.mu.Unlock()
	return sp, nil
}

// dropSpool removes the spool directory of a source that failed as a
// whole (its sandbox child died): what it holds is named by no record.
func (x *extractor) dropSpool(dir string) {
	os.RemoveAll(dir)
	x.mu.Lock()
	delete(x.unfinished, dir)
	x.mu.Unlock()
	x.state.finished(dir)
}

// output writes results in order. A source's end record is held back
// until the next record is known: when it is the end record that an
// earlier stage wrote for the same source, the two become one, so each
// source still has exactly one end, with every stage's milliseconds.
type output struct {
	w       *records.Writer
	x       *extractor
	pending *records.End
	pendSHA string // the sha256 the pending source came with
	pendDir string // the pending source's spool directory
}

func (o *output) emit(r *result) error {
	if r.raw != nil {
		if r.raw.Type == records.TypeEnd && o.pending != nil {
			if rec, err := r.raw.Decode(); err == nil {
				up := rec.(*records.End)
				if up.Source == o.pending.Source || (up.Source != "" && up.Source == o.pendSHA) {
					mergeEnd(o.pending, up)
					return o.flushEnd()
				}
			}
		}
		if err := o.flushEnd(); err != nil {
			return err
		}
		return o.w.WriteRaw(r.raw)
	}
	if err := o.flushEnd(); err != nil {
		return err
	}
	if r.err != nil {
		r.out.discard()
		return r.err
	}
	if err := o.w.Write(r.source); err != nil {
		return err
	}
	if err := r.out.drain(o.w); err != nil {
		return err
	}
	o.pending, o.pendSHA, o.pendDir = r.end, r.inputSHA, r.spoolDir
	return nil
}

// flushEnd writes the pending end record, and only once it is out does
// the source's spool directory belong downstream: until then, an
// interrupted run (or a later clean-up) removes it.
func (o *output) flushEnd() error {
	if o.pending == nil {
		return nil
	}
	end, dir := o.pending, o.pendDir
	o.pending, o.pendDir = nil, ""
	if err := o.w.Write(end); err != nil {
		return err
	}
	if dir == "" {
		return nil
	}
	if err := o.w.Flush(); err != nil {
		return err
	}
	o.x.mu.Lock()
	delete(o.x.unfinished, dir)
	o.x.mu.Unlock()
	o.x.state.finished(dir)
	return nil
}

// mergeEnd folds an earlier stage's end record into this stage's.
func mergeEnd(ours, up *records.End) {
	ours.Errors += up.Errors
	for k, v := range up.MS {
		if _, ok := ours.MS[k]; !ok {
			ours.MS[k] = v
		}
	}
	if len(up.Extra) > 0 {
		if ours.Extra == nil {
			ours.Extra = records.Extra{}
		}
		maps.Copy(ours.Extra, up.Extra)
	}
}
