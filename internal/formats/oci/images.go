package oci

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/hashr-dev/hashr/internal/formats/archive"
)

const (
	// maxIndexDepth bounds indexes inside indexes (an OCI layout's
	// index.json naming a multi-platform index is depth 2).
	maxIndexDepth = 4
	// maxImages bounds the images one source may hold.
	maxImages = 256
	// maxLayers bounds the layers of one image; Docker allows 127.
	maxLayers = 1024
)

// image is one image of a source: one platform of an index, or one entry
// of a docker archive's manifest.json.
type image struct {
	id       string // its manifest's digest, or a docker archive's config digest
	platform string // "linux/amd64", "" when unknown
	ref      string // the reference an index annotates it with, "" when none
	layers   []layer
}

// layer is one layer of an image and how to check its bytes.
type layer struct {
	digest v1.Hash // names the layer in paths: the blob digest, or a docker archive's diff ID
	file   string  // where its bytes are in the store
	// compressedDigest: digest is the SHA-256 of the bytes as stored (an
	// OCI blob); otherwise of the uncompressed tar (a docker archive's
	// diff ID).
	compressedDigest bool
	mediaType        types.MediaType
}

// Format is the kind of image container a store holds.
type Format int

const (
	// Layout is an OCI image layout (index.json, blobs/).
	Layout Format = iota
	// DockerArchive is "docker save" output (manifest.json).
	DockerArchive
)

// images lists the images of a store, those of the wanted platform only
// when want is set.
func images(s blobStore, format Format, want *v1.Platform) ([]image, error) {
	var imgs []image
	var err error
	if format == DockerArchive {
		imgs, err = dockerImages(s, want)
	} else {
		r := &resolver{s: s, want: want, seen: map[v1.Hash]bool{}}
		var b []byte
		if b, err = readJSONFile(s, "index.json"); err == nil {
			err = r.index(b, 0)
		}
		imgs = r.images
	}
	if err != nil {
		return nil, err
	}
	if len(imgs) == 0 {
		if want != nil {
			return nil, fmt.Errorf("no image for platform %s", want)
		}
		return nil, archive.Corrupt("oci", -1, "no image in it")
	}
	return imgs, nil
}

// resolver walks an OCI layout's indexes down to its images.
type resolver struct {
	s      blobStore
	want   *v1.Platform
	seen   map[v1.Hash]bool
	images []image
	ref    string // the reference of the descriptor being resolved
}

func (r *resolver) index(b []byte, depth int) error {
	if depth > maxIndexDepth {
		return archive.Corrupt("oci", -1, fmt.Sprintf("indexes nested more than %d deep", maxIndexDepth))
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(b))
	if err != nil {
		return archive.Corrupt("oci", -1, "index: "+err.Error())
	}
	for _, desc := range idx.Manifests {
		if r.seen[desc.Digest] || skipped(desc) {
			continue
		}
		r.seen[desc.Digest] = true
		if r.want != nil && desc.Platform != nil && !desc.Platform.Satisfies(*r.want) {
			continue
		}
		b, err := r.blob(desc)
		if err != nil {
			return err
		}
		outer := r.ref
		if ref := refName(desc); ref != "" {
			r.ref = ref // an index's images are named by the index's reference
		}
		switch kind := manifestKind(desc.MediaType, b); kind {
		case "index":
			if err := r.index(b, depth+1); err != nil {
				return err
			}
		case "image":
			img, err := r.image(desc, b)
			if err != nil {
				return err
			}
			if img != nil {
				if len(r.images) >= maxImages {
					return archive.Corrupt("oci", -1, fmt.Sprintf("more than %d images", maxImages))
				}
				r.images = append(r.images, *img)
			}
		}
		// Anything else (an artifact: a signature, an SBOM) has no file
		// system to walk.
		r.ref = outer
	}
	return nil
}

// skipped says whether a descriptor is one no file system comes from:
// BuildKit's attestation manifests ride in indexes as platform
// unknown/unknown.
func skipped(desc v1.Descriptor) bool {
	if desc.Annotations["vnd.docker.reference.type"] == "attestation-manifest" {
		return true
	}
	return desc.Platform != nil && desc.Platform.OS == "unknown"
}

// manifestKind tells an index from an image manifest, by media type or,
// when the descriptor does not say, by the document's own fields.
func manifestKind(mt types.MediaType, b []byte) string {
	switch {
	case mt.IsIndex():
		return "index"
	case mt.IsImage():
		return "image"
	case mt != "":
		return ""
	}
	var doc struct {
		MediaType types.MediaType `json:"mediaType"`
		Manifests json.RawMessage `json:"manifests"`
		Layers    json.RawMessage `json:"layers"`
	}
	if json.Unmarshal(b, &doc) != nil {
		return ""
	}
	switch {
	case doc.MediaType.IsIndex() || doc.Manifests != nil:
		return "index"
	case doc.MediaType.IsImage() || doc.Layers != nil:
		return "image"
	}
	return ""
}

// blob reads a manifest or config blob and checks it against its digest.
func (r *resolver) blob(desc v1.Descriptor) ([]byte, error) {
	return readBlob(r.s, desc.Digest)
}

