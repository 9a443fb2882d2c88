package rpmsig

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/verify"
	"github.com/hashr-dev/hashr/internal/verify/verifytest"
)

// buildSigned builds a tiny noarch RPM with rpmbuild and signs it with
// rpmsign under key; extra rpmsign arguments (e.g. --rpmv3) are passed on.
func buildSigned(t *testing.T, key *verifytest.GPG, extra ...string) string {
	return verifytest.BuildRPM(t, key, "signme", extra...)
}

func verifyFile(t *testing.T, file string, keyrings ...string) (verify.Result, error) {
	t.Helper()
	keys, err := verify.LoadKeyrings(keyrings)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return Verify(f, keys)
}

func TestSignedRPMVerifies(t *testing.T) {
	for _, algo := range []string{"rsa2048", "ed25519"} {
		key := verifytest.NewGPG(t, "packager", algo)
		file := buildSigned(t, key)
		res, err := verifyFile(t, file, key.Armored)
		if err != nil {
			t.Fatalf("%s: %v", algo, err)
		}
		if !res.OK || res.By != By || res.Signer != key.Fingerprint {
			t.Errorf("%s: result %+v, want ok by %s signer %s", algo, res, By, key.Fingerprint)
		}
	}
}

func TestLegacyHeaderPayloadSignatureVerifies(t *testing.T) {
	key := verifytest.NewGPG(t, "packager", "rsa2048")
	file := buildSigned(t, key, "--rpmv3")
	res, err := verifyFile(t, file, key.Keyring)
	if err != nil || !res.OK || res.Signer != key.Fingerprint {
		t.Fatalf("result %+v, err %v", res, err)
	}
}

func TestTamperedRPMFails(t *testing.T) {
	key := verifytest.NewGPG(t, "packager", "rsa2048")
	file := buildSigned(t, key)
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	payload := append([]byte(nil), data...)
	payload[len(payload)-20] ^= 1
	tampered := filepath.Join(t.TempDir(), "payload.rpm")
	os.WriteFile(tampered, payload, 0o644)
	if _, err := verifyFile(t, tampered, key.Keyring); !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "payload") {
		t.Errorf("payload altered: err = %v, want a payload digest mismatch", err)
	}
	// The summary string sits in the main header's store.
	i := strings.Index(string(data), "test")
	header := append([]byte(nil), data...)
	header[i] = 'T'
	os.WriteFile(tampered, header, 0o644)
	if _, err := verifyFile(t, tampered, key.Keyring); err == nil {
		t.Errorf("header altered: no error")
	}
}

func TestRPMWrongKeyOrUnsigned(t *testing.T) {
	key := verifytest.NewGPG(t, "packager", "rsa2048")
	other := verifytest.NewGPG(t, "other", "rsa2048")
	file := buildSigned(t, key)
	if _, err := verifyFile(t, file, other.Keyring); err == nil || !strings.Contains(err.Error(), "not in the keyring") {
		t.Errorf("wrong key: err = %v", err)
	}
	unsigned := buildSigned(t, nil)
	res, err := verifyFile(t, unsigned, key.Keyring)
	if err != nil || res.OK || res.By != "none" {
		t.Errorf("unsigned: result %+v, err %v, want by none", res, err)
	}
}
