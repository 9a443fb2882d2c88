package cli_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
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
// verified field naming the key's fingerprint; hashr-fetch then refuses
// a .deb altered after signing (same size, other bytes).
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
	// The altered .deb is refused, as the signed index's: its source record
	// says so, with the sha256 of the bytes refused, and its end follows.
	sum := sha256.Sum256(data)
	refused := recs["source"][1]
	if v := verifiedOf(refused); refused["refused"] != true || refused["sha256"] != hex.EncodeToString(sum[:]) || refused["local"] != nil ||
		v["ok"] != false || v["by"] != "apt-release" || v["signer"] != r.Key.Fingerprint || len(recs["end"]) != 1 {
		t.Errorf("fetch of the altered .deb: source %v, %d end records; want it refused", refused, len(recs["end"]))
	}
}

// TestScanFailsAptMirrorWithWrongKeyring: a wrong keyring, an index
// altered after signing, and --verify require on an unsigned source each
// give refused sources (each with its error record) and exit 3.
func TestScanFailsAptMirrorWithWrongKeyring(t *testing.T) {
	r := verifytest.BuildAptRepo(t, true)
	other := verifytest.NewGPG(t, "other", "ed25519")
	code, recs, _, stderr := runStage(t, scan.Main, "", "--plan=false", "--keyring", other.Keyring, r.Root)
	if code != 3 || refusedCount(recs) != 2 || len(recs["error"]) != 2 || !strings.Contains(recs["error"][0]["message"].(string), "not in the keyring") {
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

// refusedCount is how many source records of a stream are refused, or
// -1 when one is not: a stream of refusals alone, each with its end.
func refusedCount(recs map[string][]map[string]any) int {
	for _, src := range recs["source"] {
		if src["refused"] != true || verifiedOf(src)["ok"] != false {
			return -1
		}
	}
	if len(recs["end"]) != len(recs["source"]) {
		return -1
	}
	return len(recs["source"])
}

// verifiedOf returns a source record's verified field.
func verifiedOf(src map[string]any) map[string]any {
	v, _ := src["verified"].(map[string]any)
	return v
}

// copyFormats copies testdata/formats files into a new directory.
func copyFormats(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range names {
		data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "formats", name))
		if err != nil {
			t.Fatal(err)
		}
		verifytest.WriteFile(t, filepath.Join(dir, name), string(data))
	}
	return dir
}

// TestScanTryMarksUnsignedSourcesNone: under --verify try (the default)
// every source that nothing signs (a tarball, a zip, an ISO, an unsigned
// rpm) says so, with why; require makes each an error record; off leaves
// the field out.
func TestScanTryMarksUnsignedSourcesNone(t *testing.T) {
	dir := copyFormats(t, "sample-ustar.tar", "sample.jar", "sample.iso", "hello-hashr-1.0-1.noarch.rpm")
	code, recs, stdout, stderr := runStage(t, scan.Main, "", "--plan=false", dir)
	if code != 0 || len(recs["source"]) != 4 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, src := range recs["source"] {
		v := verifiedOf(src)
		if v == nil || v["ok"] != false || v["by"] != "none" || v["detail"] == "" {
			t.Errorf("%s: verified %v, want ok false by none with a detail saying why", src["id"], v)
		}
	}
	code, recs, _, stderr = runStage(t, scan.Main, "", "--plan=false", "--verify", "require", dir)
	if code != 3 || refusedCount(recs) != 4 || len(recs["error"]) != 4 || !strings.Contains(recs["error"][0]["message"].(string), "--verify require") {
		t.Fatalf("--verify require: exit %d, records %v\n%s", code, recs, stderr)
	}
	code, recs, stdout, _ = runStage(t, scan.Main, "", "--plan=false", "--verify", "off", dir)
	if code != 0 || len(recs["source"]) != 4 || strings.Contains(stdout, "verified") {
		t.Fatalf("--verify off: exit %d\n%s", code, stdout)
	}
}

