package scan

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/verify/verifytest"
)

// authRepo is a directory of cabinets signed by p: good.cab, update.msu
// (a signed cabinet so named), unsigned.cab, and tampered.cab (a byte of
// its data changed after signing).
func authRepo(t *testing.T, p *verifytest.PKI) string {
	dir := t.TempDir()
	p.SignedCAB(t, dir, "good.cab")
	p.SignedCAB(t, dir, "update.msu")
	copyFile(t, verifytest.CAB(t, t.TempDir(), "plain.cab"), filepath.Join(dir, "unsigned.cab"))
	tampered := p.SignedCAB(t, dir, "tampered.cab")
	data, err := os.ReadFile(tampered)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(data), "hello cabinet")
	data[i] = 'j'
	if err := os.WriteFile(tampered, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestScanVerifiesCabinets: with --roots the signed cabinet and .msu
// are verified naming the signer, the unsigned one is "none", and the
// tampered one an error record (exit 3).
func TestScanVerifiesCabinets(t *testing.T) {
	p := verifytest.NewPKI(t, "alpha")
	dir := authRepo(t, p)
	res := scan(t, "--roots", p.CA, dir)
	if res.code != 3 || len(res.sources) != 3 || len(res.errors) != 1 || len(res.refused) != 1 {
		t.Fatalf("exit %d, %d sources, %d errors, %d refused\n%s", res.code, len(res.sources), len(res.errors), len(res.refused), res.stderr)
	}
	if e := res.errors[0]; !strings.HasSuffix(e.URI, "tampered.cab") || !strings.Contains(e.Message, "not the ones signed") {
		t.Errorf("error record %+v, want tampered.cab's bytes not the ones signed", e)
	}
	if r := res.refused[0]; !strings.HasSuffix(r.URI, "tampered.cab") || r.Verified.By != "authenticode" || r.SHA256 != sha256sum(t, r.URI) {
		t.Errorf("refused %+v %+v, want tampered.cab by authenticode with its bytes' sha256", r, r.Verified)
	}
	by := res.byURI()
	for _, name := range []string{"good.cab", "update.msu"} {
		v := by[filepath.Join(dir, name)].Verified
		if v == nil || !v.OK || v.By != "authenticode" || v.Signer != "CN=alpha Code Signing,O=hashr tests" || !strings.Contains(v.Detail, "chain verified") {
			t.Errorf("%s: verified %+v", name, v)
		}
	}
	if v := by[filepath.Join(dir, "unsigned.cab")].Verified; v == nil || v.OK || v.By != "none" {
		t.Errorf("unsigned.cab: verified %+v, want by none", v)
	}
}

// TestScanCabinetRoots: a cabinet checked against another CA is an
// error record; without --roots its signature is checked and not its
// chain (ok false, said in detail), which --verify require refuses;
// --verify off checks nothing.
func TestScanCabinetRoots(t *testing.T) {
	p, other := verifytest.NewPKI(t, "alpha"), verifytest.NewPKI(t, "other")
	dir := t.TempDir()
	good := p.SignedCAB(t, dir, "good.cab")
	res := scan(t, "--roots", other.CA, dir)
	if res.code != 3 || len(res.errors) != 1 || !strings.Contains(res.errors[0].Message, "certificate chain") {
		t.Fatalf("other CA: exit %d, errors %+v", res.code, res.errors)
	}
	res = scan(t, dir)
	v := res.byURI()[good].Verified
	if res.code != 0 || v == nil || v.OK || v.By != "authenticode" || !strings.Contains(v.Detail, "no --roots") {
		t.Fatalf("no --roots: exit %d, verified %+v", res.code, v)
	}
	res = scan(t, "--verify", "require", dir)
	if res.code != 3 || len(res.errors) != 1 || !strings.Contains(res.errors[0].Message, "--verify require") {
		t.Fatalf("require without --roots: exit %d, errors %+v", res.code, res.errors)
	}
	res = scan(t, "--verify", "off", "--roots", other.CA, dir)
	if res.code != 0 || res.byURI()[good].Verified != nil {
		t.Fatalf("off: exit %d, %+v", res.code, res.sources)
	}
}

func TestScanRootsFileRefused(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "roots.pem")
	os.WriteFile(bad, []byte("not a certificate"), 0o644)
	res := scan(t, "--roots", bad, t.TempDir())
	if res.code == 0 || !strings.Contains(res.stderr, "no PEM certificate") {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
}
