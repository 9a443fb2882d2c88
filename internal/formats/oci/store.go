// Package oci reads container images for hashr-extract: OCI image layouts
// (a directory, or such a directory packed in a tar) and "docker save"
// archives. go-containerregistry parses the manifests; the layer walk is
// ours, because its flattening (mutate.Extract) mishandles hard links and
// opaque directories. Registries are hashr-fetch's business: it turns an
// oci:// image into an OCI layout directory, which this package reads.
//
// Every byte is untrusted: manifests are read within size limits, blobs
// are checked against their digests, and layer tars go through the same
// tar walker and name cleaning as any other archive.
package oci

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/hashr-dev/hashr/internal/formats/archive"
)

const (
	// maxJSONSize bounds every manifest, index and config read: real ones
	// are a few KiB.
	maxJSONSize = 4 << 20
	// maxTarMembers bounds the members of an image tar indexed: an image
	// has a handful per layer.
	maxTarMembers = 1 << 16
)

// blobStore is where an image's files are: blobs by digest, and the few
// named files at the top (index.json, manifest.json).
type blobStore interface {
	// file opens a file by its path inside the image, "/"-separated.
	file(name string) (io.ReadCloser, int64, error)
}

// errNotFound is a file the image does not have.
var errNotFound = errors.New("not in the image")

// blobPath is where an OCI layout keeps a blob.
func blobPath(d v1.Hash) string {
	return "blobs/" + d.Algorithm + "/" + d.Hex
}

// readJSONFile reads a small file of the image whole.
func readJSONFile(s blobStore, name string) ([]byte, error) {
	r, size, err := s.file(name)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if size > maxJSONSize {
		return nil, archive.Corrupt("oci", -1, fmt.Sprintf("%s is %d bytes, more than any manifest needs", name, size))
	}
	b, err := io.ReadAll(io.LimitReader(r, maxJSONSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, archive.Truncated("oci", -1, err))
	}
	if len(b) > maxJSONSize {
		return nil, archive.Corrupt("oci", -1, name+" is larger than any manifest needs")
	}
	return b, nil
}

// dirStore is an OCI image layout directory.
type dirStore struct {
	root *os.Root // confines every open to the layout, whatever its names
}

func newDirStore(dir string) (*dirStore, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("opening the image layout %s: %w", dir, err)
	}
	return &dirStore{root: root}, nil
}

func (d *dirStore) file(name string) (io.ReadCloser, int64, error) {
	f, err := d.root.Open(filepath.FromSlash(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, fmt.Errorf("%s: %w", name, errNotFound)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("opening %s: %w", name, err)
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, 0, archive.Corrupt("oci", -1, name+" is not a regular file")
	}
	return f, st.Size(), nil
}

func (d *dirStore) Close() error { return d.root.Close() }

// tarStore is an image packed in a tar (an OCI layout tar, a docker
// archive): its members are indexed once, then read in place.
type tarStore struct {
	r       io.ReaderAt
	members map[string]tarMember
}

type tarMember struct {
	offset, size int64
}

// newTarStore indexes the regular members of the tar in r. Hard links
// (docker save links identical layers) point at their target's bytes.
func newTarStore(r io.ReaderAt, size int64) (*tarStore, error) {
	cr := &offsetReader{r: io.NewSectionReader(r, 0, size)}
	tr := tar.NewReader(cr)
	s := &tarStore{r: r, members: map[string]tarMember{}}
	for n := 0; ; n++ {
		if n >= maxTarMembers {
			return nil, archive.Corrupt("oci", cr.n, fmt.Sprintf("more than %d members: not a container image", maxTarMembers))
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			return s, nil
		}
		if err != nil {
			return nil, archive.Corrupt("tar", cr.n, err.Error())
		}
		name := cleanStoreName(hdr.Name)
		switch hdr.Typeflag {
		case tar.TypeReg: // archive/tar reports a legacy TypeRegA file as TypeReg
			// archive/tar has read the header blocks and no more: the
			// member's bytes start where the reader stands.
			if hdr.Size < 0 || cr.n+hdr.Size > size {
				return nil, archive.Corrupt("tar", cr.n, name+": truncated")
			}
			s.members[name] = tarMember{offset: cr.n, size: hdr.Size}
		case tar.TypeLink:
			if m, ok := s.members[cleanStoreName(hdr.Linkname)]; ok {
				s.members[name] = m
			}
		}
	}
}

func cleanStoreName(name string) string {
	return strings.TrimPrefix(path.Clean("/"+name), "/")
}

func (s *tarStore) file(name string) (io.ReadCloser, int64, error) {
	m, ok := s.members[cleanStoreName(name)]
	if !ok {
		return nil, 0, fmt.Errorf("%s: %w", name, errNotFound)
	}
	return io.NopCloser(io.NewSectionReader(s.r, m.offset, m.size)), m.size, nil
}

// offsetReader knows where it stands, so the tar index knows where each
// member's bytes start; it seeks, so archive/tar skips members' bytes
// rather than reading them.
type offsetReader struct {
	r *io.SectionReader
	n int64
}

func (o *offsetReader) Read(p []byte) (int, error) {
	n, err := o.r.Read(p)
	o.n += int64(n)
	return n, err
}

func (o *offsetReader) Seek(offset int64, whence int) (int64, error) {
	n, err := o.r.Seek(offset, whence)
	if err == nil {
		o.n = n
	}
	return n, err
}
