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
	w := newPlannedOutput(p, opts.plan)
	defer w.Finish()

	c := counts{byVerdict: map[verdict]int{}}
	hintedZip := false
	var exports wsusExports
	var sets wimSets
	write := func(src *records.Source) error {
		if opts.jobs.skip(src) {
			c.byVerdict[jobDone]++
			p.Verbosef("skipping %s: its job is done in %s (--reprocess %s to load it again)", src.ID, opts.jobs.db, src.QuickSHA256)
			return nil
		}
		if err := opts.apt.check(src); err != nil {
			c.byVerdict[failed]++
			p.Failf("%s: %v", src.URI, err)
			return w.Write(&records.Error{Stage: "scan", Source: src.URI, URI: src.URI, ID: src.ID, Message: err.Error()})
		}
		c.sources++
		if err := exports.annotate(src); err != nil {
			p.Failf("%v", err)
		}
		return w.Write(src)
	}
	emit := func(out outcome) error {
		c.byVerdict[out.verdict]++
		e := out.entry
		counted := false // each part of a split WIM is a file inspected
		if out.verdict == emitted && out.part != nil {
			c.files++
			counted = true
			whole, err := sets.add(out)
			switch {
			case err != nil:
				c.byVerdict[failed]++
				out = outcome{entry: e, verdict: failed, err: err}
			case whole == nil:
				p.Verbosef("%s: part %d of %d of the split WIM %s: held until its set is whole", e.path, out.part.Part, out.part.Total, out.part.GUIDString())
				return nil
			default:
				out, e = *whole, whole.entry
			}
		}
		switch out.verdict {
		case emitted:
			if !counted {
				c.files++
			}
			if out.splitErr != nil {
				p.Warnf("%s: --split-images: %v; it is one source, all its images in it", e.path, out.splitErr)
			}
			for _, src := range out.sources() {
				if err := write(src); err != nil {
					return err
				}
			}
			return nil
		case failed:
			p.Failf("%s: %v", e.path, out.err)
			return w.Write(&records.Error{Stage: "scan", Source: e.abs, URI: e.abs,
				ID: filepath.Base(e.abs), Message: out.err.Error()})
		case unknownFormat:
			c.files++
			p.Verbosef("skipping %s: no known format", e.path)
		case zipExtension:
			c.files++
			p.Verbosef("skipping %s: a zip archive, but its extension is not one of --zip-exts (%s)", e.path, zipExtList(opts))
			if p.Verbose && !hintedZip {
				p.Hint("to scan such zip files, add their extension to --zip-exts")
				hintedZip = true
			}
		case formatFilter:
			c.files++
			p.Verbosef("skipping %s: format %s is not in --formats", e.path, out.format)
		case notRegular:
			p.Verbosef("skipping %s: not a regular file or directory", e.path)
		case alreadyWalked:
			p.Verbosef("skipping %s: directory already walked (a symbolic link leads back to it)", e.path)
		}
		return nil
	}
	err := ordered.Map(ctx, workers, allEntries(ctx, opts.net, repos),
		func(e entry) outcome { return inspect(ctx, opts, e) }, emit)
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return cli.ErrInterrupted
	}
	for _, rec := range sets.incomplete() {
		c.byVerdict[failed]++
		p.Failf("%s: %s", rec.URI, rec.Message)
		if err := w.Write(rec); err != nil {
			return err
		}
	}
	if err := w.Finish(); err != nil {
		return err
	}
	p.Infof("%s", c.summary())
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
