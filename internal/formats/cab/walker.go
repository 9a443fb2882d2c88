package cab

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/hashr-dev/hashr/internal/formats/archive"
)

// maxRestarts bounds how often a folder is decoded from its start again.
const maxRestarts = 64

// CabextractTool decodes the folders this package does not (LZX, Quantum).
const CabextractTool = "cabextract"

// Options configure a Walker.
type Options struct {
	// Path is the cabinet's file, and TempDir a directory for cabextract
	// to unpack it into: both set, LZX and Quantum folders are decoded by
	// cabextract. Ctx stops it.
	Path    string
	TempDir string
	Ctx     context.Context
	// MaxBytes, when above zero, bounds what cabextract may write: the
	// sum of the cabinet's file sizes.
	MaxBytes int64
	// Meter, when set, is told of every byte decoded, those of files
	// skipped over included, so a bomb stops where it expands.
	Meter archive.Meter
	// Verbosef, when set, is told when cabextract is used.
	Verbosef func(format string, args ...any)
}

// Walker walks the files of a cabinet in stored order.
type Walker struct {
	c    *Cabinet
	opts Options
	next int
	cur  *file

	// One decoder per folder, kept as long as files are read in order.
	dec       *blockReader
	decFolder int
	decPos    int64
	restarts  int
	started   map[int]bool  // folders decoded once already
	failed    map[int]error // folders that failed to decode, and why

	toolDir string // where cabextract unpacked the cabinet, "" before
	toolErr error
	open    *os.File
}

// NewWalker reads the directory of the cabinet in the size bytes of ra.
func NewWalker(ra io.ReaderAt, size int64, opts Options) (*Walker, error) {
	c, err := Open(ra, size)
	if err != nil {
		return nil, err
	}
	if opts.Ctx == nil {
		opts.Ctx = context.Background()
	}
	return &Walker{c: c, opts: opts, decFolder: -1, started: map[int]bool{}, failed: map[int]error{}}, nil
}

// Next returns the next file.
func (w *Walker) Next() (*archive.Entry, error) {
	w.closeOpen()
	w.cur = nil
	if w.next >= len(w.c.files) {
		return nil, io.EOF
	}
	f := &w.c.files[w.next]
	w.next++
	w.cur = f
	return &archive.Entry{Name: f.name, Type: archive.Regular, Size: f.size, ModTime: f.mtime}, nil
}

// Open returns the current file's bytes.
func (w *Walker) Open() (io.Reader, error) {
	f := w.cur
	if f == nil {
		return nil, archive.ErrNotRegular
	}
	if f.folder >= folderFromPrev {
		return nil, fmt.Errorf("cab: %q continues from or into another cabinet of a set, which was not given with it", f.name)
	}
	if f.folder >= len(w.c.folders) {
		return nil, corrupt(-1, fmt.Sprintf("%q is in folder %d of %d", f.name, f.folder, len(w.c.folders)))
	}
	fo := &w.c.folders[f.folder]
	switch fo.comp & 0x0f {
	case compNone, compMSZIP:
	case compLZX, compQuantum:
		return w.openWithTool(f, fo)
	default:
		return nil, fmt.Errorf("cab: %w: %s", archive.ErrUnsupportedMethod, fo.method())
	}
	if err := w.failed[f.folder]; err != nil {
		// The files after a broken block: decoding the folder again to
		// reach them would break there again.
		return nil, fmt.Errorf("folder %d failed to decode before this file: %w", f.folder, err)
	}
	// Files are usually stored in folder order: go on decoding where the
	// last one ended, and start the folder over only when a file is
	// earlier.
	if w.dec == nil || w.decFolder != f.folder || w.decPos > f.offset {
		if w.started[f.folder] {
			// Decoding a folder over for each file out of order could take
			// forever on a hostile table.
			if w.restarts++; w.restarts > maxRestarts {
				return nil, corrupt(-1, fmt.Sprintf("more than %d files out of their folder's order", maxRestarts))
			}
		}
		w.dec, w.decFolder, w.decPos = newBlockReader(w.c, fo), f.folder, 0
		w.dec.meter = w.opts.Meter
		w.started[f.folder] = true
	}
	if skip := f.offset - w.decPos; skip > 0 {
		n, err := io.CopyN(io.Discard, w.dec, skip)
		w.decPos += n
		if err != nil {
			w.dec = nil
			if err != io.EOF {
				w.failed[f.folder] = err
			}
			if err == io.EOF {
				return nil, corrupt(-1, fmt.Sprintf("%q starts past its folder's end", f.name))
			}
			return nil, err
		}
	}
	return &fileReader{w: w, left: f.size, name: f.name}, nil
}

