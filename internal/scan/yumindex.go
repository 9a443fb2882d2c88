package scan

import (
	"errors"
	"io/fs"
	"path/filepath"
	"syscall"

	"github.com/hashr-dev/hashr/internal/formats/rpmrepo"
	"github.com/hashr-dev/hashr/internal/identity"
	"github.com/hashr-dev/hashr/internal/magic"
	"github.com/hashr-dev/hashr/pkg/records"
)

// yumIndexes names the RPM sources of a yum/dnf repository (a REPO with
// repodata/repomd.xml) from its primary index, read once per repository.
type yumIndexes struct {
	byRoot map[string]map[string]rpmrepo.Package // by the .rpm's absolute path
}

// name gives an RPM source its package from its repository's primary
// index, where the index lists it; otherwise it keeps the one its header
// gave. The error says why a repository's metadata could not be read, the
// first time. It runs on the goroutine that writes records.
func (y *yumIndexes) name(src *records.Source) (err error) {
	if src.Format != magic.RPM || src.RepoPath == "" {
		return nil
	}
	root, err := filepath.Abs(src.RepoPath)
	if err != nil {
		return nil
	}
	if y.byRoot == nil {
		y.byRoot = map[string]map[string]rpmrepo.Package{}
	}
	pkgs, read := y.byRoot[root]
	if !read {
		pkgs = map[string]rpmrepo.Package{}
		err = rpmrepo.ReadPrimary(root, func(p rpmrepo.Package) error {
			pkgs[filepath.Join(root, filepath.FromSlash(p.Location))] = p
			return nil
		})
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			err = nil // not a repository: RPMs are named by their headers
		}
		y.byRoot[root] = pkgs
	}
	if p, listed := pkgs[src.URI]; listed {
		if named := identity.YumEntry(p); named != nil {
			if src.Package != nil {
				named.OS = src.Package.OS // primary.xml does not name the distribution; the header does
			}
			src.Package = named
		}
	}
	return err
}
