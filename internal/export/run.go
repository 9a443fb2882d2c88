package export

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/db"
)

// counts is what an export wrote, for the summary.
type counts struct {
	samples, lines int64
	// skipped counts samples left out because they lack the digest the
	// format needs (an md5sum export of samples loaded without md5).
	skipped int64
}

func run(ctx context.Context, p *cli.Program, o *options) error {
	r, err := db.OpenReader(ctx, o.loc)
	if err != nil {
		return err
	}
	defer r.Close()

	var c counts
	where := o.output
	if o.format == "nsrl-2" && isDirectory(o.output) {
		c, err = writeNSRL2Dir(ctx, p, r, o)
	} else {
		c, where, err = writeOutput(ctx, p, r, o)
	}
	if err != nil {
		return err // cli names a cancellation an interruption
	}
	if o.includeFailed {
		if err := noteFailedSources(ctx, p, r, o.filter); err != nil {
			return err
		}
	}
	if c.skipped > 0 {
		// Not a warning: an export that leaves rows out must not look whole.
		d := digestOf(o)
		p.Failf("%d samples have no %s in the database and were left out", c.skipped, d)
		p.Hint("they were loaded from records hashed without %s: hash them again with it (hashr-hash --algos, hashr-extract --hash) and load them", d)
	}
	p.Infof("exported %d samples (%d lines) from %s as %s to %s", c.samples, c.lines, o.loc, o.format, where)
	return nil
}

// writeOutput writes the export to its one output, stdout or -o FILE,
// and names it.
func writeOutput(ctx context.Context, p *cli.Program, r *db.Reader, o *options) (counts, string, error) {
	out, err := createOutput(p, o.output)
	if err != nil {
		return counts{}, "", err
	}
	var c counts
	switch o.format {
	case "nsrl-rds":
		c, err = writeRDS(ctx, p, r, o, out)
	case "nsrl-2":
		c, err = writeNSRL2(ctx, r, o, out)
	case "bloom":
		c, err = writeBloom(ctx, r, o, out)
	case "dcso-bloom":
		c, err = writeDCSOBloom(ctx, r, o, out)
	default:
		c, err = writeText(ctx, r, o, out)
	}
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		out.abort()
		return c, out.name, err
	}
	return c, out.name, out.commit()
}

// noteFailedSources names on stderr the failed sources and those with
// failed members whose samples --include-failed exported.
func noteFailedSources(ctx context.Context, p *cli.Program, r *db.Reader, f db.Filter) error {
	failed, err := r.FailedSources(ctx, f)
	if err != nil {
		return err
	}
	for _, s := range failed {
		what := "failed"
		if s.Status != db.StatusFailed {
			what = "has failed members"
		}
		p.Warnf("included samples of source %x (%s): %s", s.SHA256, strings.Join(s.IDs, ", "), what)
	}
	return nil
}

// digestOf names the digest a format needs, for the warning about samples
// that lack it.
func digestOf(o *options) string {
	switch o.format {
	case "md5sum", "hashdeep":
		return "md5"
	case "sha1sum", "nsrl-2":
		return "sha1"
	}
	return o.algo
}

// output is where an export goes: stdout, or a temporary file beside the
// named one that becomes it only when the export is complete.
type output struct {
	*bufio.Writer
	name   string // for messages
	final  string // the -o path; "" for stdout
	file   *os.File
	stdout io.Writer
	p      *cli.Program
}

func createOutput(p *cli.Program, path string) (*output, error) {
	if path == "" || path == "-" {
		return &output{Writer: bufio.NewWriterSize(p.Stdout, 256<<10), name: "stdout", stdout: p.Stdout, p: p}, nil
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("creating the output file %q: %w", path, cli.Cause(err))
	}
	// However the run ends, the temporary file does not stay behind.
	p.OnExit(func() { f.Close(); os.Remove(f.Name()) })
	return &output{Writer: bufio.NewWriterSize(f, 256<<10), name: path, final: path, file: f, p: p}, nil
}

// tempPath is a file the format may write itself (the nsrl-rds database)
// before it is copied to the output: the output's own temporary file when
// there is one.
func (o *output) tempPath() (string, func(), error) {
	if o.file != nil {
		return o.file.Name(), func() {}, nil
	}
	f, err := os.CreateTemp("", "hashr-export-*.db")
	if err != nil {
		return "", nil, fmt.Errorf("creating a temporary file: %w", err)
	}
	f.Close()
	o.p.OnExit(func() { os.Remove(f.Name()) })
	return f.Name(), func() { os.Remove(f.Name()) }, nil
}

func (o *output) commit() error {
	if err := o.Flush(); err != nil {
		return fmt.Errorf("writing %s: %w", o.name, err)
	}
	if o.file == nil {
		return nil
	}
	if err := o.file.Sync(); err != nil {
		return fmt.Errorf("writing %s: %w", o.name, err)
	}
	if err := o.file.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", o.name, err)
	}
	if err := os.Chmod(o.file.Name(), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", o.name, err)
	}
	if err := os.Rename(o.file.Name(), o.final); err != nil {
		return fmt.Errorf("writing %s: %w", o.name, cli.Cause(err))
	}
	return nil
}

func (o *output) abort() {
	if o.file != nil {
		o.file.Close()
		os.Remove(o.file.Name())
	}
}
