package scan

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/hashr-dev/hashr/internal/formats/rpmrepo"
	"github.com/hashr-dev/hashr/internal/identity"
	"github.com/hashr-dev/hashr/internal/magic"
	"github.com/hashr-dev/hashr/internal/verify"
	"github.com/hashr-dev/hashr/internal/verify/yum"
	"github.com/hashr-dev/hashr/pkg/records"
)

// yumRepos are the yum/dnf repositories of the rpms hashr-scan finds,
// each read once (repomd.xml, its signature, primary.xml) for both what
// names an rpm and what vouches for it: the kind verifier of rpms a
// repository lists (repomd.xml against repomd.xml.asc, primary.xml
// against repomd's checksum, the rpm's size against its entry, its
// sha256 by hashr-fetch) and their namer. An rpm's repository is
// rpmrepo.RootOf's. It runs on the goroutine that writes records.
type yumRepos struct {
	keys  openpgp.EntityList
	byDir map[string]*yumRepo    // a directory: its repository, or nil when it is none
	fsOf  func(dir string) fs.FS // os.DirFS; a test counts what is read
}

// yumRepo is what a repository's metadata says.
type yumRepo struct {
	rpms map[string]rpmrepo.Package // by the rpm's absolute path
	res  verify.Result              // what vouched for it, when something did
	// verifyErr says why the repository vouches for nothing: unsigned, no
	// --keyring, or its repomd.xml or primary.xml failed verification.
	verifyErr error
	// readErr says why its index names nothing, said once (warned).
	readErr error
	warned  bool
}

func newYumRepos(keys openpgp.EntityList) *yumRepos {
	return &yumRepos{keys: keys, byDir: map[string]*yumRepo{}, fsOf: os.DirFS}
}

// of returns the repository of a local rpm source, nil for one in none.
func (y *yumRepos) of(src *records.Source) *yumRepo {
	if src.Format != magic.RPM || src.RepoPath == "" || remoteScheme(src.URI) != "" {
		return nil
	}
	top, err := filepath.Abs(src.RepoPath)
	if err != nil {
		return nil
	}
	root, ok := rpmrepo.RootOf(src.URI, top, y.isRoot)
	if !ok {
		return nil
	}
	return y.byDir[root]
}

// isRoot says whether dir is a repository's root, reading the repository
// the first time it is asked.
func (y *yumRepos) isRoot(dir string) bool {
	repo, seen := y.byDir[dir]
	if !seen {
		if rpmrepo.IsRoot(dir) {
			repo = y.read(dir)
		}
		y.byDir[dir] = repo
	}
	return repo != nil
}

// read reads the repository at dir: repomd.xml, verified when signed,
// and the primary index it names, indexed by each rpm's path.
func (y *yumRepos) read(dir string) *yumRepo {
	fsys := y.fsOf(dir)
	repo := &yumRepo{rpms: map[string]rpmrepo.Package{}}
	md, err := yum.ReadRepomd(fsys, y.keys)
	repo.verifyErr = err
	if md == nil {
		repo.readErr = err
		return repo
	}
	repo.res = md.Verified
	err = md.ReadPrimary(fsys, func(p rpmrepo.Package) error {
		repo.rpms[filepath.Join(dir, filepath.FromSlash(p.Location))] = p
		return nil
	})
	if err != nil {
		repo.rpms, repo.readErr = map[string]rpmrepo.Package{}, err
		if repo.verifyErr == nil {
			repo.verifyErr = err // a signed primary.xml that fails its checksum
		}
	}
	return repo
}

// check vouches for an rpm that a signed repository lists, and gives it
// the sha256 hashr-fetch then holds its bytes to. An rpm in no
// repository, or in one nothing signs, or that its index does not list,
// is left to its own signature (nil, nil).
func (y *yumRepos) check(src *records.Source) (*verify.Result, error) {
	repo := y.of(src)
	switch {
	case repo == nil, errors.Is(repo.verifyErr, yum.ErrUnsigned):
		return nil, nil
	case errors.Is(repo.verifyErr, verify.ErrNoKeyring):
		return &verify.Result{By: "none", Detail: "its yum repository is signed, but no --keyring was given to check it against"}, nil
	case repo.verifyErr != nil:
		return nil, verify.Refuse(yum.By, fmt.Errorf("its yum repository failed verification: %w", repo.verifyErr))
	}
	p, ok := repo.rpms[src.URI]
	if !ok {
		return nil, nil
	}
	if src.Size != nil && *src.Size != p.Size {
		return nil, verify.Refuse(yum.By, fmt.Errorf("%s %w: %d bytes, its primary.xml entry says %d", p.Location, yum.ErrMismatch, *src.Size, p.Size))
	}
	if p.Checksum.Type != "sha256" {
		return &verify.Result{By: "none", Detail: fmt.Sprintf("primary.xml gives a %s checksum, which hashr-fetch does not check", p.Checksum.Type)}, nil
	}
	src.SHA256 = p.Checksum.Value // hashr-fetch fails the source if the bytes hash otherwise
	res := repo.res
	res.Detail = fmt.Sprintf("%s %s (%s) in %s", p.Name, p.EVR(), p.Arch, yum.RepomdPath)
	return &res, nil
}

// name gives an rpm source its package from its repository's primary
// index, where the index lists it; otherwise it keeps the one its header
// gave. The error says why a repository's index could not be read, the
// first time.
func (y *yumRepos) name(src *records.Source) error {
	repo := y.of(src)
	if repo == nil {
		return nil
	}
	if p, listed := repo.rpms[src.URI]; listed {
		if named := identity.YumEntry(p); named != nil {
			if src.Package != nil {
				named.OS = src.Package.OS // primary.xml does not name the distribution; the header does
			}
			src.Package = named
		}
	}
	if repo.readErr != nil && !repo.warned {
		repo.warned = true
		return repo.readErr
	}
	return nil
}
