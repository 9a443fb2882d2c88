package extract

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashr-dev/hashr/internal/verify/verifytest"
)

// peCabinet is a cabinet (gcab) of PE members: signed.exe (signed by p,
// timestamped), tampered.dll (signed, then a byte changed), plain.sys
// (unsigned), and notes.exe (text, no PE at all).
func peCabinet(t *testing.T, p *verifytest.PKI) string {
	verifytest.Need(t, "gcab")
	dir := t.TempDir()
	p.SignedPE(t, dir, "signed.exe", p.Timestamp(time.Now())...)
	tampered := p.SignedPE(t, dir, "tampered.dll")
	data, err := os.ReadFile(tampered)
	if err != nil {
		t.Fatal(err)
	}
	data[strings.Index(string(data), "hello, signed world")] = 'j'
	os.WriteFile(tampered, data, 0o644)
	verifytest.PE(t, dir, "plain.sys")
	os.WriteFile(filepath.Join(dir, "notes.exe"), []byte("not a program\n"), 0o644)
	verifytest.Run(t, dir, nil, "gcab", "-c", "update.cab", "signed.exe", "tampered.dll", "plain.sys", "notes.exe")
	return filepath.Join(dir, "update.cab")
}

// TestVerifyMembers: --verify-members records each PE member's
// Authenticode check, in a sandbox child and in-process alike; the
// tampered member is an error record (exit 3) besides its file record.
func TestVerifyMembers(t *testing.T) {
	p := verifytest.NewPKI(t, "alpha")
	cab := peCabinet(t, p)
	for _, mode := range [][]string{nil, {"--no-sandbox"}} {
		out := extract(t, sourceLine(cab), append(mode, "--hash", "sha256", "--verify-members", "--roots", p.CA)...)
		if out.status != 3 || len(out.errors()) != 1 {
			t.Fatalf("%v: exit %d, errors %+v\n%s", mode, out.status, out.errors(), out.stderr)
		}
		if msg := out.errorPaths()["tampered.dll"]; !strings.Contains(msg, "Authenticode") || !strings.Contains(msg, "not the ones signed") {
			t.Errorf("%v: tampered.dll error %q", mode, msg)
		}
		files := out.files()
		if v := files["signed.exe"].Verified; v == nil || !v.OK || v.By != "authenticode" || v.Signer != "CN=alpha Code Signing,O=hashr tests" {
			t.Errorf("%v: signed.exe verified %+v", mode, v)
		}
		for name, want := range map[string]string{"plain.sys": "no embedded Authenticode signature", "notes.exe": "not a PE file"} {
			if v := files[name].Verified; v == nil || v.OK || v.By != "none" || !strings.Contains(v.Detail, want) {
				t.Errorf("%v: %s verified %+v, want none: %s", mode, name, v, want)
			}
		}
		if files["tampered.dll"] == nil || files["tampered.dll"].Verified != nil {
			t.Errorf("%v: tampered.dll record %+v, want one without verified", mode, files["tampered.dll"])
		}
	}
	out := extract(t, sourceLine(cab), "--hash", "sha256")
	if out.status != 0 || out.files()["signed.exe"].Verified != nil {
		t.Errorf("without --verify-members: exit %d, %+v", out.status, out.files()["signed.exe"])
	}
	if out := extract(t, sourceLine(cab), "--roots", p.CA); out.status != 2 || !strings.Contains(out.stderr, "--verify-members") {
		t.Errorf("--roots alone: exit %d\n%s", out.status, out.stderr)
	}
}