// TestScanVerifiesSignedRPM: an rpm signed with rpmsign verifies by its
// header signature with the key's fingerprint; one altered after signing
// is an error record and exit 3; a wrong keyring too.
func TestScanVerifiesSignedRPM(t *testing.T) {
	key := verifytest.NewGPG(t, "rpmkey", "rsa2048")
	dir := t.TempDir()
	data, _ := os.ReadFile(verifytest.BuildRPM(t, key, "signed"))
	rpmFile := filepath.Join(dir, "signed-1.0-1.noarch.rpm")
	verifytest.WriteFile(t, rpmFile, string(data))
	code, recs, stdout, stderr := runStage(t, scan.Main, "", "--plan=false", "--keyring", key.Armored, dir)
	if code != 0 || len(recs["source"]) != 1 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if v := verifiedOf(recs["source"][0]); v["ok"] != true || v["by"] != "rpm-header" || v["signer"] != key.Fingerprint {
		t.Errorf("verified %v, want ok by rpm-header signer %s", v, key.Fingerprint)
	}
	other := verifytest.NewGPG(t, "other", "ed25519")
	code, recs, _, stderr = runStage(t, scan.Main, "", "--plan=false", "--keyring", other.Keyring, dir)
	if code != 3 || len(recs["error"]) != 1 || !strings.Contains(recs["error"][0]["message"].(string), "not in the keyring") {
		t.Fatalf("wrong keyring: exit %d, records %v\n%s", code, recs, stderr)
	}
	data[len(data)-1] ^= 1 // the payload's last byte
	os.WriteFile(rpmFile, data, 0o644)
	code, recs, _, stderr = runStage(t, scan.Main, "", "--plan=false", "--keyring", key.Armored, dir)
	if code != 3 || refusedCount(recs) != 1 || len(recs["error"]) != 1 || !strings.Contains(recs["error"][0]["message"].(string), "verifying the rpm") {
		t.Fatalf("tampered rpm: exit %d, records %v\n%s", code, recs, stderr)
	}
}

// TestScanVerifiesYumRepository: the rpms of a createrepo_c repository
// whose repomd.xml is signed verify by yum-repomd with the key's
// fingerprint and carry primary.xml's sha256; hashr-fetch then fails an
// rpm altered after signing; primary.xml altered after signing fails
// every rpm of the repository.
func TestScanVerifiesYumRepository(t *testing.T) {
	repo := verifytest.BuildYumRepo(t, "xz")
	code, recs, stdout, stderr := runStage(t, scan.Main, "", "--plan=false", "--verify", "require", "--keyring", repo.Key.Keyring, repo.Root)
	if code != 0 || len(recs["source"]) != 2 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, src := range recs["source"] {
		v := verifiedOf(src)
		if v["ok"] != true || v["by"] != "yum-repomd" || v["signer"] != repo.Key.Fingerprint || !strings.Contains(v["detail"].(string), "1.0-1 (noarch)") {
			t.Errorf("%s: verified %v, want ok by yum-repomd signer %s", src["id"], v, repo.Key.Fingerprint)
		}
		data, _ := os.ReadFile(src["uri"].(string))
		sum := sha256.Sum256(data)
		if src["sha256"] != hex.EncodeToString(sum[:]) {
			t.Errorf("%s: sha256 %v, want primary.xml's", src["id"], src["sha256"])
		}
	}
	rpmFile := filepath.Join(repo.Root, "Packages", "beta-1.0-1.noarch.rpm")
	data, _ := os.ReadFile(rpmFile)
	data[len(data)-1] ^= 1
	os.WriteFile(rpmFile, data, 0o644)
	code, recs, _, stderr = runStage(t, fetch.Main, stdout, "--work", t.TempDir())
	if code != 3 || len(recs["error"]) != 1 || !strings.Contains(recs["error"][0]["message"].(string), "sha256 mismatch") {
		t.Fatalf("fetch of the altered rpm: exit %d, errors %v\n%s", code, recs["error"], stderr)
	}
	primary, _ := filepath.Glob(filepath.Join(repo.Root, "repodata", "*-primary.xml.xz"))
	data, _ = os.ReadFile(primary[0])
	data[len(data)/2] ^= 0x40
	os.WriteFile(primary[0], data, 0o644)
	code, recs, _, stderr = runStage(t, scan.Main, "", "--plan=false", "--keyring", repo.Key.Keyring, repo.Root)
	if code != 3 || len(recs["error"]) != 2 || !strings.Contains(recs["error"][0]["message"].(string), "primary.xml.xz") {
		t.Fatalf("altered primary.xml: exit %d, records %v\n%s", code, recs, stderr)
	}
}