func readBlob(s blobStore, d v1.Hash) ([]byte, error) {
	if d.Algorithm != "sha256" || len(d.Hex) != 64 {
		return nil, archive.Corrupt("oci", -1, fmt.Sprintf("digest %q: only sha256 digests are supported", d))
	}
	b, err := readJSONFile(s, blobPath(d))
	if err != nil {
		return nil, err
	}
	if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != d.Hex {
		return nil, archive.Corrupt("oci", -1, fmt.Sprintf("blob %s does not match its digest", d))
	}
	return b, nil
}

func (r *resolver) image(desc v1.Descriptor, b []byte) (*image, error) {
	m, err := v1.ParseManifest(bytes.NewReader(b))
	if err != nil {
		return nil, archive.Corrupt("oci", -1, fmt.Sprintf("manifest %s: %v", desc.Digest, err))
	}
	if len(m.Layers) > maxLayers {
		return nil, archive.Corrupt("oci", -1, fmt.Sprintf("manifest %s has %d layers", desc.Digest, len(m.Layers)))
	}
	platform := desc.Platform
	if platform == nil || r.want != nil {
		// The index does not say: the config does.
		if cb, err := readBlob(r.s, m.Config.Digest); err == nil {
			if cf, err := v1.ParseConfigFile(bytes.NewReader(cb)); err == nil && cf.OS != "" {
				platform = cf.Platform()
			}
		}
	}
	if r.want != nil && (platform == nil || !platform.Satisfies(*r.want)) {
		return nil, nil
	}
	img := &image{id: desc.Digest.String(), ref: r.ref}
	if platform != nil {
		img.platform = platform.String()
	}
	for _, l := range m.Layers {
		if !isLayer(l.MediaType) {
			continue
		}
		img.layers = append(img.layers, layer{digest: l.Digest, file: blobPath(l.Digest), compressedDigest: true, mediaType: l.MediaType})
	}
	return img, nil
}

// isLayer says whether a layer descriptor holds a file system tar (and not,
// say, an artifact's payload).
func isLayer(mt types.MediaType) bool {
	s := string(mt)
	return strings.Contains(s, ".tar") || strings.Contains(s, ".rootfs.") || s == ""
}

// dockerManifest is one entry of a docker archive's manifest.json.
type dockerManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

func dockerImages(s blobStore, want *v1.Platform) ([]image, error) {
	b, err := readJSONFile(s, "manifest.json")
	if err != nil {
		return nil, err
	}
	var entries []dockerManifest
	if err := json.Unmarshal(b, &entries); err != nil {
		return nil, archive.Corrupt("docker-archive", -1, "manifest.json: "+err.Error())
	}
	if len(entries) > maxImages {
		return nil, archive.Corrupt("docker-archive", -1, fmt.Sprintf("more than %d images", maxImages))
	}
	var imgs []image
	for _, e := range entries {
		if len(e.Layers) > maxLayers {
			return nil, archive.Corrupt("docker-archive", -1, fmt.Sprintf("%d layers", len(e.Layers)))
		}
		cb, err := readJSONFile(s, e.Config)
		if err != nil {
			return nil, fmt.Errorf("config %s: %w", e.Config, err)
		}
		cf, err := v1.ParseConfigFile(bytes.NewReader(cb))
		if err != nil {
			return nil, archive.Corrupt("docker-archive", -1, fmt.Sprintf("config %s: %v", e.Config, err))
		}
		if len(cf.RootFS.DiffIDs) != len(e.Layers) {
			return nil, archive.Corrupt("docker-archive", -1, fmt.Sprintf("config %s names %d layers, manifest.json %d",
				e.Config, len(cf.RootFS.DiffIDs), len(e.Layers)))
		}
		platform := cf.Platform()
		if want != nil && (platform == nil || !platform.Satisfies(*want)) {
			continue
		}
		sum := sha256.Sum256(cb)
		img := image{id: "sha256:" + hex.EncodeToString(sum[:])}
		if len(e.RepoTags) > 0 {
			img.ref = e.RepoTags[0]
		}
		if cf.OS != "" {
			img.platform = platform.String()
		}
		for i, file := range e.Layers {
			l := layer{digest: cf.RootFS.DiffIDs[i], file: file}
			// Newer docker save keeps layers as OCI blobs, named by the
			// digest of their bytes as stored.
			if d, ok := blobDigest(file); ok {
				l.digest, l.compressedDigest = d, true
			}
			img.layers = append(img.layers, l)
		}
		imgs = append(imgs, img)
	}
	return imgs, nil
}

// blobDigest reads the digest out of a blobs/sha256/<hex> path.
func blobDigest(file string) (v1.Hash, bool) {
	rest, ok := strings.CutPrefix(cleanStoreName(file), "blobs/")
	if !ok {
		return v1.Hash{}, false
	}
	alg, hx, ok := strings.Cut(rest, "/")
	if !ok {
		return v1.Hash{}, false
	}
	d, err := v1.NewHash(alg + ":" + hx)
	return d, err == nil
}

// labels names each image where several share a source: by platform when
// each has its own, else by manifest digest. A single image needs none.
func labels(imgs []image) []string {
	out := make([]string, len(imgs))
	if len(imgs) == 1 {
		return out
	}
	seen := map[string]bool{}
	byPlatform := true
	for _, img := range imgs {
		if img.platform == "" || seen[img.platform] {
			byPlatform = false
			break
		}
		seen[img.platform] = true
	}
	for i, img := range imgs {
		if byPlatform {
			out[i] = strings.ReplaceAll(img.platform, "/", "-")
		} else {
			out[i] = img.id
		}
	}
	return out
}
