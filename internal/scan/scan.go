package scan

import (
	"context"
	"fmt"
	"iter"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/ordered"
	"github.com/hashr-dev/hashr/internal/verify"
	"github.com/hashr-dev/hashr/pkg/records"
)

// workers is how many files are inspected at once. The work is reading
// (64 KiB to tell the format, up to 20 MiB for quick_sha256), so a few
// more than the cores keep the disk busy.
const workers = 4

// counts tallies what the scan found, for the summary on stderr.
type counts struct {
	files     int // regular files and OCI layouts inspected
	sources   int // source records written
	byVerdict map[verdict]int
}

// run scans the REPOs in order and writes a source record per source, or an
// error record per path that could not be read.
func run(ctx context.Context, p *cli.Program, opts options, repos []string) error {
	defer p.RouteClientLog()() // listings of buckets, registries and URLs
	s := &scanRun{p: p, opts: opts, w: newPlannedOutput(p, opts.plan), c: counts{byVerdict: map[verdict]int{}},
		yum: opts.verify.yumRepos()}
	defer s.w.Finish()
	err := ordered.Map(ctx, workers, allEntries(ctx, opts.net, repos),
		func(e entry) outcome { return inspect(ctx, opts, e) }, s.emit)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err // cli names it an interruption
	}
	return s.finish()
}

// scanRun is the state of one run as outcomes come in, in order.
type scanRun struct {
	p         *cli.Program
	opts      options
	w         *plannedOutput
	c         counts
	hintedZip bool
	exports   wsusExports
	yum       *yumRepos
	sets      wimSets
}

// write writes a source record, unless its job is done already.
func (s *scanRun) write(src *records.Source) error {
	if s.opts.jobs.skip(src) {
		s.c.byVerdict[jobDone]++
		s.p.Verbosef("skipping %s: its job is done in %s (--reprocess %s to load it again)", src.ID, s.opts.jobs.db, src.QuickSHA256)
		return nil
	}
	if err := s.opts.verify.check(src); err != nil {
		return s.refuse(src, err)
	}
	s.c.sources++
	if err := s.exports.annotate(src); err != nil {
		s.p.Failf("%v", err)
	}
	if err := s.yum.name(src); err != nil {
		s.p.Warnf("%s: %v; its RPMs are named by their headers", src.RepoPath, err)
	}
	return s.w.Write(src)
}

// refuse writes a source that failed verification as a refused source:
// the source, its error record and its end record (records.Refuse), so
// that hashr-load records it and its failed job while no stage reads its
// bytes. Its sha256 is read here, from a local file, to say which bytes
// were refused; a remote source keeps the one its listing gave, if any.
func (s *scanRun) refuse(src *records.Source, err error) error {
	s.c.byVerdict[refused]++
	s.p.Failf("%s: %v", src.URI, err)
	if remoteScheme(src.URI) == "" {
		sum, herr := wholeSHA256(src.URI)
		if herr != nil {
			s.p.Verbosef("%s: reading its sha256: %v; its job alone is recorded", src.URI, herr)
		}
		src.SHA256 = sum
	}
	failure, end := records.Refuse(src, "scan", verify.RefusedBy(err), "", err)
	for _, rec := range []records.Record{src, failure, end} {
		if err := s.w.Write(rec); err != nil {
			return err
		}
	}
	return nil
}

// emit handles one outcome: its sources written, its failure reported,
// a skipped file said with --verbose.
func (s *scanRun) emit(out outcome) error {
	s.c.byVerdict[out.verdict]++
	counted := false // each part of a split WIM is a file inspected
	if out.verdict == emitted && out.part != nil {
		s.c.files++
		counted = true
		whole, held := s.joinSplitWIM(out)
		if held {
			return nil
		}
		out = whole
	}
	if out.verdict == emitted {
		if !counted {
			s.c.files++
		}
		return s.writeSources(out)
	}
	return s.skipOrFail(out)
}

