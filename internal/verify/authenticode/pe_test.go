package authenticode

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hashr-dev/hashr/internal/verify/verifytest"
	"github.com/hashr-dev/hashr/pkg/records"
)

func verifyPEFile(t *testing.T, file, roots string, now time.Time) (records.Verified, error) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pool, err := LoadRoots(roots)
	if err != nil {
		t.Fatal(err)
	}
	return VerifyPE(f, pool, now)
}

// TestSignedPE: a Go program cross-compiled for Windows and signed by
// osslsigncode (timestamped) verifies against its CA and names the
// signer; against another CA it does not; a byte changed after signing,
// or data appended after the signature, fails.
func TestSignedPE(t *testing.T) {
	p, other := verifytest.NewPKI(t, "alpha"), verifytest.NewPKI(t, "other")
	exe := p.SignedPE(t, t.TempDir(), "hello.exe", p.Timestamp(time.Now())...)
	res, err := verifyPEFile(t, exe, p.CA, time.Now())
	if err != nil || !res.OK || res.Signer != "CN=alpha Code Signing,O=hashr tests" || !strings.Contains(res.Detail, "RFC 3161") {
		t.Fatalf("%+v, err %v", res, err)
	}
	if _, err := verifyPEFile(t, exe, other.CA, time.Now()); err == nil || !strings.Contains(err.Error(), "certificate chain") {
		t.Errorf("other CA: err %v", err)
	}
	data, _ := os.ReadFile(exe)
	i := strings.Index(string(data), "hello, signed world")
	tampered := append([]byte(nil), data...)
	tampered[i] = 'j'
	os.WriteFile(exe, tampered, 0o644)
	if _, err := verifyPEFile(t, exe, p.CA, time.Now()); !errors.Is(err, ErrMismatch) {
		t.Errorf("tampered: err %v, want ErrMismatch", err)
	}
	os.WriteFile(exe, append(data, "appended"...), 0o644)
	if _, err := verifyPEFile(t, exe, p.CA, time.Now()); err == nil || !strings.Contains(err.Error(), "follow the certificate table") {
		t.Errorf("appended: err %v", err)
	}
}

func TestUnsignedAndNonPE(t *testing.T) {
	exe := verifytest.PE(t, t.TempDir(), "plain.exe")
	f, _ := os.Open(exe)
	defer f.Close()
	if _, err := VerifyPE(f, nil, time.Now()); !errors.Is(err, ErrUnsigned) {
		t.Errorf("unsigned: err %v, want ErrUnsigned", err)
	}
	if _, err := VerifyPE(strings.NewReader("MZ short"), nil, time.Now()); err == nil || !strings.Contains(err.Error(), "not a PE") {
		t.Errorf("short: err %v", err)
	}
}

// The digest does not depend on how the bytes are cut into writes: the
// skipped fields may straddle any two of them.
func TestPEVerifierAnyWriteSizes(t *testing.T) {
	p := verifytest.NewPKI(t, "alpha")
	data, err := os.ReadFile(p.SignedPE(t, t.TempDir(), "hello.exe"))
	if err != nil {
		t.Fatal(err)
	}
	pool, _ := LoadRoots(p.CA)
	for _, chunk := range []int{1, 7, 4093, 1 << 20} {
		v := NewPEVerifier()
		for b := data; len(b) > 0; b = b[min(chunk, len(b)):] {
			v.Write(b[:min(chunk, len(b))])
		}
		if res, err := v.Verify(pool, time.Now()); err != nil || !res.OK {
			t.Errorf("writes of %d: %+v, err %v", chunk, res, err)
		}
	}
}
