package scan

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"

	"github.com/hashr-dev/hashr/internal/formats/archive"
	"github.com/hashr-dev/hashr/internal/formats/bridge"
	"github.com/hashr-dev/hashr/internal/formats/iso9660"
	"github.com/hashr-dev/hashr/internal/formats/wim"
	"github.com/hashr-dev/hashr/internal/identity"
	"github.com/hashr-dev/hashr/internal/magic"
	"github.com/hashr-dev/hashr/pkg/records"
)

// --split-images: HashR's windows importer makes one source of each
// image of an install medium, so that each edition's job stands alone.
// A WIM (or ESD) source becomes one source per image, an install ISO one
// per image of its sources/install.wim or .esd plus one of the rest of
// it (wim_image 0). Each image's id is the file's name, ":" and its
// index; its quick_sha256 the SHA-256 of its wim.ImageKey (the WIM's
// GUID, the index and the SHA-1 of the image's metadata, which holds the
// SHA-1 of every file's data), read from the WIM's header and blob table
// alone; its description the image's name and edition.

// splitImages returns the sources that --split-images makes of src, the
// WIM or install ISO in the size bytes of f, or none: a WIM of no image,
// an ISO without an install image. On an error src stays whole (extract
// then walks, or reports, all of it).
func splitImages(f io.ReaderAt, size int64, format string, src *records.Source) ([]*records.Source, error) {
	switch format {
	case magic.WIM:
		return imageSources(f, size, src, "")
	case magic.ISO9660, magic.UDF:
		ra, wimSize, name, err := findInstallImage(f, size, format)
		if err != nil || ra == nil {
			return nil, err
		}
		images, err := imageSources(ra, wimSize, src, name)
		if err != nil || len(images) == 0 {
			return nil, err
		}
		rest := *src
		rest.WIMImage = records.Int(0)
		rest.ID = src.ID + ":0"
		sum := sha256.Sum256([]byte("without-wim-images:" + src.QuickSHA256))
		rest.QuickSHA256 = hex.EncodeToString(sum[:])
		rest.Description = "files outside " + name
		rest.Package = nil
		return append([]*records.Source{&rest}, images...), nil
	}
	return nil, nil
}

// imageSources makes a source of each image of the WIM in ra; name is
// where it is in an install ISO, "" for a WIM source.
func imageSources(ra io.ReaderAt, size int64, src *records.Source, name string) ([]*records.Source, error) {
	where := "the WIM"
	if name != "" {
		where = name
	}
	keys, err := wim.ReadImageKeys(ra, size)
	if err != nil {
		return nil, fmt.Errorf("reading the images of %s: %w", where, err)
	}
	infos, err := wim.ReadImages(ra, size)
	if err != nil {
		return nil, fmt.Errorf("reading the image names of %s: %w", where, err)
	}
	var out []*records.Source
	for _, k := range keys {
		img := *src
		img.WIMImage = records.Int(k.Index)
		img.ID = src.ID + ":" + strconv.Itoa(k.Index)
		sum := sha256.Sum256([]byte(k.String()))
		img.QuickSHA256 = hex.EncodeToString(sum[:])
		img.Description = "image " + strconv.Itoa(k.Index)
		img.Package = nil
		if k.Index <= len(infos) {
			if label := infos[k.Index-1].Label(); label != "" {
				img.Description = label
			}
			img.Package = identity.WIMImage(infos[k.Index-1])
		}
		if name != "" {
			img.Description += " (" + name + ")"
		}
		out = append(out, &img)
	}
	return out, nil
}

// findInstallImage finds an install ISO's install image (the first
// sources/install.wim or .esd, as hashr-extract takes it) and returns it
// for reading at random, with its size and path; nil if there is none.
// A UDF disc is looked at in the tree hashr-extract walks (package
// bridge): its UDF tree, the only one with files on Windows media.
func findInstallImage(f io.ReaderAt, size int64, format string) (io.ReaderAt, int64, string, error) {
	var w archive.Walker
	var err error
	if format == magic.UDF {
		var t *bridge.Tree
		if t, err = bridge.Open(f, size); err == nil {
			w = t.W
			if t.UDFErr != nil {
				// Its ISO 9660 tree may hold fewer files than the disc:
				// one source, for extract to walk and report.
				return nil, 0, "", nil
			}
		}
	} else {
		w, err = iso9660.NewWalker(f, size)
	}
	if err != nil {
		return nil, 0, "", nil // broken: one source, for extract to report
	}
	at, ok := w.(archive.RandomAccess)
	if !ok {
		return nil, 0, "", fmt.Errorf("the %s reader cannot read a file in place", format)
	}
	for {
		e, err := w.Next()
		if errors.Is(err, io.EOF) {
			return nil, 0, "", nil
		}
		if err != nil {
			return nil, 0, "", fmt.Errorf("looking for sources/install.wim in the ISO: %w", err)
		}
		name := path.Clean(strings.TrimPrefix(e.Name, "/"))
		if e.Type == archive.Regular && wim.IsInstallImage(name) {
			ra, n, err := at.OpenAt()
			if err != nil {
				return nil, 0, "", fmt.Errorf("reading %s in the ISO: %w", name, err)
			}
			return ra, n, name, nil
		}
	}
}
