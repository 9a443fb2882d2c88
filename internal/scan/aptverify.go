package scan

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/hashr-dev/hashr/internal/identity"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/hashr-dev/hashr/internal/magic"
	"github.com/hashr-dev/hashr/internal/verify"
	"github.com/hashr-dev/hashr/internal/verify/apt"
	"github.com/hashr-dev/hashr/pkg/records"
)

// aptVerifier checks the .deb sources of an apt mirror (a REPO with
// dists/) against its signed indexes.
type aptVerifier struct {
	keys   openpgp.EntityList
	byRoot map[string]*aptMirror
}

// aptMirror is what the signed indexes of one mirror say.
type aptMirror struct {
	debs      map[string]aptDeb // by the .deb's absolute path
	suiteErrs []error           // suites whose Release or Packages failed
}

type aptDeb struct {
	pkg apt.Package
	rel *apt.Release // the suite's, which names the distribution
	res verify.Result
}

func newAptVerifier(keys openpgp.EntityList) *aptVerifier {
	return &aptVerifier{keys: keys, byRoot: map[string]*aptMirror{}}
}

// check vouches for a .deb that an apt mirror's signed Packages lists,
// and gives it the sha256 hashr-fetch then holds its bytes to. A .deb
// outside a mirror is not its kind.
func (v *aptVerifier) check(src *records.Source) (*verify.Result, error) {
	if src.Format != magic.Deb || src.RepoPath == "" || remoteScheme(src.URI) != "" {
		return nil, nil
	}
	m := v.mirror(src.RepoPath)
	if m == nil || len(m.debs)+len(m.suiteErrs) == 0 {
		return nil, nil
	}
	d, ok := m.debs[src.URI]
	if !ok {
		if m.unkeyed() {
			return &verify.Result{By: "none", Detail: "its apt mirror is signed, but no --keyring was given to check it against"}, nil
		}
		if len(m.suiteErrs) > 0 {
			return nil, verify.Refuse(apt.By, fmt.Errorf("the mirror's indexes failed verification: %w", errors.Join(m.suiteErrs...)))
		}
		return &verify.Result{By: "none", Detail: "not listed in any signed Packages index of the mirror"}, nil
	}
	if src.Size != nil && *src.Size != d.pkg.Size {
		return nil, verify.Refuse(apt.By, fmt.Errorf("%s %w: %d bytes, its signed Packages entry says %d", d.pkg.Filename, apt.ErrMismatch, *src.Size, d.pkg.Size))
	}
	src.SHA256 = d.pkg.SHA256 // hashr-fetch fails the source if the bytes hash otherwise
	src.Package = identity.AptEntry(d.pkg, d.rel)
	res := d.res
	return &res, nil
}

// unkeyed says every suite of the mirror failed for want of a keyring
// (--verify try without --keyring): nothing was checked, nothing failed.
func (m *aptMirror) unkeyed() bool {
	for _, err := range m.suiteErrs {
		if !errors.Is(err, verify.ErrNoKeyring) {
			return false
		}
	}
	return len(m.suiteErrs) > 0
}

// mirror reads and verifies every suite under root/dists once.
func (v *aptVerifier) mirror(root string) *aptMirror {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil
	}
	if m, ok := v.byRoot[abs]; ok {
		return m
	}
	m := &aptMirror{debs: map[string]aptDeb{}}
	v.byRoot[abs] = m
	suites, _ := filepath.Glob(filepath.Join(abs, "dists", "*"))
	sort.Strings(suites)
	for _, dist := range suites {
		if info, err := os.Stat(dist); err != nil || !info.IsDir() {
			continue
		}
		if err := m.addSuite(abs, dist, v.keys); err != nil {
			m.suiteErrs = append(m.suiteErrs, err)
		}
	}
	return m
}

func (m *aptMirror) addSuite(root, dist string, keys openpgp.EntityList) error {
	rel, err := apt.ReadRelease(dist, keys)
	if err != nil {
		return err
	}
	for _, idx := range rel.PackageIndexes(dist) {
		pkgs, err := rel.ReadPackages(dist, idx)
		if err != nil {
			return err
		}
		for _, p := range pkgs {
			res := rel.Verified
			res.Detail = fmt.Sprintf("%s %s (%s) in %s/%s", p.Package, p.Version, p.Architecture, filepath.Base(dist), idx)
			m.debs[filepath.Join(root, filepath.FromSlash(p.Filename))] = aptDeb{pkg: p, rel: rel, res: res}
		}
	}
	return nil
}
