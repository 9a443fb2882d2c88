package magic

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/hashr-dev/hashr/internal/regular"
)

// Container images: a docker archive ("docker save", "skopeo copy
// docker-archive:") is a tar with a manifest.json at its top; an OCI image
// layout is a directory with an oci-layout file and an index.json, or such
// a directory packed in a tar.

const (
	// maxTarEntries bounds the tar headers read; a container image tar
	// has a few per layer.
	maxTarEntries = 4096
	// maxManifestSize bounds the manifest.json or oci-layout read.
	maxManifestSize = 1 << 20
)

// classifyTar walks the headers of a tar and tells whether it is a docker
// archive (a valid manifest.json at the top; newer "docker save" writes an
// OCI layout too, and is still a docker archive), an OCI layout, or a
// plain tar. It gives up, saying "tar", at the first entry a container
// image would not have, so an ordinary tar costs a header or two.
func classifyTar(r io.Reader) string {
	format, _ := tarVerdict(r)
	return format
}

// MayBeImageTar reports whether head, the first bytes of a tar that goes
// on past them (a compressed one's, decompressed), could start a
// container image: every entry in it is one an image tar holds, and the
// files that tell (a docker archive's manifest.json, which "docker save"
// writes after the layers; an OCI layout's index.json, after the blobs)
// may come later. Only the whole tar tells then.
func MayBeImageTar(head []byte) bool {
	format, final := tarVerdict(cutShort{bytes.NewReader(head)})
	return format == Tar && !final
}

// cutShort reads the head of a longer stream: its end is no end (a head
// cut at a header would otherwise read as the tar's), but bytes cut short.
type cutShort struct{ r io.Reader }

func (c cutShort) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// tarVerdict is classifyTar's answer, and whether it is final: false
// when the walk stopped, at bytes it could not read past a first entry or
// at maxTarEntries, with every entry so far one an image tar holds.
func tarVerdict(r io.Reader) (format string, final bool) {
	tr := tar.NewReader(r)
	var layout, index bool
	for n := range maxTarEntries {
		hdr, err := tr.Next()
		if err != nil {
			// The end, or bytes we cannot read: judge what we saw. Nothing
			// after them tells more, unless they cut a tar short.
			final = err == io.EOF || n == 0
			break
		}
		name, ok := containerEntry(hdr.Name)
		if !ok {
			return Tar, true
		}
		regular := hdr.Typeflag == tar.TypeReg
		switch name {
		case "manifest.json":
			if regular && isDockerManifest(io.LimitReader(tr, maxManifestSize)) {
				return DockerArchive, true
			}
		case "oci-layout":
			layout = layout || regular && isOCILayoutFile(io.LimitReader(tr, maxManifestSize))
		case "index.json":
			index = index || regular
		}
	}
	if layout && index {
		return OCI, true
	}
	return Tar, final
}

// containerEntry cleans a tar entry name and reports whether a container
// image tar could hold it: its top-level files, blobs/, and the
// <64 hex>/ directories, <64 hex>.json/.tar files and sha256:<64 hex>
// configs of docker archives.
func containerEntry(name string) (string, bool) {
	name = strings.TrimPrefix(path.Clean("/"+name), "/")
	if name == "" {
		return name, true // the archive's root directory, "./"
	}
	top, _, _ := strings.Cut(name, "/")
	switch top {
	case "manifest.json", "repositories", "index.json", "oci-layout", "blobs":
		return name, true
	}
	// go-containerregistry (crane, ko) names a docker archive's config
	// "sha256:<hex>".
	top = strings.TrimPrefix(top, "sha256:")
	return name, len(top) >= 64 && isHex(top[:64])
}

func isHex(s string) bool {
	for i := range len(s) {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// isDockerManifest checks a docker archive's manifest.json: a list of
// images, each naming its config and its layers (RepoTags may be absent or
// null for an image saved by ID).
func isDockerManifest(r io.Reader) bool {
	var images []struct {
		Config *string
		Layers *[]string
	}
	if err := json.NewDecoder(r).Decode(&images); err != nil || len(images) == 0 {
		return false
	}
	for _, img := range images {
		if img.Config == nil || *img.Config == "" || img.Layers == nil {
			return false
		}
	}
	return true
}

// isOCILayoutFile checks an oci-layout file: {"imageLayoutVersion": "1.0.0"}.
func isOCILayoutFile(r io.Reader) bool {
	var layout struct {
		ImageLayoutVersion *string `json:"imageLayoutVersion"`
	}
	err := json.NewDecoder(r).Decode(&layout)
	return err == nil && layout.ImageLayoutVersion != nil
}

// IsOCILayoutDir reports whether dir is an OCI image layout: it holds a
// valid oci-layout file and an index.json. The error is for files that
// exist but cannot be read. An oci-layout that is not a regular file (a
// FIFO, whose open(2) would wait for a writer forever) is not read: dir
// is then no layout.
func IsOCILayoutDir(dir string) (bool, error) {
	layoutPath := filepath.Join(dir, "oci-layout")
	f, info, err := regular.Open(layoutPath)
	var notAFile *regular.NotAFileError
	if errors.Is(err, fs.ErrNotExist) || errors.As(err, &notAFile) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("opening %s: %w", layoutPath, err)
	}
	defer f.Close()
	if !info.Mode().IsRegular() {
		return false, nil
	}
	if !isOCILayoutFile(io.LimitReader(f, maxManifestSize)) {
		return false, nil
	}
	fi, err := os.Stat(filepath.Join(dir, "index.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("checking %s: %w", filepath.Join(dir, "index.json"), err)
	}
	return fi.Mode().IsRegular(), nil
}
