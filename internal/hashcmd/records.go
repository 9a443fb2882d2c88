package hashcmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/digest"
	"github.com/hashr-dev/hashr/internal/filehash"
	"github.com/hashr-dev/hashr/internal/ordered"
	"github.com/hashr-dev/hashr/pkg/records"
)

// outcome is what became of one input record.
type outcome struct {
	in *records.Raw
	// out is the record to write: the input's bytes when it passes
	// through unchanged, else its new encoding. nil writes nothing.
	out *records.Raw
	// badInput reports a record that cannot be passed on because it does
	// not encode again; it is skipped like a line that is not a record.
	badInput error
	// failure is the error a file record was replaced with.
	failure *records.Error
	source  string        // a file record's source
	spent   time.Duration // time spent on its file
	warning string
}

// hashRecords fills the file records read from stdin, hashing with
// opts.workers goroutines and writing in input order.
func hashRecords(ctx context.Context, p *cli.Program, opts options) error {
	w := records.NewWriter(p.Stdout)
	defer w.Flush()

	var readErr error
	input := func(yield func(*records.Raw) bool) {
		for raw, err := range p.Records(ctx, nil) {
			if err != nil {
				readErr = err
				return
			}
			if !yield(raw) {
				return
			}
		}
	}
	acct := newAccounts()
	work := func(raw *records.Raw) outcome { return handleRecord(raw, opts) }
	emit := func(o outcome) error {
		switch {
		case o.badInput != nil:
			// Neither passed on nor dropped: an error record says so.
			p.Failf("%v", o.badInput)
			acct.failed(o.source)
			return w.Write(records.Undecodable("hash", o.in, o.badInput))
		case o.failure != nil:
			p.Failf("%s: file %q of source %s: %s", o.in.Where, o.failure.Path, orNone(o.failure.Source), o.failure.Message)
			acct.failed(o.source)
			return w.Write(o.failure)
		}
		if o.warning != "" {
			p.Warnf("%s: %s", o.in.Where, o.warning)
		}
		if o.in.Type == records.TypeFile {
			acct.spent(o.source, o.spent)
		}
		if o.in.Type == records.TypeEnd {
			end, err := closeSource(o.in, acct)
			if err != nil {
				p.Failf("%v", err)
				return w.Write(records.Undecodable("hash", o.in, err))
			}
			return w.Write(end)
		}
		return w.WriteRaw(o.out)
	}
	err := ordered.MapAhead(ctx, opts.workers, recordsAhead, input, work, emit)
	if errors.Is(err, context.Canceled) {
		// The records finished before the signal still go out whole;
		// cli says the run was interrupted.
		return errors.Join(err, w.Flush())
	}
	if err != nil {
		return err
	}
	if readErr != nil {
		return readErr
	}
	return w.Flush()
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// handleRecord does a record's work on a worker goroutine: hashing for a
// file record, nothing for the others.
func handleRecord(raw *records.Raw, opts options) outcome {
	if raw.Type != records.TypeFile {
		return outcome{in: raw, out: raw}
	}
	rec, err := raw.Decode()
	if err != nil {
		return undecodable(raw, err)
	}
	f := rec.(*records.File)
	o := outcome{in: raw, source: f.Source}
	fail := func(format string, args ...any) outcome {
		o.failure = &records.Error{Stage: "hash", Source: f.Source, Path: f.Path, Message: fmt.Sprintf(format, args...)}
		return o
	}
	if err := f.Validate(); err != nil {
		return fail("%v", err)
	}

	missing := digest.Missing(f, opts.algos)
	need := filehash.FullContent
	switch {
	case missing != 0:
	case f.MIME == "":
		need = filehash.HeadOnly
	case f.Size == nil:
		need = filehash.StatOnly
	default:
		// Nothing to compute: the file is not even opened.
		if opts.delete && f.Local != "" {
			return deleteLocal(o, f)
		}
		o.out = raw
		return o
	}
	if f.Local == "" {
		if missing == 0 {
			o.out = raw // only mime or size lacking, and no bytes to find them in
			return o
		}
		return fail("no local bytes to compute %s from (the record has no \"local\")", missing)
	}

	start := time.Now()
	sums, _, err := filehash.HashFile(f.Local, missing, need)
	o.spent = time.Since(start)
	if err != nil {
		return fail("%v", err)
	}
	if need == filehash.FullContent && f.Size != nil && *f.Size != sums.Size {
		return fail("local file %q has %d bytes, the record says %d", f.Local, sums.Size, *f.Size)
	}
	sums.Fill(f)
	if opts.delete {
		return deleteLocal(o, f)
	}
	return encoded(o, f)
}

// undecodable is the outcome of a file record that does not decode: still
// a member of its source, so an error record takes its place, and the
// source's end counts it.
func undecodable(raw *records.Raw, err error) outcome {
	source, path := leniently(raw)
	var lineErr *records.LineError
	if errors.As(err, &lineErr) {
		err = lineErr.Err // the message on stderr names the line
	}
	return outcome{in: raw, source: source, failure: &records.Error{Stage: "hash", Source: source, Path: path, Message: err.Error()}}
}

// leniently reads the source and path of a file record that does not
// decode, where they are strings.
func leniently(raw *records.Raw) (source, path string) {
	var fields struct {
		Source, Path any
	}
	_ = json.Unmarshal(raw.Line, &fields)
	source, _ = fields.Source.(string)
	path, _ = fields.Path.(string)
	return source, path
}

// deleteLocal removes the record's spooled file and drops "local", since
// the file no longer exists. Only a regular file is removed. When removing
// fails the record keeps "local", with a warning.
func deleteLocal(o outcome, f *records.File) outcome {
	info, err := os.Lstat(f.Local)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		f.Local = "" // gone already: the record must not point at it
	case err != nil:
		o.warning = fmt.Sprintf("not removing %q: %v", f.Local, cli.Cause(err))
	case !info.Mode().IsRegular():
		o.warning = fmt.Sprintf("not removing %q: not a regular file", f.Local)
	default:
		if err := os.Remove(f.Local); err != nil {
			o.warning = fmt.Sprintf("removing %q: %v", f.Local, cli.Cause(err))
		} else {
			removeEmptyDirs(filepath.Dir(f.Local), f.Source)
			f.Local = ""
		}
	}
	return encoded(o, f)
}

