package oci

import (
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
	Digest   string // its manifest's digest, "sha256:…"
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
	out := make([]ImageIdentity, len(imgs))
	for i, img := range imgs {
		out[i] = ImageIdentity{Ref: strings.TrimSpace(img.ref), Digest: img.id, Platform: img.platform}
	}
	return out, nil
}
