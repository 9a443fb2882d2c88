package oci

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"path"
	"strings"

	"github.com/hashr-dev/hashr/internal/formats/archive"
	"github.com/hashr-dev/hashr/internal/formats/decompress"
	"github.com/hashr-dev/hashr/internal/formats/tar"
)

// openLayer is one layer being read: its blob, checked against its digest
// as it goes by, decompressed, and walked as a tar.
type openLayer struct {
	l     layer
	blob  io.ReadCloser
	raw   *bufio.Reader // the blob's bytes, hashed when the digest is of them
	dec   io.ReadCloser
	inner io.Reader // the layer's tar, hashed when the digest is of it
	sum   hash.Hash
	tar   *tar.Walker
}

func openLayerOf(s blobStore, l layer, meter archive.Meter) (*openLayer, error) {
	if l.digest.Algorithm != "sha256" || len(l.digest.Hex) != 64 {
		return nil, archive.Corrupt("oci", -1, fmt.Sprintf("layer digest %q: only sha256 digests are supported", l.digest))
	}
	blob, _, err := s.file(l.file)
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", l.digest, err)
	}
	ol := &openLayer{l: l, blob: blob, sum: sha256.New()}
	var stored io.Reader = blob
	if l.compressedDigest {
		stored = io.TeeReader(blob, ol.sum)
	}
	ol.raw = bufio.NewReaderSize(stored, decompress.HeadSize)
	head, _ := ol.raw.Peek(decompress.HeadSize)
	method := decompress.Detect(head)
	if method == decompress.LZMA {
		method = decompress.None // lzma's magic is weak, and no image uses it
	}
	if ol.dec, err = decompress.NewReader(method, ol.raw); err != nil {
		blob.Close()
		var dict *decompress.DictTooLargeError
		if errors.As(err, &dict) {
			return nil, fmt.Errorf("layer %s: %w", l.digest, err) // a limit, not corruption
		}
		return nil, archive.Corrupt("oci", -1, fmt.Sprintf("layer %s: %v", l.digest, err))
	}
	ol.inner = archive.Metered(ol.dec, meter)
	if !l.compressedDigest {
		ol.inner = io.TeeReader(ol.inner, ol.sum)
	}
	ol.tar = tar.NewMeteredWalker(layerErrors{ol.inner, l.digest.String()}, meter)
	return ol, nil
}

// finish reads the layer to its end and checks its digest.
func (ol *openLayer) finish() error {
	if err := archive.Drain(ol.inner); err != nil {
		return fmt.Errorf("layer %s: %w", ol.l.digest, archive.Truncated("oci", -1, err))
	}
	if ol.l.compressedDigest {
		if _, err := io.Copy(io.Discard, ol.raw); err != nil {
			return fmt.Errorf("layer %s: %w", ol.l.digest, err)
		}
	}
	if got := hex.EncodeToString(ol.sum.Sum(nil)); got != ol.l.digest.Hex {
		return archive.Corrupt("oci", -1, fmt.Sprintf("layer %s does not match its digest (its bytes hash to sha256:%s)", ol.l.digest, got))
	}
	return nil
}

func (ol *openLayer) close() {
	ol.dec.Close()
	ol.blob.Close()
}

// layerErrors names the layer in errors of its bytes.
type layerErrors struct {
	r     io.Reader
	layer string
}

func (e layerErrors) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("layer %s: %w", e.layer, err)
	}
	return n, err
}

// layerPath cleans a layer member's name: layers name files from the
// image's root, with or without "./" or "/". ok is false for a name that
// climbs out with "..", which is passed on as stored for the caller to
// refuse.
func layerPath(name string) (p string, ok bool) {
	rel := strings.TrimLeft(name, "/")
	clean := path.Clean(rel)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return rel, false
	}
	if clean == "." {
		return "", true
	}
	return clean, true
}

// Whiteouts (OCI image spec, "Whiteouts"): ".wh.NAME" deletes NAME of the
// layers below; ".wh..wh..opq" in a directory hides everything the layers
// below have in it. Other ".wh..wh." names are AUFS bookkeeping.
const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
)

type whiteoutKind int

const (
	notWhiteout whiteoutKind = iota
	deletes                  // target is a path the layers below lose
	opaque                   // target is a directory whose lower contents are hidden
	aufsMeta                 // AUFS bookkeeping (".wh..wh.plnk" and the like): nothing to apply
)

// whiteout says what a layer path marks, if it is a whiteout.
func whiteout(p string) (whiteoutKind, string) {
	dir, base := path.Split(p)
	if !strings.HasPrefix(base, whiteoutPrefix) {
		return notWhiteout, ""
	}
	dir = strings.TrimSuffix(dir, "/")
	switch {
	case base == opaqueMarker:
		return opaque, dir
	case strings.HasPrefix(base, whiteoutPrefix+whiteoutPrefix), base == whiteoutPrefix:
		return aufsMeta, ""
	}
	return deletes, path.Join(dir, strings.TrimPrefix(base, whiteoutPrefix))
}
