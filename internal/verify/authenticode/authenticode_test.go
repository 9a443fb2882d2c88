package authenticode

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashr-dev/hashr/internal/verify/verifytest"
	"github.com/hashr-dev/hashr/pkg/records"
)

func newPKI(t *testing.T, name string) *verifytest.PKI { return verifytest.NewPKI(t, name) }

// signedCAB builds a cabinet with gcab and signs it with osslsigncode,
// adding extra to its command line (a timestamp).
func signedCAB(t *testing.T, p *verifytest.PKI, extra ...string) string {
	return p.SignedCAB(t, t.TempDir(), "signed.cab", extra...)
}

func verifyFile(t *testing.T, file, roots string) (string, bool, error) {
	t.Helper()
	res, err := verifyFileAt(t, file, roots, time.Now())
	return res.Signer, res.OK, err
}

func verifyFileAt(t *testing.T, file, roots string, now time.Time) (records.Verified, error) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := LoadRoots(roots)
	if err != nil {
		t.Fatal(err)
	}
	return VerifyCAB(data, pool, now)
}

func timestampArgs(p *verifytest.PKI, at time.Time) []string { return p.Timestamp(at) }

// A timestamp made while the signer's certificate was valid keeps the
// signature valid after the certificate expires; without one, or with a
// TSA the roots do not vouch for, the expired certificate fails.
func TestTimestampedCabinetOutlivesItsCertificate(t *testing.T) {
	p := newPKI(t, "alpha")
	later := time.Now().Add(60 * 24 * time.Hour) // the leaf is valid 30 days
	stamped := signedCAB(t, p, timestampArgs(p, time.Now())...)
	res, err := verifyFileAt(t, stamped, p.CA, later)
	if err != nil || !res.OK || !strings.Contains(res.Detail, "RFC 3161 timestamp by \"CN=alpha TSA,O=hashr tests\"") {
		t.Fatalf("timestamped: %+v, err %v", res, err)
	}
	if _, err := verifyFileAt(t, signedCAB(t, p), p.CA, later); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("not timestamped, after expiry: err %v, want expired", err)
	}
	other := newPKI(t, "other")
	foreign := signedCAB(t, p, timestampArgs(other, time.Now())...)
	if _, err := verifyFileAt(t, foreign, p.CA, later); err == nil || !strings.Contains(err.Error(), "timestamp of \"CN=other TSA,O=hashr tests\" not used") {
		t.Fatalf("timestamp by a TSA outside the roots: err %v", err)
	}
}

func TestSignedCabinetVerifies(t *testing.T) {
	p := newPKI(t, "alpha")
	cab := signedCAB(t, p)
	signer, ok, err := verifyFile(t, cab, p.CA)
	if err != nil || !ok {
		t.Fatalf("ok %v, err %v", ok, err)
	}
	if signer != "CN=alpha Code Signing,O=hashr tests" {
		t.Errorf("signer %q", signer)
	}
}

func TestCabinetAgainstAnotherCAFails(t *testing.T) {
	p, other := newPKI(t, "alpha"), newPKI(t, "other")
	cab := signedCAB(t, p)
	signer, ok, err := verifyFile(t, cab, other.CA)
	if ok || err == nil || !strings.Contains(err.Error(), "certificate chain") {
		t.Fatalf("ok %v, err %v, want a chain error", ok, err)
	}
	if !strings.Contains(signer, "alpha Code Signing") {
		t.Errorf("signer %q not named on failure", signer)
	}
}

func TestTamperedCabinetFails(t *testing.T) {
	p := newPKI(t, "alpha")
	cab := signedCAB(t, p)
	data, _ := os.ReadFile(cab)
	// A byte of the compressed data, well before the signature.
	i := strings.Index(string(data), "hello cabinet")
	data[i] = 'j'
	os.WriteFile(cab, data, 0o644)
	if _, ok, err := verifyFile(t, cab, p.CA); ok || !errors.Is(err, ErrMismatch) {
		t.Fatalf("ok %v, err %v, want ErrMismatch", ok, err)
	}
}

func TestUnsignedCabinet(t *testing.T) {
	verifytest.Need(t, "gcab")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("a"), 0o644)
	verifytest.Run(t, dir, nil, "gcab", "-c", "plain.cab", "a.txt")
	data, _ := os.ReadFile(filepath.Join(dir, "plain.cab"))
	if _, err := VerifyCAB(data, nil, time.Now()); !errors.Is(err, ErrUnsigned) {
		t.Fatalf("err %v, want ErrUnsigned", err)
	}
}

// TestWSUSCabinetsNameMicrosoft reads HashR's real WSUS cabinets when a
// copy is at /tmp/wsus (they are too big to commit): each signature
// matches its bytes and names a Microsoft signer. No Microsoft root is
// given, so the chain is not checked here.
func TestWSUSCabinetsNameMicrosoft(t *testing.T) {
	files, _ := filepath.Glob("/tmp/wsus/*.cab")
	if len(files) == 0 {
		t.Skip("no WSUS cabinets in /tmp/wsus")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		res, err := VerifyCAB(data, nil, time.Now())
		if sig, perr := ParseSignature(data[len(data)-sigSize(t, data):]); perr != nil {
			t.Errorf("%s: %v", filepath.Base(f), perr)
		} else if ts, err := sig.Timestamp(); err != nil || ts == nil || !strings.Contains(ts.Signer.Subject.String(), "Microsoft Time-Stamp") {
			t.Errorf("%s: timestamp %+v, err %v, want Microsoft's countersignature", filepath.Base(f), ts, err)
		}
		t.Logf("%s: %+v, err %v", filepath.Base(f), res, err)
		if !strings.Contains(res.Signer, "Microsoft") || err != nil || res.OK || !strings.Contains(res.Detail, "no --roots") {
			t.Errorf("%s: signer %q err %v %+v, want a Microsoft subject and only the chain unchecked", filepath.Base(f), res.Signer, err, res)
		}
	}
}

// sigSize is the size of a signed cabinet's signature, from its header.
func sigSize(t *testing.T, data []byte) int {
	_, size, err := locateCABSignature(data[:cabHeaderMin], int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	return int(size)
}