// removeEmptyDirs removes dir and its parents as they become empty, up to
// and including the source's own spool directory (named by its sha256,
// hashr-extract's SPOOL/SHA256 or SPOOL/SHA256.N) and never above it: a
// spool whose files are all hashed and deleted leaves no directories
// behind. rmdir(2) removes only an empty directory, so one still holding
// a file (another record's, not hashed yet) stops the climb. A path with
// no such directory above it is not hashr-extract's: nothing is removed.
// hashr-extract hands a source's directory downstream only once it is done
// writing there, and creates it again if it vanishes under a new claim.
func removeEmptyDirs(dir, source string) {
	if len(source) != 64 {
		return
	}
	var chain []string
	for d := dir; ; d = filepath.Dir(d) {
		chain = append(chain, d)
		base := filepath.Base(d)
		if base == source || strings.HasPrefix(base, source+".") {
			break
		}
		if parent := filepath.Dir(d); parent == d {
			return // no source directory above: not a spool
		}
	}
	for _, d := range chain {
		if syscall.Rmdir(d) != nil { // not os.Remove: a symlink is not unlinked
			return
		}
	}
}

// encoded sets the outcome's output to the new encoding of f. Encoding
// happens here, on the worker goroutines, rather than in the writer.
func encoded(o outcome, f *records.File) outcome {
	line, err := records.Marshal(f)
	if err != nil {
		o.badInput = &records.LineError{Where: o.in.Where, Err: err}
		return o
	}
	o.out = &records.Raw{Type: records.TypeFile, Line: line, Where: o.in.Where}
	return o
}
