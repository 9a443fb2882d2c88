package yum

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/rpmrepo"
	"github.com/hashr-dev/hashr/internal/verify"
	"github.com/hashr-dev/hashr/internal/verify/verifytest"
)

// readAll verifies the repository at root against keyrings and returns
// its packages.
func readAll(t *testing.T, root string, keyrings ...string) (*Repomd, []rpmrepo.Package, error) {
	t.Helper()
	keys, err := verify.LoadKeyrings(keyrings)
	if err != nil {
		t.Fatal(err)
	}
	fsys := os.DirFS(root)
	r, err := ReadRepomd(fsys, keys)
	if err != nil {
		return nil, nil, err
	}
	var pkgs []rpmrepo.Package
	err = r.ReadPrimary(fsys, func(p rpmrepo.Package) error { pkgs = append(pkgs, p); return nil })
	return r, pkgs, err
}

// TestSignedRepositoryVerifies: a createrepo_c repository whose
// repomd.xml gpg signed verifies with the key's fingerprint, with each
// compression of primary.xml, and primary's entries give each rpm's
// identity and sha256 as rpm and sha256sum see them.
func TestSignedRepositoryVerifies(t *testing.T) {
	for _, compress := range []string{"gz", "bz2"} {
		t.Run(compress, func(t *testing.T) {
			repo := verifytest.BuildYumRepo(t, compress)
			r, pkgs, err := readAll(t, repo.Root, repo.Key.Keyring)
			if err != nil {
				t.Fatal(err)
			}
			if !r.Verified.OK || r.Verified.By != By || r.Verified.Signer != repo.Key.Fingerprint {
				t.Errorf("verified %+v, want ok by %s signer %s", r.Verified, By, repo.Key.Fingerprint)
			}
			if len(pkgs) != 2 {
				t.Fatalf("%d packages, want 2: %+v", len(pkgs), pkgs)
			}
			for _, p := range pkgs {
				data, err := os.ReadFile(filepath.Join(repo.Root, p.Location))
				if err != nil {
					t.Fatal(err)
				}
				sum := sha256.Sum256(data)
				if p.Checksum.Type != "sha256" || p.Checksum.Value != hex.EncodeToString(sum[:]) || p.Size != int64(len(data)) {
					t.Errorf("%s: checksum %+v size %d, want the file's %x, %d", p.Location, p.Checksum, p.Size, sum, len(data))
				}
				if p.EVR() != "1.0-1" || p.Arch != "noarch" || p.Vendor != "Test Vendor" || !strings.HasPrefix(filepath.Base(p.Location), p.Name+"-") {
					t.Errorf("identity %+v", p)
				}
			}
		})
	}
}

// TestAlteredRepositoryFails: repomd.xml or primary.xml altered after
// signing, a wrong key and a missing signature each fail, saying what.
func TestAlteredRepositoryFails(t *testing.T) {
	repo := verifytest.BuildYumRepo(t, "xz")
	other := verifytest.NewGPG(t, "other", "ed25519")
	if _, _, err := readAll(t, repo.Root, other.Keyring); err == nil || !strings.Contains(err.Error(), "not in the keyring") {
		t.Errorf("wrong key: %v", err)
	}
	primary, _ := filepath.Glob(filepath.Join(repo.Root, "repodata", "*-primary.xml.xz"))
	data, _ := os.ReadFile(primary[0])
	data[len(data)/2] ^= 0x40
	os.WriteFile(primary[0], data, 0o644)
	if _, _, err := readAll(t, repo.Root, repo.Key.Keyring); !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "primary.xml.xz") {
		t.Errorf("altered primary.xml: %v", err)
	}
	repomd := filepath.Join(repo.Root, RepomdPath)
	text, _ := os.ReadFile(repomd)
	os.WriteFile(repomd, append(text, ' '), 0o644)
	if _, _, err := readAll(t, repo.Root, repo.Key.Keyring); err == nil || !strings.Contains(err.Error(), "bad signature") {
		t.Errorf("altered repomd.xml: %v", err)
	}
	os.Remove(repomd + ".asc")
	if _, _, err := readAll(t, repo.Root, repo.Key.Keyring); !errors.Is(err, ErrUnsigned) {
		t.Errorf("unsigned repomd.xml: %v", err)
	}
}
