package oci

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/hashr-dev/hashr/internal/formats/archive/archivetest"
	"github.com/hashr-dev/hashr/internal/formats/oci/ocitest"
)

func sums(files map[string]string) map[string]string {
	out := map[string]string{}
	for name, body := range files {
		s := sha256.Sum256([]byte(body))
		out[name] = hex.EncodeToString(s[:])
	}
	return out
}

// sources writes the test image the three ways a source holds it.
func sources(t *testing.T) (layoutDir, layoutTar, dockerTar string, digests, diffIDs []string) {
	img := ocitest.Image(t)
	dir := t.TempDir()
	layoutDir = filepath.Join(dir, "layout")
	ocitest.WriteLayout(t, layoutDir, img)
	layoutTar = filepath.Join(dir, "layout.tar")
	ocitest.TarDir(t, layoutDir, layoutTar)
	dockerTar = filepath.Join(dir, "docker.tar")
	ocitest.WriteDockerArchive(t, dockerTar, "example.org/test:1", img)
	return layoutDir, layoutTar, dockerTar, ocitest.LayerDigests(t, img), ocitest.DiffIDs(t, img)
}

func openTar(t *testing.T, file string, format Format, opts Options) *Walker {
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, _ := f.Stat()
	w, err := NewWalker(f, st.Size(), format, opts)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestImageSources(t *testing.T) {
	layoutDir, layoutTar, dockerTar, digests, diffIDs := sources(t)
	for _, flatten := range []bool{false, true} {
		opts := Options{Flatten: flatten}
		for _, c := range []struct {
			name string
			open func() *Walker
			want map[string]string
		}{
			{"layout dir", func() *Walker {
				w, err := NewDirWalker(layoutDir, opts)
				if err != nil {
					t.Fatal(err)
				}
				return w
			}, ocitest.ByLayer(digests)},
			{"layout tar", func() *Walker { return openTar(t, layoutTar, Layout, opts) }, ocitest.ByLayer(digests)},
			// docker save keeps layers uncompressed, named by diff ID.
			{"docker archive", func() *Walker { return openTar(t, dockerTar, DockerArchive, opts) }, ocitest.ByLayer(diffIDs)},
		} {
			want := c.want
			if flatten {
				want = ocitest.Flattened
			}
			got := archivetest.Walk(t, c.open())
			archivetest.Equal(t, c.name+" flatten="+map[bool]string{true: "yes", false: "no"}[flatten], got.Resolved(), sums(want))
			if flatten {
				// The two names of "tool bytes" are one file and a link to it.
				if len(got.Links) != 1 {
					t.Errorf("%s: links %v, want one", c.name, got.Links)
				}
			}
		}
	}
}

func TestPlatforms(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "multi")
	ocitest.WriteIndexLayout(t, dir, ocitest.Image(t, "amd64"), ocitest.Image(t, "arm64"))
	w, err := NewDirWalker(dir, Options{Flatten: true})
	if err != nil {
		t.Fatal(err)
	}
	got := archivetest.Walk(t, w).Resolved()
	want := map[string]string{}
	for name, sum := range sums(ocitest.Flattened) {
		want["linux-amd64/"+name] = sum
		want["linux-arm64/"+name] = sum
	}
	archivetest.Equal(t, "every platform", got, want)

	arm, _ := v1.ParsePlatform("linux/arm64")
	w, err = NewDirWalker(dir, Options{Flatten: true, Platform: arm})
	if err != nil {
		t.Fatal(err)
	}
	archivetest.Equal(t, "--platform linux/arm64", archivetest.Walk(t, w).Resolved(), sums(ocitest.Flattened))

	s390, _ := v1.ParsePlatform("linux/s390x")
	if _, err := NewDirWalker(dir, Options{Platform: s390}); err == nil || !strings.Contains(err.Error(), "no image for platform") {
		t.Errorf("a platform the index lacks: %v", err)
	}
}

// A layer blob whose bytes are not those of its digest is refused.
func TestTamperedLayer(t *testing.T) {
	layoutDir, _, _, digests, _ := sources(t)
	d, _ := v1.NewHash(digests[1])
	blob := filepath.Join(layoutDir, "blobs", "sha256", d.Hex)
	b, err := os.ReadFile(blob)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-9] ^= 0xff // inside gzip's CRC: the stream may still decode
	if err := os.WriteFile(blob, b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, flatten := range []bool{false, true} {
		w, err := NewDirWalker(layoutDir, Options{Flatten: flatten})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := archivetest.WalkErr(w); err == nil {
			t.Errorf("flatten=%v: a tampered layer walked without error", flatten)
		}
	}
}

func TestHostileLayerNames(t *testing.T) {
	members := []ocitest.Member{
		{Name: "../../escape", Body: "x"},
		{Name: "/abs/ok", Body: "ok"},
		{Name: "link", Typeflag: '1', Linkname: "../../etc/shadow"},
		{Name: "dangling", Typeflag: '1', Linkname: "nothing/here"},
	}
	_ = members
	// The walker hands climbing names on as stored for hashr-extract to
	// refuse; absolute ones are the image root's.
	if p, ok := layerPath("../../escape"); ok || p != "../../escape" {
		t.Errorf("layerPath(../../escape) = %q, %v", p, ok)
	}
	if p, ok := layerPath("/abs/ok"); !ok || p != "abs/ok" {
		t.Errorf("layerPath(/abs/ok) = %q, %v", p, ok)
	}
	if p, ok := layerPath("a/../../x"); ok {
		t.Errorf("layerPath(a/../../x) = %q, %v", p, ok)
	}
}
