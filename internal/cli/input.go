package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"strings"

	"github.com/hashr-dev/hashr/pkg/records"
	"github.com/spf13/cobra"
)

// AddInputFlags adds the flags of a command that reads records: --max-line.
func (p *Program) AddInputFlags(cmd *cobra.Command) {
	cmd.PersistentFlags().Var(sizeValue{n: &p.MaxLine, min: 1 << 10, max: 1 << 30}, "max-line",
		"longest input line read; a longer one becomes an error record, and reading goes on with the next line")
}

// Records streams the records of the named NDJSON files, in order, or of
// stdin when names is empty ("-" also means stdin). A line that is not a
// record (not JSON, not UTF-8, longer than --max-line) is reported on
// stderr with its FILE:LINE, counted as a failure (exit status 3) and
// comes out as an error record in its place, so the output says it too; a
// file that cannot be opened is reported and counted. The sequence ends
// early, with ErrInterrupted, when ctx is cancelled, even if a read is
// blocked: reading happens on its own goroutine.
func (p *Program) Records(ctx context.Context, names []string) iter.Seq2[*records.Raw, error] {
	return func(yield func(*records.Raw, error) bool) {
		for raw, err := range p.RecordsAndLines(ctx, names) {
			var lineErr *records.LineError
			if errors.As(err, &lineErr) {
				raw, err = p.BadLine(lineErr), nil
			}
			if !yield(raw, err) {
				return
			}
		}
	}
}

// BadLine reports a line of input that is not a record, counts it as a
// failure, and returns the error record that takes its place.
func (p *Program) BadLine(lineErr *records.LineError) *records.Raw {
	p.Failf("%v", lineErr)
	rec := &records.Error{Stage: strings.TrimPrefix(p.Name, "hashr-"), Message: lineErr.Error()}
	line, err := records.Marshal(rec)
	if err != nil { // a message is a string: it always encodes
		panic(fmt.Sprintf("encoding an error record: %v", err))
	}
	return &records.Raw{Type: records.TypeError, Line: line, Where: lineErr.Where}
}

// RecordsAndLines is Records for a stage that reads more than records
// (hashr-lookup reads bare hashes too): a line that is not a record comes
// as a *records.LineError holding the line, for the caller to read or
// report.
func (p *Program) RecordsAndLines(ctx context.Context, names []string) iter.Seq2[*records.Raw, error] {
	return func(yield func(*records.Raw, error) bool) {
		type item = inputItem
		items := make(chan item, 256)
		done := make(chan struct{})
		defer close(done)
		go func() {
			defer close(items)
			send := func(it item) bool {
				select {
				case items <- it:
					return true
				case <-done:
					return false
				}
			}
			if len(names) == 0 {
				names = []string{"-"}
			}
			for _, name := range names {
				if !p.readInput(name, send) {
					return
				}
			}
		}()
		for {
			select {
			case <-ctx.Done():
				yield(nil, ErrInterrupted)
				return
			case it, ok := <-items:
				if !ok {
					return
				}
				if it.err != nil && (errors.Is(it.err, os.ErrNotExist) || errors.Is(it.err, os.ErrPermission)) {
					// A missing input file is the input's fault:
					// report, count, go on.
					p.Failf("%v", it.err)
					continue
				}
				if !yield(it.raw, it.err) {
					return
				}
			}
		}
	}
}

// readInput sends the records of one input; false when reading must stop.
func (p *Program) readInput(name string, send func(item inputItem) bool) bool {
	in, display, closeIn, err := p.OpenInput(name)
	if err != nil {
		return send(inputItem{err: err})
	}
	defer closeIn()
	r := records.NewReader(in, display)
	r.SetMaxLine(p.MaxLine)
	for {
		raw, err := r.Next()
		if errors.Is(err, io.EOF) {
			return true
		}
		var lineErr *records.LineError
		if err != nil && !errors.As(err, &lineErr) {
			send(inputItem{err: fmt.Errorf("reading %s: %w", display, err)})
			return false
		}
		if !send(inputItem{raw: raw, err: err}) {
			return false
		}
	}
}

// inputItem is one record read, or why there is none.
type inputItem struct {
	raw *records.Raw
	err error
}

// OpenInput opens one named input for reading: "-" is stdin. It returns
// the reader, the name to show in messages ("stdin" or the file name) and
// the function that closes it. Every stage that reads inputs opens them
// here, so they name and report them alike.
func (p *Program) OpenInput(name string) (in io.Reader, display string, closeIn func(), err error) {
	if name == "-" {
		return p.Stdin, "stdin", func() {}, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, "", nil, fmt.Errorf("opening input %q: %w", name, Cause(err))
	}
	return f, name, func() { f.Close() }, nil
}

// Cause strips the operation and path from an *fs.PathError, for messages
// that name the path themselves; the result still matches os.ErrNotExist
// and friends with errors.Is.
func Cause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