// TestScanVerifiesRemoteAptMirror: a suite of an apt mirror served over
// http (loopback) lists its packages from its verified indexes, each
// with the index's sha256, size and the key's fingerprint, and
// hashr-fetch reads them whole; a Packages index altered after signing,
// or a wrong keyring, fails the REPO with an error record.
func TestScanVerifiesRemoteAptMirror(t *testing.T) {
	r := verifytest.BuildAptRepo(t, false)
	srv := httptest.NewServer(http.FileServer(http.Dir(r.Root)))
	defer srv.Close()
	suite := srv.URL + "/dists/test/"
	code, recs, stdout, stderr := runStage(t, scan.Main, "", "--plan=false", "--verify", "require", "--keyring", r.Key.Armored, suite)
	if code != 0 || len(recs["source"]) != 2 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, src := range recs["source"] {
		v := verifiedOf(src)
		if v["ok"] != true || v["by"] != "apt-release" || v["signer"] != r.Key.Fingerprint || src["format"] != "deb" {
			t.Errorf("%s: verified %v format %v, want ok by apt-release signer %s", src["id"], v, src["format"], r.Key.Fingerprint)
		}
		// Named by its signed Packages entry, as a local mirror's are.
		if pkg, _ := src["package"].(map[string]any); pkg["name"] == nil || pkg["name"] == "" || pkg["version"] == nil {
			t.Errorf("%s: package %v, want its Packages entry's name and version", src["id"], src["package"])
		}
		data, _ := os.ReadFile(filepath.Join(r.Root, "pool", "main", src["id"].(string)))
		sum := sha256.Sum256(data)
		if src["uri"] != srv.URL+"/pool/main/"+src["id"].(string) || src["sha256"] != hex.EncodeToString(sum[:]) || src["quick_sha256"] != src["sha256"] || src["size"] != float64(len(data)) {
			t.Errorf("source %v, want the Packages entry's uri, sha256 and size", src)
		}
	}
	code, recs, _, stderr = runStage(t, fetch.Main, stdout, "--work", t.TempDir())
	if code != 0 || len(recs["source"]) != 2 {
		t.Fatalf("fetch: exit %d, records %v\n%s", code, recs, stderr)
	}
	other := verifytest.NewGPG(t, "other", "ed25519")
	code, recs, _, stderr = runStage(t, scan.Main, "", "--plan=false", "--keyring", other.Keyring, suite)
	if code != 3 || len(recs["source"]) != 0 || len(recs["error"]) != 1 || !strings.Contains(recs["error"][0]["message"].(string), "not in the keyring") {
		t.Fatalf("wrong keyring: exit %d, records %v\n%s", code, recs, stderr)
	}
	idx := filepath.Join(r.Dist, "main", "binary-amd64", "Packages.xz")
	data, _ := os.ReadFile(idx)
	data[len(data)/2] ^= 0x40
	os.WriteFile(idx, data, 0o644)
	code, recs, _, stderr = runStage(t, scan.Main, "", "--plan=false", "--keyring", r.Key.Keyring, suite)
	if code != 3 || len(recs["source"]) != 0 || len(recs["error"]) != 1 || !strings.Contains(recs["error"][0]["message"].(string), "Packages.xz") {
		t.Fatalf("altered index: exit %d, records %v\n%s", code, recs, stderr)
	}
}
