package filehash

import (
	"fmt"
	"io/fs"
	"iter"
	"os"
	"strings"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/regular"
	"github.com/hashr-dev/hashr/pkg/records"
)

// Found is one regular file to hash, or a path that could not be walked.
type Found struct {
	Path string // as walked: the argument, then "/" and names below it
	Err  error
}

// Walk yields the regular files the arguments name: each argument itself,
// or the files in the tree under it, in name order, depth first. Symbolic
// links named as arguments are followed; inside trees they are skipped
// (with a --verbose note on p), as are special files.
func Walk(p *cli.Program, args []string) iter.Seq[Found] {
	return func(yield func(Found) bool) {
		for _, arg := range args {
			if !walkArgument(p, arg, yield) {
				return
			}
		}
	}
}

// Ahead is how many files a program hashing them in parallel (hashr-hash,
// hashr-lookup) may take beyond the oldest one still being hashed
// (ordered.MapAhead). A long file ahead of the others holds up their
// output, not their hashing: with up to 16 files read at once for the md5
// engine (digest.UseMultiBuffer), the next big ones should be among them.
// hashr-lookup took 4 (ordered.Map's twice its two workers): behind a long
// file the other worker soon had nothing to hash, and the execution tracer
// showed each of its hashing goroutines waiting for work half the run. A
// file and its result waiting are a few hundred bytes each.
const Ahead = 4096

// PathError is the error record of a path that could not be hashed.
func PathError(stage, path string, err error) *records.Error {
	display, _ := records.PathFields(path)
	return &records.Error{Stage: stage, Path: display, Message: err.Error()}
}

func walkArgument(p *cli.Program, arg string, yield func(Found) bool) bool {
	info, err := os.Stat(arg)
	switch {
	case err != nil:
		return yield(Found{Path: arg, Err: fmt.Errorf("reading %q: %w", arg, cli.Cause(err))})
	case info.IsDir():
		return walkTree(p, arg, yield)
	case info.Mode().IsRegular():
		return yield(Found{Path: arg})
	default:
		return yield(Found{Path: arg, Err: fmt.Errorf("%q is not a regular file or directory but %s", arg, regular.Kind(info.Mode()))})
	}
}

// walkTree yields the regular files under dir, in name order, depth first.
func walkTree(p *cli.Program, dir string, yield func(Found) bool) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		// What could be read is still walked.
		if !yield(Found{Path: dir, Err: fmt.Errorf("reading directory %q: %w", dir, cli.Cause(err))}) {
			return false
		}
	}
	for _, e := range entries {
		path := JoinPath(dir, e.Name())
		switch t := e.Type(); {
		case t.IsDir():
			if !walkTree(p, path, yield) {
				return false
			}
		case t.IsRegular():
			if !yield(Found{Path: path}) {
				return false
			}
		case t&fs.ModeSymlink != 0:
			p.Verbosef("skipping %q: a symbolic link", path)
		default:
			p.Verbosef("skipping %q: %s", path, regular.Kind(t))
		}
	}
	return true
}

// JoinPath appends a name to a directory path the way find and hashdeep -l
// print it: "d" and "d/" both give "d/name", "./d" gives "./d/name".
func JoinPath(dir, name string) string {
	if strings.HasSuffix(dir, "/") {
		return dir + name
	}
	return dir + "/" + name
}
