package identity

import (
	"bytes"
	"errors"
	"io"

	"github.com/hashr-dev/hashr/internal/formats/decompress"
	"github.com/hashr-dev/hashr/internal/formats/oci"
	"github.com/hashr-dev/hashr/internal/magic"
	"github.com/hashr-dev/hashr/pkg/records"
)

// maxImageRatio bounds how many times its size a compressed image tar is
// read through for its manifests (image layers compress a few times
// over), so a decompression bomb costs bounded time, not hours.
const maxImageRatio = 100

// File names the source in r (size bytes, of the format hashr-scan
// detected) from its own metadata: a .deb's control file, an RPM's
// header, the manifests of an image tar (a docker archive or an OCI
// layout tar, or a compressed "tar" whose first bytes decompressed are an
// image tar's, its telling member further on). An image tar that is
// compressed is read through its decompressor to its end: the caller
// says whether it can afford that (hashr-scan, which reads a source's
// first bytes, does not; hashr-fetch, which reads them all to hash them,
// does). nil when the
// format names no package, or its metadata cannot be read (hashr-extract
// reports what is broken in it).
func File(r io.ReaderAt, size int64, format string) *records.Package {
	var p *records.Package
	switch format {
	case magic.Deb:
		p, _ = Deb(io.NewSectionReader(r, 0, size))
	case magic.RPM:
		p, _ = RPM(io.NewSectionReader(r, 0, size))
	case magic.DockerArchive, magic.OCI:
		kind := oci.Layout
		if format == magic.DockerArchive {
			kind = oci.DockerArchive
		}
		if imgs, err := imageTar(r, size, kind); err == nil {
			p = OCILayout(imgs)
		}
	case magic.Tar:
		if imgs, err := compressedImageTar(r, size); err == nil {
			p = OCILayout(imgs)
		}
	}
	return p
}

// errNoImage: a tar that does not start as an image tar does.
var errNoImage = errors.New("not an image tar")

// compressedImageTar reads the identity of the images of a compressed tar
// that hashr-scan could not tell from a plain one: its first bytes,
// decompressed, hold only what an image tar holds (magic.MayBeImageTar),
// and the member that tells (manifest.json, index.json) comes later. A
// tar that starts otherwise costs its first bytes' decompression alone.
func compressedImageTar(r io.ReaderAt, size int64) ([]oci.ImageIdentity, error) {
	var head [decompress.HeadSize]byte
	n, _ := r.ReadAt(head[:], 0)
	method := decompress.Detect(head[:n])
	if method == decompress.None {
		return nil, errNoImage // a plain tar's images are scan's to tell
	}
	dr, err := decompress.NewReader(method, io.NewSectionReader(r, 0, size))
	if err != nil {
		return nil, err
	}
	defer dr.Close()
	start := make([]byte, magic.HeadSize)
	got, err := io.ReadFull(dr, start)
	if err != nil && err != io.ErrUnexpectedEOF {
		return nil, err
	}
	if got < len(start) || !magic.MayBeImageTar(start) {
		return nil, errNoImage // whole in its head, scan would have told it
	}
	limit := max(1<<30, size*maxImageRatio)
	return oci.StreamAnyImages(io.MultiReader(bytes.NewReader(start), io.LimitReader(dr, limit)))
}

// imageTar reads the identity of the images of an image tar, plain (its
// members read in place) or compressed (read through once).
func imageTar(r io.ReaderAt, size int64, kind oci.Format) ([]oci.ImageIdentity, error) {
	var head [decompress.HeadSize]byte
	n, _ := r.ReadAt(head[:], 0)
	method := decompress.Detect(head[:n])
	if method == decompress.None {
		return oci.ArchiveImages(r, size, kind)
	}
	dr, err := decompress.NewReader(method, io.NewSectionReader(r, 0, size))
	if err != nil {
		return nil, err
	}
	defer dr.Close()
	limit := max(1<<30, size*maxImageRatio)
	return oci.StreamImages(io.LimitReader(dr, limit), kind)
}
