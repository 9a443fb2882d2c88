package ocitest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/pkg/records"
)

// DockerArchiveIdentity is what a docker archive says of its one image,
// read with tar(1), as ground truth for the package hashr names it by:
// its first RepoTags entry, its image ID (the config's SHA-256) and its
// config's os/architecture.
func DockerArchiveIdentity(t testing.TB, file string) records.Package {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("tar", "-xf", file, "-C", dir).CombinedOutput(); err != nil {
		t.Fatalf("tar -xf %s: %v\n%s", file, err, out)
	}
	var manifest []struct {
		Config   string
		RepoTags []string
	}
	ReadJSON(t, filepath.Join(dir, "manifest.json"), &manifest)
	if len(manifest) != 1 || len(manifest[0].RepoTags) == 0 {
		t.Fatalf("%s: %+v, want one tagged image", file, manifest)
	}
	config, err := os.ReadFile(filepath.Join(dir, manifest[0].Config))
	if err != nil {
		t.Fatal(err)
	}
	var platform struct{ OS, Architecture string }
	ReadJSON(t, filepath.Join(dir, manifest[0].Config), &platform)
	repo, tag, _ := strings.Cut(manifest[0].RepoTags[0], ":")
	digest := sha256.Sum256(config)
	return records.Package{Name: repo, Version: tag, Vendor: strings.SplitN(repo, "/", 2)[0],
		Digest: "sha256:" + hex.EncodeToString(digest[:]), Arch: platform.OS + "/" + platform.Architecture, OS: platform.OS}
}

// ReadJSON decodes the JSON file into v, failing t if it cannot.
func ReadJSON(t testing.TB, file string, v any) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}
