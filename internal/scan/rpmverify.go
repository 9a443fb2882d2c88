package scan

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/hashr-dev/hashr/internal/formats/rpmrepo"
	"github.com/hashr-dev/hashr/internal/magic"
	"github.com/hashr-dev/hashr/internal/verify"
	"github.com/hashr-dev/hashr/internal/verify/rpmsig"
	"github.com/hashr-dev/hashr/internal/verify/yum"
	"github.com/hashr-dev/hashr/pkg/records"
)

// rpmVerifier checks a local rpm file's header and payload signatures
// against --keyring, as rpm -K does. Scan reads the whole file for it:
// the signature covers the header, the header the payload's digest. A
// remote rpm is not read whole by hashr-scan; it is vouched for when a
// signed yum repository lists it.
type rpmVerifier struct{ keys openpgp.EntityList }

func (v rpmVerifier) check(src *records.Source) (*verify.Result, error) {
	if src.Format != magic.RPM {
		return nil, nil
	}
	if remoteScheme(src.URI) != "" {
		return &verify.Result{By: "none", Detail: "a remote rpm's signature is not checked by hashr-scan, which reads only its first bytes (hint: scan the yum repository that lists it, or a local copy)"}, nil
	}
	f, err := os.Open(src.URI)
	if err != nil {
		return nil, refuse(rpmsig.By, fmt.Errorf("verifying the rpm: %w", err))
	}
	defer f.Close()
	res, err := rpmsig.Verify(f, v.keys)
	if errors.Is(err, verify.ErrNoKeyring) {
		return &verify.Result{By: "none", Detail: "the rpm is signed, but no --keyring was given to check it against"}, nil
	}
	if err != nil {
		return nil, refuse(rpmsig.By, fmt.Errorf("verifying the rpm: %w", err))
	}
	return &res, nil
}

// yumVerifier vouches for an rpm that a signed yum/dnf repository lists:
// repodata/repomd.xml against repomd.xml.asc, primary.xml against
// repomd's checksum, the rpm's size against its primary entry, and its
// sha256 (set on the source) by hashr-fetch.
type yumVerifier struct {
	keys  openpgp.EntityList
	byDir map[string]*yumRepo // a directory holding repodata/, or nil
}

// yumRepo is what a repository's signed metadata says.
type yumRepo struct {
	rpms map[string]rpmrepo.Package // by the rpm's absolute path
	res  verify.Result
	err  error // repomd.xml or primary.xml failed verification
}

func newYumVerifier(keys openpgp.EntityList) *yumVerifier {
	return &yumVerifier{keys: keys, byDir: map[string]*yumRepo{}}
}

func (v *yumVerifier) check(src *records.Source) (*verify.Result, error) {
	if src.Format != magic.RPM || src.RepoPath == "" || remoteScheme(src.URI) != "" {
		return nil, nil
	}
	repo := v.repoOf(src.URI, src.RepoPath)
	if repo == nil {
		return nil, nil
	}
	if errors.Is(repo.err, yum.ErrUnsigned) {
		return nil, nil // nothing signs the index: the rpm's own signature may vouch for it
	}
	if repo.err != nil {
		if errors.Is(repo.err, verify.ErrNoKeyring) {
			return &verify.Result{By: "none", Detail: "its yum repository is signed, but no --keyring was given to check it against"}, nil
		}
		return nil, refuse(yum.By, fmt.Errorf("its yum repository failed verification: %w", repo.err))
	}
	p, ok := repo.rpms[src.URI]
	if !ok {
		return nil, nil // not in the index: its own signature may vouch for it
	}
	if src.Size != nil && *src.Size != p.Size {
		return nil, refuse(yum.By, fmt.Errorf("%s %w: %d bytes, its primary.xml entry says %d", p.Location, yum.ErrMismatch, *src.Size, p.Size))
	}
	if p.Checksum.Type != "sha256" {
		return &verify.Result{By: "none", Detail: fmt.Sprintf("primary.xml gives a %s checksum, which hashr-fetch does not check", p.Checksum.Type)}, nil
	}
	src.SHA256 = p.Checksum.Value // hashr-fetch fails the source if the bytes hash otherwise
	res := repo.res
	res.Detail = fmt.Sprintf("%s %s (%s) in %s", p.Name, p.EVR(), p.Arch, yum.RepomdPath)
	return &res, nil
}

// repoOf finds the repository an rpm belongs to: the nearest directory
// from the rpm's up to the REPO argument that holds repodata/repomd.xml.
func (v *yumVerifier) repoOf(file, repoPath string) *yumRepo {
	top, err := filepath.Abs(repoPath)
	if err != nil {
		return nil
	}
	for dir := filepath.Dir(file); ; dir = filepath.Dir(dir) {
		if repo, seen := v.byDir[dir]; seen {
			if repo != nil {
				return repo
			}
		} else if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(yum.RepomdPath))); err == nil {
			v.byDir[dir] = v.read(dir)
			return v.byDir[dir]
		} else {
			v.byDir[dir] = nil
		}
		if dir == top || !strings.HasPrefix(dir, top) || dir == filepath.Dir(dir) {
			return nil
		}
	}
}

// read verifies the repository at dir and indexes its rpms.
func (v *yumVerifier) read(dir string) *yumRepo {
	fsys := os.DirFS(dir)
	md, err := yum.ReadRepomd(fsys, v.keys)
	if err != nil {
		return &yumRepo{err: err}
	}
	repo := &yumRepo{rpms: map[string]rpmrepo.Package{}, res: md.Verified}
	repo.err = md.ReadPrimary(fsys, func(p rpmrepo.Package) error {
		repo.rpms[filepath.Join(dir, filepath.FromSlash(p.Location))] = p
		return nil
	})
	return repo
}
