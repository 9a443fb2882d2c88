package apt

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/verify"
	"github.com/hashr-dev/hashr/internal/verify/verifytest"
)

type testRepo = verifytest.AptRepo

func buildRepo(t *testing.T, clearsign bool) *testRepo { return verifytest.BuildAptRepo(t, clearsign) }

func writeFile(t *testing.T, path, content string) { verifytest.WriteFile(t, path, content) }

// verifyAll verifies the suite and every .deb, returning the packages.
func verifyAll(t *testing.T, r *testRepo, keyrings ...string) ([]Package, *Release, error) {
	t.Helper()
	keys, err := verify.LoadKeyrings(keyrings)
	if err != nil {
		t.Fatal(err)
	}
	rel, err := ReadRelease(r.Dist, keys)
	if err != nil {
		return nil, nil, err
	}
	var all []Package
	for _, idx := range rel.PackageIndexes(r.Dist) {
		pkgs, err := rel.ReadPackages(r.Dist, idx)
		if err != nil {
			return nil, rel, err
		}
		for _, p := range pkgs {
			f, err := os.Open(filepath.Join(r.Root, filepath.FromSlash(p.Filename)))
			if err != nil {
				t.Fatal(err)
			}
			err = CheckDeb(p, f)
			f.Close()
			if err != nil {
				return nil, rel, err
			}
		}
		all = append(all, pkgs...)
	}
	return all, rel, nil
}

func TestSignedRepositoryVerifies(t *testing.T) {
	for _, clearsign := range []bool{true, false} {
		r := buildRepo(t, clearsign)
		for _, keyring := range []string{r.Key.Keyring, r.Key.Armored} {
			pkgs, rel, err := verifyAll(t, r, keyring)
			if err != nil {
				t.Fatalf("clearsign=%v keyring %s: %v", clearsign, filepath.Base(keyring), err)
			}
			if !rel.Verified.OK || rel.Verified.By != By || rel.Verified.Signer != r.Key.Fingerprint {
				t.Errorf("Verified = %+v, want ok by %s signer %s", rel.Verified, By, r.Key.Fingerprint)
			}
			if len(pkgs) != 2 || pkgs[0].Package != "alpha" || pkgs[1].Version != "1.0-1" || pkgs[1].Architecture != "amd64" || pkgs[0].Maintainer == "" {
				t.Errorf("packages = %+v", pkgs)
			}
			if idx := rel.PackageIndexes(r.Dist); len(idx) != 1 || idx[0] != "main/binary-amd64/Packages.xz" {
				t.Errorf("indexes = %v, want the xz one", idx)
			}
		}
	}
}

func TestAlteredPackageFails(t *testing.T) {
	r := buildRepo(t, true)
	deb := filepath.Join(r.Root, "pool", "main", "beta_1.0-1_amd64.deb")
	data, err := os.ReadFile(deb)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)-1] ^= 1
	if err := os.WriteFile(deb, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err = verifyAll(t, r, r.Key.Keyring)
	if !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "beta_1.0-1_amd64.deb") {
		t.Fatalf("err = %v, want a sha256 mismatch naming beta", err)
	}
}

func TestAlteredIndexFails(t *testing.T) {
	r := buildRepo(t, true)
	xz := filepath.Join(r.Dist, "main", "binary-amd64", "Packages.xz")
	// Same size, other bytes: the digest, not the size, catches it.
	data, _ := os.ReadFile(xz)
	data[len(data)/2] ^= 0x40
	writeFile(t, xz, string(data))
	_, _, err := verifyAll(t, r, r.Key.Keyring)
	if !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "Packages.xz") {
		t.Fatalf("err = %v, want the index's sha256 mismatch", err)
	}
	// An index rewritten with an extra package changes its size.
	writeFile(t, xz, "")
	if _, _, err = verifyAll(t, r, r.Key.Keyring); err == nil || !strings.Contains(err.Error(), "signed Release says") {
		t.Fatalf("err = %v, want the size mismatch", err)
	}
}

func TestAlteredReleaseFails(t *testing.T) {
	r := buildRepo(t, true)
	in := filepath.Join(r.Dist, "InRelease")
	data, _ := os.ReadFile(in)
	writeFile(t, in, strings.Replace(string(data), "Suite: test", "Suite: tesu", 1))
	if _, _, err := verifyAll(t, r, r.Key.Keyring); err == nil || !strings.Contains(err.Error(), "bad signature") {
		t.Fatalf("err = %v, want a bad signature", err)
	}
}

func TestWrongKeyringFails(t *testing.T) {
	r := buildRepo(t, true)
	other := verifytest.NewGPG(t, "other", "ed25519")
	_, _, err := verifyAll(t, r, other.Keyring)
	if err == nil || !strings.Contains(err.Error(), "not in the keyring") || !strings.Contains(err.Error(), "--keyring") {
		t.Fatalf("err = %v, want the unknown-key error with its hint", err)
	}
	keys, _ := verify.LoadKeyrings(nil)
	if _, err := ReadRelease(r.Dist, keys); !errors.Is(err, verify.ErrNoKeyring) {
		t.Fatalf("no keyring: err = %v, want ErrNoKeyring", err)
	}
}

func TestUnsignedReleaseFails(t *testing.T) {
	r := buildRepo(t, false)
	os.Remove(filepath.Join(r.Dist, "Release.gpg"))
	if _, _, err := verifyAll(t, r, r.Key.Keyring); !errors.Is(err, ErrUnsigned) {
		t.Fatalf("err = %v, want ErrUnsigned", err)
	}
}
