package unpack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/pkg/records"

	"github.com/hashr-dev/hashr/internal/formats/oci"
	"github.com/hashr-dev/hashr/internal/magic"
)

// Container images: an OCI layout (a directory, or one packed in a tar)
// or a docker archive is walked image by image, layer by layer, rather
// than as the plain tar it also is.

func (s *unpacker) imageOptions() oci.Options {
	return oci.Options{Flatten: s.opts.Flatten, Platform: s.opts.Platform, Meter: &s.budget}
}

// walkLayoutDir walks an OCI image layout directory: the source itself,
// as hashr-scan finds them.
func (s *unpacker) walkLayoutDir(dir string) error {
	w, err := oci.NewDirWalker(dir, s.imageOptions())
	if err != nil {
		return err
	}
	return s.walk(newContainer(w, traits(magic.OCI), "", 0))
}

// LayoutDir is the source's directory when it is one (an OCI layout, as
// hashr-scan and hashr-fetch hand them on).
func LayoutDir(src *records.Source) (string, bool) {
	local, err := src.LocalPath()
	if err != nil {
		return "", false
	}
	st, err := os.Stat(local)
	return local, err == nil && st.IsDir()
}

// Layout walks the OCI layout directory dir, the source src (see
// IdentifyLayout), as Source walks a file.
func Layout(ctx context.Context, dir string, src *records.Source, opts Options, sink Sink) (Counts, error) {
	s := newUnpacker(ctx, src, opts, sink)
	s.budget.sourceSize = treeSize(dir) // what --max-ratio measures against
	if s.spool != nil {
		if err := s.checkFree(); err != nil {
			s.sourceError(err)
			return s.counts, s.fatal
		}
	}
	s.ancestors = []string{s.sha}
	if err := s.walkLayoutDir(dir); err != nil {
		s.sourceError(err)
	}
	return s.counts, s.fatal
}

// IdentifyLayout checks that dir is an OCI image layout and sets the
// source's local path and, when the record has none, its sha256: the
// SHA-256 of its index.json, which names every blob in it by digest (as
// hashr-scan's quick_sha256 and hashr-fetch's sha256 of a layout are).
func IdentifyLayout(dir string, src *records.Source) error {
	if ok, err := magic.IsOCILayoutDir(dir); err != nil || !ok {
		if err == nil {
			err = fmt.Errorf("%q is a directory, and not an OCI image layout", dir)
		}
		return err
	}
	src.Local = dir
	if src.SHA256 == "" {
		b, err := os.ReadFile(filepath.Join(dir, "index.json"))
		if err != nil {
			return fmt.Errorf("reading the layout's index.json: %w", cli.Cause(err))
		}
		sum := sha256.Sum256(b)
		src.SHA256 = hex.EncodeToString(sum[:])
	} else if err := records.CheckHex("sha256", src.SHA256); err != nil {
		return fmt.Errorf("source record: %w", err)
	}
	return nil
}

// treeSize adds up the sizes of the regular files under dir.
func treeSize(dir string) int64 {
	var total int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				total += info.Size()
			}
		}
		return nil
	})
	return total
}
