package oci

import (
	"io"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Image annotations that name an image: the OCI one (often just a tag,
// "latest", or a full reference), and containerd's (always a full
// reference, "docker.io/library/alpine:3.19").
const (
	annotationRefName       = "org.opencontainers.image.ref.name"
	annotationContainerdRef = "io.containerd.image.name"
)

// refName is the reference a descriptor's annotations give it: the
// fuller of the two annotations that can name it.
func refName(desc v1.Descriptor) string {
	if ref := desc.Annotations[annotationContainerdRef]; ref != "" {
		return ref
	}
	return desc.Annotations[annotationRefName]
}

// ImageIdentity is what a layout says of one of its images.
type ImageIdentity struct {
	Ref      string // its reference as annotated ("alpine:3.19", or a bare tag "latest"); "" when none
	Digest   string // its manifest's digest, "sha256:…" (a docker archive's: its image ID)
	Platform string // "linux/arm64/v8", "" when neither its index nor its config says
}

// LayoutImages returns the identity of each image of the OCI image
// layout dir, reading its index.json, manifests and configs alone (each
// checked against its digest).
func LayoutImages(dir string) ([]ImageIdentity, error) {
	s, err := newDirStore(dir)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	imgs, err := images(s, Layout, nil)
	if err != nil {
		return nil, err
	}
	return identities(imgs), nil
}

// ArchiveImages returns the identity of each image of an OCI layout tar
// or a docker archive (format) of size bytes in r, reading the tar's
// headers and its manifests and configs alone. A docker archive's image
// is named by its first RepoTags entry and its image ID (its config's
// digest): docker save keeps no manifest digest.
func ArchiveImages(r io.ReaderAt, size int64, format Format) ([]ImageIdentity, error) {
	s, err := newTarStore(r, size)
	if err != nil {
		return nil, err
	}
	return identitiesIn(s, format)
}

// identitiesIn is the identity of each image of format in s.
func identitiesIn(s blobStore, format Format) ([]ImageIdentity, error) {
	imgs, err := images(s, format, nil)
	if err != nil {
		return nil, err
	}
	return identities(imgs), nil
}

func identities(imgs []image) []ImageIdentity {
	out := make([]ImageIdentity, len(imgs))
	for i, img := range imgs {
		out[i] = ImageIdentity{Ref: strings.TrimSpace(img.ref), Digest: img.id, Platform: img.platform}
	}
	return out
}

// PlatformOS is the operating system of a platform as ImageIdentity
// writes it ("windows/amd64:10.0.17763.5329"): its os and os.version
// ("windows 10.0.17763.5329"), or its os alone ("linux"); "" for none.
func PlatformOS(platform string) string {
	if platform == "" {
		return ""
	}
	p, err := v1.ParsePlatform(platform)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(p.OS + " " + p.OSVersion)
}
