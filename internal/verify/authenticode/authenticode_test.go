package authenticode

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashr-dev/hashr/internal/verify"
	"github.com/hashr-dev/hashr/internal/verify/verifytest"
)

// testPKI is a throwaway CA and a code-signing certificate it issued.
// and a time-stamping authority's certificate it issued.
type testPKI struct{ dir, caPEM, leafPEM, leafKey, tsaPEM, tsaKey string }

func newPKI(t *testing.T, name string) *testPKI {
	verifytest.Need(t, "openssl")
	dir := t.TempDir()
	p := &testPKI{dir: dir, caPEM: filepath.Join(dir, "ca.pem"), leafPEM: filepath.Join(dir, "leaf.pem"), leafKey: filepath.Join(dir, "leaf.key"),
		tsaPEM: filepath.Join(dir, "tsa.pem"), tsaKey: filepath.Join(dir, "tsa.key")}
	run := func(args ...string) { verifytest.Run(t, dir, nil, "openssl", args...) }
	run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "30",
		"-subj", "/CN="+name+" Test Root", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")
	run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/O=hashr tests/CN="+name+" Code Signing")
	os.WriteFile(filepath.Join(dir, "ext.cnf"), []byte("extendedKeyUsage=codeSigning\nkeyUsage=critical,digitalSignature\n"), 0o644)
	run("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "leaf.pem", "-days", "30", "-extfile", "ext.cnf")
	run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "tsa.key", "-out", "tsa.csr", "-subj", "/O=hashr tests/CN="+name+" TSA")
	os.WriteFile(filepath.Join(dir, "tsa.cnf"), []byte("extendedKeyUsage=critical,timeStamping\nkeyUsage=critical,digitalSignature\n"), 0o644)
	run("x509", "-req", "-in", "tsa.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "tsa.pem", "-days", "365", "-extfile", "tsa.cnf")
	return p
}

// signedCAB builds a cabinet with gcab and signs it with osslsigncode,
// adding extra to its command line (a timestamp).
func signedCAB(t *testing.T, p *testPKI, extra ...string) string {
	verifytest.Need(t, "gcab", "osslsigncode")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "hello.txt"), []byte(strings.Repeat("hello cabinet\n", 50)), 0o644)
	verifytest.Run(t, dir, nil, "gcab", "-c", "plain.cab", "hello.txt")
	out := filepath.Join(dir, "signed.cab")
	args := append([]string{"sign", "-certs", p.leafPEM, "-key", p.leafKey, "-h", "sha256"}, extra...)
	verifytest.Run(t, dir, nil, "osslsigncode", append(args, "-in", "plain.cab", "-out", out)...)
	return out
}

func verifyFile(t *testing.T, file, roots string) (string, bool, error) {
	t.Helper()
	res, err := verifyFileAt(t, file, roots, time.Now())
	return res.Signer, res.OK, err
}

func verifyFileAt(t *testing.T, file, roots string, now time.Time) (verify.Result, error) {
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

// timestampArgs has osslsigncode timestamp the signature itself, as the
// TSA p holds would (RFC 3161), at the time at: no network is needed.
func timestampArgs(p *testPKI, at time.Time) []string {
	return []string{"-TSA-certs", p.tsaPEM, "-TSA-key", p.tsaKey, "-TSA-time", fmt.Sprint(at.Unix())}
}

// A timestamp made while the signer's certificate was valid keeps the
// signature valid after the certificate expires; without one, or with a
// TSA the roots do not vouch for, the expired certificate fails.
func TestTimestampedCabinetOutlivesItsCertificate(t *testing.T) {
	p := newPKI(t, "alpha")
	later := time.Now().Add(60 * 24 * time.Hour) // the leaf is valid 30 days
	stamped := signedCAB(t, p, timestampArgs(p, time.Now())...)
	res, err := verifyFileAt(t, stamped, p.caPEM, later)
	if err != nil || !res.OK || !strings.Contains(res.Detail, "RFC 3161 timestamp by \"CN=alpha TSA,O=hashr tests\"") {
		t.Fatalf("timestamped: %+v, err %v", res, err)
	}
	if _, err := verifyFileAt(t, signedCAB(t, p), p.caPEM, later); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("not timestamped, after expiry: err %v, want expired", err)
	}
	other := newPKI(t, "other")
	foreign := signedCAB(t, p, timestampArgs(other, time.Now())...)
	if _, err := verifyFileAt(t, foreign, p.caPEM, later); err == nil || !strings.Contains(err.Error(), "timestamp of \"CN=other TSA,O=hashr tests\" not used") {
		t.Fatalf("timestamp by a TSA outside the roots: err %v", err)
	}
}

func TestSignedCabinetVerifies(t *testing.T) {
	p := newPKI(t, "alpha")
	cab := signedCAB(t, p)
	signer, ok, err := verifyFile(t, cab, p.caPEM)
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
	signer, ok, err := verifyFile(t, cab, other.caPEM)
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
	if _, ok, err := verifyFile(t, cab, p.caPEM); ok || !errors.Is(err, ErrMismatch) {
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
