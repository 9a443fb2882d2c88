// Package ocitest builds, with go-containerregistry's own API, a container
// image whose layers exercise what a flattening reader gets wrong: a file
// deleted by a whiteout, an opaque directory, a file replaced, and hard
// links within a layer and into a lower one. It writes it as an OCI layout
// directory, an OCI layout tar and a docker archive, and says which files
// each walk must find.
package ocitest

import (
	"archive/tar"
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Member is one entry of a layer tar.
type Member struct {
	Name     string
	Body     string // a regular file's bytes
	Typeflag byte   // tar.TypeReg when zero
	Linkname string
	Size     int64 // a regular file's size when Body is not all of it (a header that lies)
}

// Layers are the image's layers, bottom first.
var Layers = [][]Member{
	{
		{Name: "etc/", Typeflag: tar.TypeDir},
		{Name: "etc/passwd", Body: "root:x:0:0\n"},
		{Name: "etc/keep", Body: "kept\n"},
		{Name: "bin/tool", Body: "tool bytes\n"},
		{Name: "bin/tool-link", Typeflag: tar.TypeLink, Linkname: "bin/tool"},
		{Name: "opt/old/a", Body: "a\n"},
		{Name: "opt/old/b", Body: "b\n"},
		{Name: "var/gone", Body: "deleted later\n"},
	},
	{
		{Name: "var/.wh.gone"},
		{Name: "opt/old/.wh..wh..opq"},
		{Name: "opt/old/c", Body: "c\n"},
		{Name: "etc/passwd", Body: "root:x:0:0\nuser:x:1000:1000\n"},
		{Name: "usr/bin/tool2", Typeflag: tar.TypeLink, Linkname: "bin/tool"},
	},
	{
		{Name: "bin/.wh.tool"},
		{Name: "./new/file", Body: "new\n"},
		{Name: "s", Typeflag: tar.TypeSymlink, Linkname: "etc"},
	},
}

// Flattened is the final file system's files and their bytes.
var Flattened = map[string]string{
	"etc/passwd":    "root:x:0:0\nuser:x:1000:1000\n",
	"etc/keep":      "kept\n",
	"bin/tool-link": "tool bytes\n",
	"usr/bin/tool2": "tool bytes\n",
	"opt/old/c":     "c\n",
	"new/file":      "new\n",
}

// ByLayer is every file of every layer, as <layer digest>/<path>, for the
// layers' digests as the image names them.
func ByLayer(digests []string) map[string]string {
	return map[string]string{
		digests[0] + "/etc/passwd":    "root:x:0:0\n",
		digests[0] + "/etc/keep":      "kept\n",
		digests[0] + "/bin/tool":      "tool bytes\n",
		digests[0] + "/bin/tool-link": "tool bytes\n",
		digests[0] + "/opt/old/a":     "a\n",
		digests[0] + "/opt/old/b":     "b\n",
		digests[0] + "/var/gone":      "deleted later\n",
		digests[1] + "/opt/old/c":     "c\n",
		digests[1] + "/etc/passwd":    "root:x:0:0\nuser:x:1000:1000\n",
		digests[1] + "/usr/bin/tool2": "tool bytes\n",
		digests[2] + "/new/file":      "new\n",
	}
}

// LayerTar is one layer's uncompressed tar.
func LayerTar(t testing.TB, members []Member) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	when := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	for _, m := range members {
		hdr := &tar.Header{Name: m.Name, Typeflag: m.Typeflag, Linkname: m.Linkname, Mode: 0o644, ModTime: when, Format: tar.FormatPAX, Size: m.Size}
		if hdr.Typeflag == 0 {
			hdr.Typeflag = tar.TypeReg
		}
		if hdr.Typeflag == tar.TypeReg && m.Size == 0 {
			hdr.Size = int64(len(m.Body))
		}
		if hdr.Typeflag == tar.TypeDir {
			hdr.Mode = 0o755
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, m.Body); err != nil {
			t.Fatal(err)
		}
		if hdr.Typeflag == tar.TypeReg && hdr.Size > int64(len(m.Body)) {
			return buf.Bytes() // the tar ends inside this member
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Image builds the image of Layers for linux/amd64 (arch, if given,
// instead), its layers gzipped.
func Image(t testing.TB, arch ...string) v1.Image {
	t.Helper()
	return ImageOf(t, Layers, true, arch...)
}

// ImageOf builds an image of the layers given, gzipped or not.
func ImageOf(t testing.TB, members [][]Member, gzipped bool, arch ...string) v1.Image {
	t.Helper()
	var layers []v1.Layer
	for _, m := range members {
		b := LayerTar(t, m)
		var l v1.Layer
		var err error
		if gzipped {
			l, err = tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil },
				tarball.WithMediaType(types.OCILayer))
		} else {
			l = static.NewLayer(b, types.OCIUncompressedLayer)
		}
		if err != nil {
			t.Fatal(err)
		}
		layers = append(layers, l)
	}
	// OCI media types throughout, as umoci wants them.
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.AppendLayers(base, layers...)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	if len(arch) > 0 {
		cf.Architecture = arch[0]
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	return img
}

// LayerDigests are the digests of img's layers as its manifest names them.
func LayerDigests(t testing.TB, img v1.Image) []string {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range m.Layers {
		out = append(out, l.Digest.String())
	}
	return out
}

// DiffIDs are the digests of img's uncompressed layers, which name them in
// a docker archive.
func DiffIDs(t testing.TB, img v1.Image) []string {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range cf.RootFS.DiffIDs {
		out = append(out, d.String())
	}
	return out
}

// WriteLayout writes imgs as an OCI image layout directory, each tagged
// "latest" (as umoci and skopeo name images in layouts).
func WriteLayout(t testing.TB, dir string, imgs ...v1.Image) {
	t.Helper()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	for _, img := range imgs {
		cf, _ := img.ConfigFile()
		if err := p.AppendImage(img, layout.WithPlatform(v1.Platform{OS: cf.OS, Architecture: cf.Architecture}),
			layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "latest"})); err != nil {
			t.Fatal(err)
		}
	}
}

// WriteIndexLayout writes imgs as one multi-platform index in an OCI
// image layout directory.
func WriteIndexLayout(t testing.TB, dir string, imgs ...v1.Image) {
	t.Helper()
	var idx v1.ImageIndex = empty.Index
	for _, img := range imgs {
		cf, _ := img.ConfigFile()
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: cf.OS, Architecture: cf.Architecture}}})
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendIndex(idx); err != nil {
		t.Fatal(err)
	}
}

// TarDir packs a directory into a tar file, as "tar -C dir -cf file ." does.
func TarDir(t testing.TB, dir, file string) {
	t.Helper()
	out, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(out)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		hdr, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if d.IsDir() {
			hdr.Name += "/"
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if d.Type().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.Copy(tw, f)
			return err
		}
		return nil
	})
	if err == nil {
		err = tw.Close()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
}

// WriteDockerArchive writes img as "docker save" would, tagged tag.
func WriteDockerArchive(t testing.TB, file, tag string, img v1.Image) {
	t.Helper()
	ref, err := name.NewTag(tag)
	if err != nil {
		t.Fatal(err)
	}
	if err := tarball.WriteToFile(file, ref, img); err != nil {
		t.Fatal(err)
	}
}
