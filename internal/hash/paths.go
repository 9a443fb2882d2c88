package hash

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/ordered"
	"github.com/hashr-dev/hashr/pkg/records"
)

// found is one regular file to hash, or a path that could not be walked.
type found struct {
	path string // as walked: the argument, then "/" and names below it
	err  error
}

// hashed is what became of one found path: a file record's line, or an
// error record.
type hashed struct {
	line    []byte
	failure *records.Error
}

// hashPaths hashes the files named by opts.paths and the trees under the
// directories among them, writing file records in walk order.
func hashPaths(ctx context.Context, p *cli.Program, opts options) error {
	w := records.NewWriter(p.Stdout)
	defer w.Flush()
	progress := p.Progress("hashing", -1)
	defer progress.Finish()

	walk := func(yield func(found) bool) {
		for _, arg := range opts.paths {
			if !walkArgument(p, arg, yield) {
				return
			}
		}
	}
	work := func(f found) hashed {
		if f.err != nil {
			return hashed{failure: pathError(f.path, f.err)}
		}
		line, err := fileRecord(f.path, opts)
		if err != nil {
			return hashed{failure: pathError(f.path, err)}
		}
		return hashed{line: line}
	}
	emit := func(h hashed) error {
		progress.Add(1)
		if h.failure != nil {
			p.Failf("%s", h.failure.Message)
			return w.Write(h.failure)
		}
		return w.WriteRaw(&records.Raw{Type: records.TypeFile, Line: h.line})
	}
	err := ordered.Map(ctx, opts.workers, walk, work, emit)
	if errors.Is(err, context.Canceled) {
		// The records finished before the signal still go out whole.
		return errors.Join(cli.ErrInterrupted, w.Flush())
	}
	if err != nil {
		return err
	}
	return w.Flush()
}

func pathError(path string, err error) *records.Error {
	display, _ := records.PathFields(path)
	return &records.Error{Stage: "hash", Path: display, Message: err.Error()}
}

// walkArgument yields the regular files an argument names: itself, or
// those in the tree under it. Symbolic links named on the command line are
// followed; inside trees they are not. It returns false when yield does.
func walkArgument(p *cli.Program, arg string, yield func(found) bool) bool {
	info, err := os.Stat(arg)
	switch {
	case err != nil:
		return yield(found{path: arg, err: fmt.Errorf("reading %q: %w", arg, cli.Cause(err))})
	case info.IsDir():
		return walkTree(p, arg, yield)
	case info.Mode().IsRegular():
		return yield(found{path: arg})
	default:
		return yield(found{path: arg, err: fmt.Errorf("%q is not a regular file or directory but %s", arg, kindOf(info.Mode()))})
	}
}

// walkTree yields the regular files under dir, in name order, depth first.
func walkTree(p *cli.Program, dir string, yield func(found) bool) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		// What could be read is still walked.
		if !yield(found{path: dir, err: fmt.Errorf("reading directory %q: %w", dir, cli.Cause(err))}) {
			return false
		}
	}
	for _, e := range entries {
		path := joinPath(dir, e.Name())
		switch t := e.Type(); {
		case t.IsDir():
			if !walkTree(p, path, yield) {
				return false
			}
		case t.IsRegular():
			if !yield(found{path: path}) {
				return false
			}
		case t&fs.ModeSymlink != 0:
			p.Verbosef("skipping %q: a symbolic link", path)
		default:
			p.Verbosef("skipping %q: %s", path, kindOf(t))
		}
	}
	return true
}

// joinPath appends a name to a directory path the way find and hashdeep -l
// print it: "d" and "d/" both give "d/name", "./d" gives "./d/name".
func joinPath(dir, name string) string {
	if strings.HasSuffix(dir, "/") {
		return dir + name
	}
	return dir + "/" + name
}

// fileRecord hashes the file at path and encodes its record.
func fileRecord(path string, opts options) ([]byte, error) {
	sums, info, err := hashFile(path, opts.algos, fullContent)
	if err != nil {
		return nil, err
	}
	f := &records.File{Mode: records.Mode(info.Mode()), Mtime: records.Time(info.ModTime())}
	f.Path, f.PathRaw = records.PathFields(path)
	sums.Fill(f)
	return records.Marshal(f)
}
