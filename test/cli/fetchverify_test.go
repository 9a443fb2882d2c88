package cli_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashr-dev/hashr/internal/fetch"
	"github.com/hashr-dev/hashr/internal/scan"
	"github.com/hashr-dev/hashr/internal/verify/verifytest"
)

// serveFiles serves each file by its base name over loopback http.
func serveFiles(t *testing.T, files ...string) *httptest.Server {
	t.Helper()
	byName := map[string][]byte{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		byName["/"+filepath.Base(f)] = data
	}
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, ok := byName[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
	}))
	t.Cleanup(s.Close)
	return s
}

// TestRemoteSignedFilesVerifiedByFetch: hashr-scan --verify require of
// a signed rpm's and a signed cabinet's URLs leaves them to hashr-fetch
// (no "verified", no error record: it reads only their first bytes),
// and hashr-fetch --verify require verifies the bytes it downloaded with
// the key's fingerprint and the CA's signer, and names the rpm.
func TestRemoteSignedFilesVerifiedByFetch(t *testing.T) {
	key := verifytest.NewGPG(t, "pipeline", "ed25519")
	pki := verifytest.NewPKI(t, "pipeline")
	rpmFile := verifytest.BuildRPM(t, key, "piped")
	cab := pki.SignedCAB(t, t.TempDir(), "update.cab")
	s := serveFiles(t, rpmFile, cab)
	code, recs, stdout, stderr := runStage(t, scan.Main, "", "--plan=false", "--verify", "require",
		s.URL+"/"+filepath.Base(rpmFile), s.URL+"/update.cab")
	if code != 0 || len(recs["source"]) != 2 {
		t.Fatalf("scan: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, src := range recs["source"] {
		if src["verified"] != nil {
			t.Errorf("scan: %s verified %v, want none: hashr-fetch verifies it", src["id"], src["verified"])
		}
	}
	code, recs, out, stderr := runStage(t, fetch.Main, stdout, "--work", t.TempDir(), "--verify", "require",
		"--keyring", key.Keyring, "--roots", pki.CA)
	if code != 0 || len(recs["source"]) != 2 {
		t.Fatalf("fetch: exit %d\n%s\n%s", code, out, stderr)
	}
	want := map[string][2]string{filepath.Base(rpmFile): {"rpm-header", key.Fingerprint},
		"update.cab": {"authenticode", "CN=pipeline Code Signing,O=hashr tests"}}
	for _, src := range recs["source"] {
		v, _ := src["verified"].(map[string]any)
		w := want[src["id"].(string)]
		if v["ok"] != true || v["by"] != w[0] || v["signer"] != w[1] {
			t.Errorf("fetch: %s verified %v, want ok by %s signer %s", src["id"], v, w[0], w[1])
		}
	}
	if p, _ := recs["source"][0]["package"].(map[string]any); p["name"] != "piped" || p["version"] != "1.0-1" {
		t.Errorf("fetch: the rpm's package %v, want piped 1.0-1", p)
	}
}
