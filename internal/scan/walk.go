package scan

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"os"
	"path/filepath"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/magic"
)

// entryKind says what the walk found at a path.
type entryKind int

const (
	regularFile  entryKind = iota // a candidate source
	ociLayout                     // a directory holding an OCI image layout: one source
	unreadable                    // err says why
	specialFile                   // a fifo, socket or device: never opened
	revisitedDir                  // a directory already walked, reached again through a link
	remoteSource                  // a source a remote listing found: remote says what
)

// entry is one thing the walk found.
type entry struct {
	kind     entryKind
	path     string // as walked from the REPO argument, for messages
	abs      string // absolute, for records
	repoPath string // the REPO argument as given
	err      error  // for unreadable entries
	remote   *remoteObject
}

// walkRepo walks one REPO argument: a directory depth-first in lexical
// order, following symbolic links, or a single file. Every directory is
// walked once however many links lead to it, so link loops end.
func walkRepo(ctx context.Context, rn *remoteNet, repoPath string) iter.Seq[entry] {
	if remoteScheme(repoPath) != "" {
		return rn.walkRemote(ctx, repoPath)
	}
	return func(yield func(entry) bool) {
		abs, err := filepath.Abs(repoPath)
		if err != nil {
			yield(entry{kind: unreadable, path: repoPath, abs: repoPath, repoPath: repoPath,
				err: fmt.Errorf("making the path absolute: %w", err)})
			return
		}
		w := &walker{ctx: ctx, repoPath: repoPath, yield: yield, visited: map[fileKey]bool{}}
		w.visit(repoPath, abs)
	}
}

type walker struct {
	ctx      context.Context
	repoPath string
	yield    func(entry) bool
	visited  map[fileKey]bool
}

func (w *walker) emit(kind entryKind, path, abs string, err error) bool {
	return w.yield(entry{kind: kind, path: path, abs: abs, repoPath: w.repoPath, err: err})
}

// visit walks path; it returns false when the walk must stop.
func (w *walker) visit(path, abs string) bool {
	if w.ctx.Err() != nil {
		return false
	}
	info, err := os.Lstat(path)
	if err != nil {
		return w.emit(unreadable, path, abs, cli.Cause(err))
	}
	if info.Mode()&fs.ModeSymlink != 0 {
		if info, err = os.Stat(path); err != nil {
			return w.emit(unreadable, path, abs, linkError(path, err))
		}
	}
	switch {
	case info.IsDir():
		return w.visitDir(path, abs, info)
	case info.Mode().IsRegular():
		return w.emit(regularFile, path, abs, nil)
	default:
		return w.emit(specialFile, path, abs, nil)
	}
}

func (w *walker) visitDir(path, abs string, info fs.FileInfo) bool {
	if key, ok := keyOf(path, info); ok {
		if w.visited[key] {
			return w.emit(revisitedDir, path, abs, nil)
		}
		w.visited[key] = true
	}
	// On an error ReadDir still returns the entries it read before it.
	entries, err := os.ReadDir(path)
	if err != nil && !w.emit(unreadable, path, abs, fmt.Errorf("reading the directory: %w", cli.Cause(err))) {
		return false
	}
	if hasEntry(entries, "oci-layout") {
		isLayout, err := magic.IsOCILayoutDir(path)
		if err != nil {
			// An unreadable oci-layout file: report it, and walk the
			// directory as an ordinary one.
			if !w.emit(unreadable, path, abs, err) {
				return false
			}
		}
		if isLayout {
			return w.emit(ociLayout, path, abs, nil)
		}
	}
	for _, e := range entries {
		if !w.visit(filepath.Join(path, e.Name()), filepath.Join(abs, e.Name())) {
			return false
		}
	}
	return true
}

func hasEntry(entries []fs.DirEntry, name string) bool {
	for _, e := range entries {
		if e.Name() == name {
			return true
		}
	}
	return false
}

// linkError describes a symbolic link that cannot be followed.
func linkError(path string, err error) error {
	target, rerr := os.Readlink(path)
	if rerr != nil {
		return fmt.Errorf("following the symbolic link: %w", cli.Cause(err))
	}
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("broken symbolic link to %q: %w", target, cli.Cause(err))
	}
	return fmt.Errorf("following the symbolic link to %q: %w", target, cli.Cause(err))
}
