package cli_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/fetch"
	"github.com/hashr-dev/hashr/internal/scan"
	"github.com/hashr-dev/hashr/internal/verify/verifytest"
)

// runStage runs a stage in-process and splits its records by type.
func runStage(t *testing.T, main func([]string, io.Reader, io.Writer, io.Writer) int, stdin string, args ...string) (int, map[string][]map[string]any, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := main(args, strings.NewReader(stdin), &out, &errb)
	recs := map[string][]map[string]any{}
	for line := range strings.Lines(out.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("bad record %q: %v", line, err)
		}
		recs[m["type"].(string)] = append(recs[m["type"].(string)], m)
	}
	return code, recs, out.String(), errb.String()
}

// TestScanVerifiesAptMirror: hashr-scan of an apt mirror built with
// apt-ftparchive and gpg gives each .deb its signed sha256 and a
// verified field naming the key's fingerprint; hashr-fetch then fails a
// .deb altered after signing (same size, other bytes).
func TestScanVerifiesAptMirror(t *testing.T) {
	r := verifytest.BuildAptRepo(t, true)
	code, recs, stdout, stderr := runStage(t, scan.Main, "", "--plan=false", "--keyring", r.Key.Keyring, r.Root)
	if code != 0 || len(recs["source"]) != 2 {
		t.Fatalf("exit %d, %d sources\n%s\n%s", code, len(recs["source"]), stdout, stderr)
	}
	for _, src := range recs["source"] {
		v, _ := src["verified"].(map[string]any)
		if v["ok"] != true || v["by"] != "apt-release" || v["signer"] != r.Key.Fingerprint {
			t.Errorf("%s: verified %v, want ok by apt-release signer %s", src["id"], v, r.Key.Fingerprint)
		}
		data, _ := os.ReadFile(src["uri"].(string))
		sum := sha256.Sum256(data)
		if src["sha256"] != hex.EncodeToString(sum[:]) {
			t.Errorf("%s: sha256 %v, want the Packages entry's", src["id"], src["sha256"])
		}
	}
	deb := filepath.Join(r.Root, "pool", "main", "beta_1.0-1_amd64.deb")
	data, _ := os.ReadFile(deb)
	data[len(data)-1] ^= 1
	os.WriteFile(deb, data, 0o644)
	code, recs, _, stderr = runStage(t, fetch.Main, stdout, "--work", t.TempDir())
	if code != 3 || len(recs["error"]) != 1 || !strings.Contains(recs["error"][0]["message"].(string), "sha256 mismatch") {
		t.Fatalf("fetch of the altered .deb: exit %d, errors %v\n%s", code, recs["error"], stderr)
	}
}

// TestScanFailsAptMirrorWithWrongKeyring: a wrong keyring, an index
// altered after signing, and --verify require on an unsigned source each
// give error records and exit 3.
func TestScanFailsAptMirrorWithWrongKeyring(t *testing.T) {
	r := verifytest.BuildAptRepo(t, true)
	other := verifytest.NewGPG(t, "other", "ed25519")
	code, recs, _, stderr := runStage(t, scan.Main, "", "--plan=false", "--keyring", other.Keyring, r.Root)
	if code != 3 || len(recs["source"]) != 0 || len(recs["error"]) != 2 || !strings.Contains(recs["error"][0]["message"].(string), "not in the keyring") {
		t.Fatalf("wrong keyring: exit %d, records %v\n%s", code, recs, stderr)
	}
	idx := filepath.Join(r.Dist, "main", "binary-amd64", "Packages.xz")
	data, _ := os.ReadFile(idx)
	data[len(data)/2] ^= 0x40
	os.WriteFile(idx, data, 0o644)
	code, recs, _, stderr = runStage(t, scan.Main, "", "--plan=false", "--keyring", r.Key.Keyring, r.Root)
	if code != 3 || len(recs["error"]) != 2 || !strings.Contains(recs["error"][0]["message"].(string), "Packages.xz") {
		t.Fatalf("altered index: exit %d, records %v\n%s", code, recs, stderr)
	}
	code, recs, _, stderr = runStage(t, scan.Main, "", "--plan=false", "--verify", "require", filepath.Join(r.Root, "pool"))
	if code != 3 || len(recs["error"]) != 2 || !strings.Contains(recs["error"][0]["message"].(string), "nothing signs") {
		t.Fatalf("--verify require: exit %d, records %v\n%s", code, recs, stderr)
	}
}
