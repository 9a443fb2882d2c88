package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"

	"github.com/hashr-dev/hashr/pkg/records"
)

// Records streams the records of the named NDJSON files, in order, or of
// stdin when names is empty ("-" also means stdin). Lines that are not
// records are reported on stderr with their FILE:LINE and counted as
// failures (exit status 3); a file that cannot be opened likewise. The
// sequence ends early, with ErrInterrupted, when ctx is cancelled, even if
// a read is blocked: reading happens on its own goroutine.
func (p *Program) Records(ctx context.Context, names []string) iter.Seq2[*records.Raw, error] {
	return func(yield func(*records.Raw, error) bool) {
		type item struct {
			raw *records.Raw
			err error
		}
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
				in, display, closeIn, err := p.openInput(name)
				if err != nil {
					if !send(item{err: err}) {
						return
					}
					continue
				}
				r := records.NewReader(in, display)
				for {
					raw, err := r.Next()
					if errors.Is(err, io.EOF) {
						break
					}
					var lineErr *records.LineError
					if err != nil && !errors.As(err, &lineErr) {
						err = fmt.Errorf("reading %s: %w", display, err)
						send(item{err: err})
						closeIn()
						return
					}
					if !send(item{raw: raw, err: err}) {
						closeIn()
						return
					}
				}
				closeIn()
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
				if it.err != nil {
					var lineErr *records.LineError
					if errors.As(it.err, &lineErr) || errors.Is(it.err, os.ErrNotExist) || errors.Is(it.err, os.ErrPermission) {
						// Bad input lines and missing input files are
						// the input's fault: report, count, go on.
						p.Failf("%v", it.err)
						continue
					}
				}
				if !yield(it.raw, it.err) {
					return
				}
			}
		}
	}
}

func (p *Program) openInput(name string) (io.Reader, string, func(), error) {
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