// joinSplitWIM holds a part of a split WIM until its set is whole, then
// returns the whole set's outcome (or the failure to join it); held says
// the set still waits for parts.
func (s *scanRun) joinSplitWIM(out outcome) (joined outcome, held bool) {
	e := out.entry
	whole, err := s.sets.add(out)
	switch {
	case err != nil:
		s.c.byVerdict[failed]++
		return outcome{entry: e, verdict: failed, err: err}, false
	case whole == nil:
		s.p.Verbosef("%s: part %d of %d of the split WIM %s: held until its set is whole", e.path, out.part.Part, out.part.Total, out.part.GUIDString())
		return outcome{}, true
	default:
		return *whole, false
	}
}

// writeSources writes the sources of a file whose format was found.
func (s *scanRun) writeSources(out outcome) error {
	if out.splitErr != nil {
		s.p.Warnf("%s: --split-images: %v; it is one source, all its images in it", out.entry.path, out.splitErr)
	}
	for _, src := range out.sources() {
		if err := s.write(src); err != nil {
			return err
		}
	}
	return nil
}

// skipOrFail reports an outcome that is no source: an error record for
// a failure, a --verbose line for a skipped path.
func (s *scanRun) skipOrFail(out outcome) error {
	e, p := out.entry, s.p
	switch out.verdict {
	case failed:
		p.Failf("%s: %v", e.path, out.err)
		return s.w.Write(&records.Error{Stage: "scan", Source: e.abs, URI: e.abs,
			ID: filepath.Base(e.abs), Message: out.err.Error()})
	case unknownFormat:
		s.c.files++
		p.Verbosef("skipping %s: no known format", e.path)
	case zipExtension:
		s.c.files++
		p.Verbosef("skipping %s: a zip archive, but its extension is not one of --zip-exts (%s)", e.path, zipExtList(s.opts))
		if p.Verbose && !s.hintedZip {
			p.Hint("to scan such zip files, add their extension to --zip-exts")
			s.hintedZip = true
		}
	case formatFilter:
		s.c.files++
		p.Verbosef("skipping %s: format %s is not in --formats", e.path, out.format)
	case notRegular:
		p.Verbosef("skipping %s: not a regular file or directory", e.path)
	case alreadyWalked:
		p.Verbosef("skipping %s: directory already walked (a symbolic link leads back to it)", e.path)
	}
	return nil
}

// finish reports the split WIMs whose sets never became whole, ends the
// output and says the summary.
func (s *scanRun) finish() error {
	for _, rec := range s.sets.incomplete() {
		s.c.byVerdict[failed]++
		s.p.Failf("%s: %s", rec.URI, rec.Message)
		if err := s.w.Write(rec); err != nil {
			return err
		}
	}
	if err := s.w.Finish(); err != nil {
		return err
	}
	s.p.Infof("%s", s.c.summary())
	return nil
}

// allEntries walks the REPOs one after the other.
func allEntries(ctx context.Context, rn *remoteNet, repos []string) iter.Seq[entry] {
	return func(yield func(entry) bool) {
		for _, repo := range repos {
			for e := range walkRepo(ctx, rn, repo) {
				if !yield(e) {
					return
				}
			}
		}
	}
}

func (c counts) summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "scanned %d files: %d sources, %d skipped (no known format)",
		c.files, c.sources, c.byVerdict[unknownFormat])
	for _, extra := range []struct {
		v    verdict
		what string
	}{
		{zipExtension, "skipped (zip, extension not in --zip-exts)"},
		{formatFilter, "skipped (format not in --formats)"},
		{jobDone, "skipped (job done in --db)"},
		{notRegular, "special files skipped"},
		{failed, "unreadable"},
		{refused, "refused (failed verification)"},
	} {
		if n := c.byVerdict[extra.v]; n > 0 {
			fmt.Fprintf(&b, ", %d %s", n, extra.what)
		}
	}
	return b.String()
}

func zipExtList(opts options) string {
	exts := make([]string, 0, len(opts.zipExts))
	for ext := range opts.zipExts {
		exts = append(exts, ext)
	}
	if len(exts) == 0 {
		return "none"
	}
	slices.Sort(exts)
	return strings.Join(exts, ",")
}