// fileReader reads one file out of its folder's stream.
type fileReader struct {
	w    *Walker
	left int64
	name string
}

func (r *fileReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err := r.w.dec.Read(p)
	r.left -= int64(n)
	r.w.decPos += int64(n)
	if err == io.EOF {
		err = corrupt(-1, fmt.Sprintf("%q runs past its folder's end", r.name))
	}
	if err != nil {
		r.w.failed[r.w.decFolder] = err
		r.w.dec = nil
	}
	return n, err
}

// openWithTool returns a file of an LZX or Quantum folder, unpacked by
// cabextract.
func (w *Walker) openWithTool(f *file, fo *folder) (io.Reader, error) {
	if w.opts.Path == "" || w.opts.TempDir == "" {
		return nil, fmt.Errorf("cab: %w: %s (decoded only by cabextract, from a file)", archive.ErrUnsupportedMethod, fo.method())
	}
	if w.toolDir == "" && w.toolErr == nil {
		w.toolErr = w.runTool(fo)
	}
	if w.toolErr != nil {
		return nil, w.toolErr
	}
	// cabextract writes names as stored, '\' made '/', without leading
	// slashes or "..": the same cleaning as ours for any sane name.
	name := filepath.FromSlash(strings.TrimLeft(f.name, "/"))
	p := filepath.Join(w.toolDir, name)
	if !strings.HasPrefix(p, w.toolDir+string(filepath.Separator)) {
		return nil, fmt.Errorf("cab: %q: not unpacked by cabextract", f.name)
	}
	of, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("cab: %q: not unpacked by cabextract: %w", f.name, err)
	}
	w.open = of
	return of, nil
}

func (w *Walker) runTool(fo *folder) error {
	tool, err := exec.LookPath(CabextractTool)
	if err != nil {
		return fmt.Errorf("cab: %w: %s (install Debian's cabextract to decode it)", archive.ErrUnsupportedMethod, fo.method())
	}
	if w.opts.MaxBytes > 0 {
		var total int64
		for _, f := range w.c.files {
			total += f.size
		}
		if total > w.opts.MaxBytes {
			return fmt.Errorf("cab: its files add up to %d bytes, more than the %d allowed for unpacking with cabextract", total, w.opts.MaxBytes)
		}
	}
	dir, err := os.MkdirTemp(w.opts.TempDir, "cabextract-*")
	if err != nil {
		return err
	}
	w.toolDir = dir
	if w.opts.Verbosef != nil {
		w.opts.Verbosef("%s folder: decoding the cabinet with %s", fo.method(), CabextractTool)
	}
	cmd := exec.CommandContext(w.opts.Ctx, tool, "-q", "-d", dir, w.opts.Path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		// cabextract goes on past bad files: what it unpacked is usable,
		// the rest fails to open.
		if w.opts.Verbosef != nil {
			w.opts.Verbosef("%s: %v: %s", CabextractTool, err, strings.TrimSpace(stderr.String()))
		}
	}
	return nil
}

func (w *Walker) closeOpen() {
	if w.open != nil {
		w.open.Close()
		w.open = nil
	}
}

// Close removes what cabextract unpacked.
func (w *Walker) Close() error {
	w.closeOpen()
	if w.toolDir != "" {
		return os.RemoveAll(w.toolDir)
	}
	return nil
}
