package scan

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/hashr-dev/hashr/internal/identity"
	"github.com/hashr-dev/hashr/internal/magic"
	"github.com/hashr-dev/hashr/internal/verify"
	"github.com/hashr-dev/hashr/internal/verify/apt"
	"github.com/hashr-dev/hashr/pkg/records"
)

// aptVerifier checks the .deb sources of an apt mirror (a REPO with
// dists/) against its signed indexes: --keyring and --verify.
type aptVerifier struct {
	mode   verify.Mode
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
	res verify.Result
}

func newAptVerifier(mode verify.Mode, keyrings []string) (*aptVerifier, error) {
	keys, err := verify.LoadKeyrings(keyrings)
	if err != nil {
		return nil, err
	}
	return &aptVerifier{mode: mode, keys: keys, byRoot: map[string]*aptMirror{}}, nil
}

// check gives a source its `verified` field and, for a .deb an apt
// mirror's signed Packages lists, the sha256 and size hashr-fetch then
// holds its bytes to. An error makes the source an error record. It runs
// on the goroutine that writes records.
func (v *aptVerifier) check(src *records.Source) error {
	if v == nil || v.mode == verify.Off {
		return nil
	}
	var m *aptMirror
	if src.Format == magic.Deb && src.RepoPath != "" {
		m = v.mirror(src.RepoPath)
	}
	if m == nil || len(m.debs)+len(m.suiteErrs) == 0 {
		if v.mode == verify.Require {
			return fmt.Errorf("--verify require: nothing signs this %s source (hint: scan the apt mirror root that holds dists/, with --keyring, or use --verify try)", src.Format)
		}
		return nil
	}
	d, ok := m.debs[src.URI]
	if !ok {
		if len(m.suiteErrs) > 0 {
			return fmt.Errorf("the mirror's indexes failed verification: %w", errors.Join(m.suiteErrs...))
		}
		if v.mode == verify.Require {
			return errors.New("--verify require: the .deb is not listed in any signed Packages index of its mirror")
		}
		return setVerified(src, verify.Result{By: "none", Detail: "not listed in any signed Packages index of the mirror"})
	}
	if src.Size != nil && *src.Size != d.pkg.Size {
		return fmt.Errorf("%s %w: %d bytes, its signed Packages entry says %d", d.pkg.Filename, apt.ErrMismatch, *src.Size, d.pkg.Size)
	}
	src.SHA256 = d.pkg.SHA256 // hashr-fetch fails the source if the bytes hash otherwise
	src.Package = identity.AptEntry(d.pkg)
	return setVerified(src, d.res)
}

func setVerified(src *records.Source, res verify.Result) error {
	src.Verified = &res
	return nil
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
			m.debs[filepath.Join(root, filepath.FromSlash(p.Filename))] = aptDeb{pkg: p, res: res}
		}
	}
	return nil
}
