package oci

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"

	"github.com/hashr-dev/hashr/internal/formats/archive"
)

// maxStreamJSON bounds the JSON members StreamImages keeps in memory in
// all: an image's index, manifests and configs are a few KiB each.
const maxStreamJSON = 64 << 20

// StreamImages is ArchiveImages for an image tar read once, front to
// back (a compressed docker save or OCI layout tar, through its
// decompressor): its JSON members are kept, the rest (the layers) read
// past, and the images resolved from what was kept when the tar ends.
// A docker archive writes manifest.json after its layers, so no earlier
// point would do.
func StreamImages(r io.Reader, format Format) ([]ImageIdentity, error) {
	s, err := newJSONStore(r)
	if err != nil {
		return nil, err
	}
	return identitiesIn(s, format)
}

// StreamAnyImages is StreamImages for an image tar of a kind not yet
// known (a compressed tar whose telling member comes after its first
// bytes): read once, it is a docker archive when it holds manifest.json,
// else an OCI layout.
func StreamAnyImages(r io.Reader) ([]ImageIdentity, error) {
	s, err := newJSONStore(r)
	if err != nil {
		return nil, err
	}
	format := Layout
	if _, ok := s["manifest.json"]; ok {
		format = DockerArchive
	}
	return identitiesIn(s, format)
}

// jsonStore holds the JSON members of an image tar: every file the
// identity of its images is read from.
type jsonStore map[string][]byte

func newJSONStore(r io.Reader) (jsonStore, error) {
	tr := tar.NewReader(r)
	s := jsonStore{}
	var kept int64
	for n := 0; ; n++ {
		if n >= maxTarMembers {
			return nil, archive.Corrupt("oci", -1, fmt.Sprintf("more than %d members: not a container image", maxTarMembers))
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			return s, nil
		}
		if err != nil {
			return nil, archive.Corrupt("tar", -1, err.Error())
		}
		name := cleanStoreName(hdr.Name)
		switch {
		case hdr.Typeflag == tar.TypeLink:
			if b, ok := s[cleanStoreName(hdr.Linkname)]; ok {
				s[name] = b
			}
		case hdr.Typeflag == tar.TypeReg && hdr.Size <= maxJSONSize && kept+hdr.Size <= maxStreamJSON:
			b, err := io.ReadAll(tr)
			if err != nil {
				return nil, archive.Corrupt("tar", -1, name+": "+err.Error())
			}
			if t := bytes.TrimLeft(b, " \t\r\n"); len(t) > 0 && (t[0] == '{' || t[0] == '[') {
				s[name] = b
				kept += int64(len(b))
			}
		}
	}
}

func (s jsonStore) file(name string) (io.ReadCloser, int64, error) {
	b, ok := s[cleanStoreName(name)]
	if !ok {
		return nil, 0, fmt.Errorf("%s: %w", name, errNotFound)
	}
	return io.NopCloser(bytes.NewReader(b)), int64(len(b)), nil
}
