package extract

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/oci/ocitest"
)

func imageSums(files map[string]string) map[string]string {
	out := map[string]string{}
	for name, body := range files {
		out[name] = sha256Hex(body)
	}
	return out
}

// An image with several layers, a whiteout, an opaque directory and hard
// links gives the expected files from an OCI layout directory, an OCI
// layout tar (plain and gzipped) and a docker archive, layer by layer and
// flattened, hashed on the fly and spooled.
func TestContainerImages(t *testing.T) {
	img := ocitest.Image(t)
	dir := t.TempDir()
	layoutDir := filepath.Join(dir, "layout")
	ocitest.WriteLayout(t, layoutDir, img)
	layoutTar := filepath.Join(dir, "layout.tar")
	ocitest.TarDir(t, layoutDir, layoutTar)
	dockerTar := filepath.Join(dir, "image.tar")
	ocitest.WriteDockerArchive(t, dockerTar, "example.org/test:1", img)
	if out, err := exec.Command("gzip", "-k", dockerTar).CombinedOutput(); err != nil {
		t.Fatalf("gzip: %v\n%s", err, out)
	}
	byDigest := ocitest.ByLayer(ocitest.LayerDigests(t, img))
	byDiffID := ocitest.ByLayer(ocitest.DiffIDs(t, img))
	for _, c := range []struct {
		name, path string
		layers     map[string]string
	}{
		{"layout dir", layoutDir, byDigest},
		{"layout tar", layoutTar, byDigest},
		{"docker archive", dockerTar, byDiffID},
		{"docker archive, gzipped", dockerTar + ".gz", byDiffID},
	} {
		for _, mode := range [][]string{{"--hash", "sha256"}, {"--spool", t.TempDir()}} {
			for _, flatten := range []bool{false, true} {
				args := append([]string{}, mode...)
				want := c.layers
				if flatten {
					args = append(args, "--flatten")
					want = ocitest.Flattened
				}
				o := extract(t, sourceLine(c.path), args...)
				if o.status != 0 {
					t.Fatalf("%s %v: %s", c.name, args, describe(o))
				}
				equalSums(t, c.name+" "+filepath.Base(args[0])+map[bool]string{true: " --flatten"}[flatten], o.sums(t), imageSums(want))
			}
		}
	}
}

func TestContainerImagePlatforms(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "multi")
	ocitest.WriteIndexLayout(t, dir, ocitest.Image(t, "amd64"), ocitest.Image(t, "arm64"))
	o := extract(t, sourceLine(dir), "--hash", "sha256", "--flatten", "--platform", "linux/arm64")
	if o.status != 0 {
		t.Fatal(describe(o))
	}
	equalSums(t, "--platform linux/arm64", o.sums(t), imageSums(ocitest.Flattened))
	o = extract(t, sourceLine(dir), "--hash", "sha256", "--flatten")
	if n := len(o.files()); n != 2*len(ocitest.Flattened) {
		t.Errorf("every platform: %d files, want %d\n%s", n, 2*len(ocitest.Flattened), describe(o))
	}
	if o := extract(t, sourceLine(dir), "--hash", "sha256", "--platform", "linux"); o.status != 2 {
		t.Errorf("--platform linux: status %d, want 2 (usage)", o.status)
	}
	o = extract(t, sourceLine(dir), "--hash", "sha256", "--platform", "linux/s390x")
	if o.status != 3 || len(o.errors()) != 1 {
		t.Errorf("a platform the image lacks: want one error record, status 3\n%s", describe(o))
	}
}

// A directory that is not an image layout is an error record.
func TestDirectoryNotLayout(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	o := extract(t, sourceLine(dir), "--hash", "sha256")
	if o.status != 3 || len(o.errors()) != 1 {
		t.Errorf("want one error record and status 3\n%s", describe(o))
	}
}
