package extract

import (
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

func (s *sourceRun) imageOptions() oci.Options {
	return oci.Options{Flatten: s.x.opts.flatten, Platform: s.x.opts.platform, Meter: &s.budget}
}

// walkLayoutDir walks an OCI image layout directory: the source itself,
// as hashr-scan finds them.
func (s *sourceRun) walkLayoutDir(dir string) error {
	w, err := oci.NewDirWalker(dir, s.imageOptions())
	if err != nil {
		return err
	}
	return s.walk(newContainer(w, traits(magic.OCI), "", 0))
}

// layoutDir is the source's directory when it is one (an OCI layout, as
// hashr-scan and hashr-fetch hand them on).
func (s *sourceRun) layoutDir() (string, bool) {
	local := s.src.Local
	if local == "" {
		p, ok := localPath(s.src.URI)
		if !ok {
			return "", false
		}
		local = p
	}
	st, err := os.Stat(local)
	return local, err == nil && st.IsDir()
}

// runLayoutDir extracts an OCI layout directory. Its identity, when the
// record has none, is the SHA-256 of its index.json, which names every
// blob in it by digest (as hashr-scan's quick_sha256 and hashr-fetch's
// sha256 of a layout are).
func (s *sourceRun) runLayoutDir(dir string) {
	if err := s.identifyLayout(dir); err != nil {
		s.sourceError(err)
		return
	}
	s.budget.sourceSize = treeSize(dir) // what --max-ratio measures against
	if s.x.spools != nil {
		var err error
		if s.spool, err = s.x.spools.open(s.sha, s.x.opts.flatten); err != nil {
			s.sourceError(err)
			return
		}
		s.x.mu.Lock()
		s.x.unfinished[s.spool.dir] = true
		s.x.mu.Unlock()
		if err := s.checkFree(); err != nil {
			s.sourceError(err)
			return
		}
	}
	s.ancestors = []string{s.sha}
	if err := s.walkLayoutDir(dir); err != nil {
		s.sourceError(err)
	}
}

// identifyLayout checks that dir is an OCI image layout and sets the
// source's local path and, when the record has none, its sha256.
func (s *sourceRun) identifyLayout(dir string) error {
	if ok, err := magic.IsOCILayoutDir(dir); err != nil || !ok {
		if err == nil {
			err = fmt.Errorf("%q is a directory, and not an OCI image layout", dir)
		}
		return err
	}
	s.src.Local = dir
	if s.src.SHA256 == "" {
		b, err := os.ReadFile(filepath.Join(dir, "index.json"))
		if err != nil {
			return fmt.Errorf("reading the layout's index.json: %w", cli.Cause(err))
		}
		sum := sha256.Sum256(b)
		s.src.SHA256 = hex.EncodeToString(sum[:])
	} else if err := records.CheckHex("sha256", s.src.SHA256); err != nil {
		return fmt.Errorf("source record: %w", err)
	}
	s.sha = s.src.SHA256
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
