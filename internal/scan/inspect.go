package scan

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/formats/oci"
	"github.com/hashr-dev/hashr/internal/formats/wim"
	"github.com/hashr-dev/hashr/internal/identity"
	"github.com/hashr-dev/hashr/internal/magic"
	"github.com/hashr-dev/hashr/internal/regular"
	"github.com/hashr-dev/hashr/pkg/records"
)

// verdict is what became of an entry.
type verdict int

const (
	emitted       verdict = iota // a source record
	failed                       // an error record
	unknownFormat                // skipped: no known format
	zipExtension                 // skipped: zip magic, extension not in --zip-exts
	formatFilter                 // skipped: format not in --formats
	notRegular                   // skipped: a special file
	alreadyWalked                // skipped: a directory reached again
	jobDone                      // skipped: its job is done in --db
	refused                      // a refused source: it failed verification
)

// outcome is the result of inspecting one entry.
type outcome struct {
	entry   entry
	verdict verdict
	source  *records.Source // when emitted
	format  string          // the detected format, when known
	err     error           // when failed
	// images are the sources --split-images makes of source, which they
	// replace; splitErr says why it could not.
	images   []*records.Source
	splitErr error
	part     *wim.PartInfo // a part of a split WIM, held until its set is whole
}

// sources are the source records an emitted outcome makes.
func (o *outcome) sources() []*records.Source {
	if len(o.images) > 0 {
		return o.images
	}
	return []*records.Source{o.source}
}

// inspect tells an entry's format and, for a source, computes its record.
// It runs on several goroutines at once.
func inspect(ctx context.Context, opts options, e entry) outcome {
	switch e.kind {
	case remoteSource:
		return inspectRemote(ctx, opts, e)
	case unreadable:
		return outcome{entry: e, verdict: failed, err: e.err}
	case specialFile:
		return outcome{entry: e, verdict: notRegular}
	case revisitedDir:
		return outcome{entry: e, verdict: alreadyWalked}
	case ociLayout:
		return inspectLayout(opts, e)
	}
	// The walk saw a regular file, but it may have been swapped for a
	// FIFO since: regular.Open does not wait on one.
	f, info, err := regular.Open(e.path)
	var notAFile *regular.NotAFileError
	if errors.As(err, &notAFile) {
		return outcome{entry: e, verdict: notRegular}
	}
	if err != nil {
		return outcome{entry: e, verdict: failed, err: fmt.Errorf("opening: %w", cli.Cause(err))}
	}
	defer f.Close()
	if !info.Mode().IsRegular() {
		return outcome{entry: e, verdict: notRegular}
	}
	return inspectFile(opts, e, f, info)
}

// inspectFile tells a regular file's format and, for a source, computes
// its record.
func inspectFile(opts options, e entry, f *os.File, info os.FileInfo) outcome {
	res, err := magic.Detect(f, info.Size())
	if err != nil {
		return outcome{entry: e, verdict: failed, err: fmt.Errorf("detecting the format: %w", cli.Cause(err))}
	}
	out := outcome{entry: e, format: res.Format}
	switch {
	case !res.Known():
		out.verdict = unknownFormat
		return out
	case res.Format == magic.Zip && !opts.zipExtAllowed(info.Name()):
		out.verdict = zipExtension
		return out
	case !opts.wants(res.Format):
		out.verdict = formatFilter
		return out
	}
	quick, err := quickSHA256(f, info.Size())
	if err != nil {
		return outcome{entry: e, verdict: failed, err: cli.Cause(err)}
	}
	out.verdict = emitted
	out.source = newSource(opts, e, res.Format, info.Size(), info, quick)
	if res.Compression == "" {
		// The package's metadata is small members, read here so that the
		// name reaches the database whichever stage reads the rest; a
		// compressed image tar is named by hashr-fetch, which reads it all.
		out.source.Package = identity.File(f, info.Size(), res.Format)
	}
	if res.Format == magic.WIM {
		describeWIM(f, info.Size(), out.source)
		if part, err := wim.ReadPartInfo(f, info.Size()); err == nil && part.Split() {
			out.part = &part
			if part.Part != 1 {
				return out // its set's source is part 1's
			}
		}
	}
	if opts.splitImages && res.Compression == "" {
		out.images, out.splitErr = splitImages(f, info.Size(), res.Format, out.source)
	}
	return out
}

// inspectLayout makes the record of an OCI image layout directory. Its
// size is the total size of the regular files in it, its mtime that of
// index.json (which every change to the layout's images rewrites), and its
// quick_sha256 the SHA-256 of index.json: the layout's table of contents,
// which names every image in it by digest.
func inspectLayout(opts options, e entry) outcome {
	if !opts.wants(magic.OCI) {
		return outcome{entry: e, verdict: formatFilter, format: magic.OCI}
	}
	var total int64
	err := filepath.WalkDir(e.path, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			total += info.Size()
		}
		return nil
	})
	if err != nil {
		return outcome{entry: e, verdict: failed, err: fmt.Errorf("adding up the layout's size: %w", err)}
	}
	indexPath := filepath.Join(e.path, "index.json")
	f, info, err := regular.Open(indexPath)
	if err != nil {
		return outcome{entry: e, verdict: failed, err: fmt.Errorf("opening index.json: %w", cli.Cause(err))}
	}
	defer f.Close()
	quick, err := quickSHA256(f, info.Size())
	if err != nil {
		return outcome{entry: e, verdict: failed, err: fmt.Errorf("index.json: %w", err)}
	}
	src := newSource(opts, e, magic.OCI, total, info, quick)
	if imgs, err := oci.LayoutImages(e.path); err == nil {
		src.Package = identity.OCILayout(imgs)
	} // else extract reports the broken layout
	return outcome{entry: e, verdict: emitted, format: magic.OCI, source: src}
}

func newSource(opts options, e entry, format string, size int64, info fs.FileInfo, quick string) *records.Source {
	return &records.Source{
		Repo:        opts.repoFor(format),
		RepoPath:    e.repoPath,
		ID:          filepath.Base(e.abs),
		URI:         e.abs,
		Format:      format,
		Size:        records.Int64(size),
		Mtime:       records.Time(info.ModTime()),
		QuickSHA256: quick,
	}
}
