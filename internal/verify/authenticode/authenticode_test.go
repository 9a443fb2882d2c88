package authenticode

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashr-dev/hashr/internal/verify/verifytest"
)

// testPKI is a throwaway CA and a code-signing certificate it issued.
type testPKI struct{ dir, caPEM, leafPEM, leafKey string }

func newPKI(t *testing.T, name string) *testPKI {
	verifytest.Need(t, "openssl")
	dir := t.TempDir()
	p := &testPKI{dir: dir, caPEM: filepath.Join(dir, "ca.pem"), leafPEM: filepath.Join(dir, "leaf.pem"), leafKey: filepath.Join(dir, "leaf.key")}
	run := func(args ...string) { verifytest.Run(t, dir, nil, "openssl", args...) }
	run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "30",
		"-subj", "/CN="+name+" Test Root", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")
	run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/O=hashr tests/CN="+name+" Code Signing")
	os.WriteFile(filepath.Join(dir, "ext.cnf"), []byte("extendedKeyUsage=codeSigning\nkeyUsage=critical,digitalSignature\n"), 0o644)
	run("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "leaf.pem", "-days", "30", "-extfile", "ext.cnf")
	return p
}

// signedCAB builds a cabinet with gcab and signs it with osslsigncode.
func signedCAB(t *testing.T, p *testPKI) string {
	verifytest.Need(t, "gcab", "osslsigncode")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "hello.txt"), []byte(strings.Repeat("hello cabinet\n", 50)), 0o644)
	verifytest.Run(t, dir, nil, "gcab", "-c", "plain.cab", "hello.txt")
	out := filepath.Join(dir, "signed.cab")
	verifytest.Run(t, dir, nil, "osslsigncode", "sign", "-certs", p.leafPEM, "-key", p.leafKey, "-h", "sha256", "-in", "plain.cab", "-out", out)
	return out
}

func verifyFile(t *testing.T, file, roots string) (string, bool, error) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := LoadRoots(roots)
	if err != nil {
		t.Fatal(err)
	}
	res, err := VerifyCAB(data, pool, time.Now())
	return res.Signer, res.OK, err
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
		t.Logf("%s: signer %q, err %v", filepath.Base(f), res.Signer, err)
		if !strings.Contains(res.Signer, "Microsoft") || err == nil || !strings.Contains(err.Error(), "--roots") {
			t.Errorf("%s: signer %q err %v, want a Microsoft subject and only the missing root store", filepath.Base(f), res.Signer, err)
		}
	}
}
