// Package wim walks Windows Imaging (WIM) files — install.wim, install.esd,
// boot.wim — without mounting them: every image in the file, each under
// its index ("1/Windows/System32/…"), with the image's name and edition
// from the WIM's XML.
//
// Resources stored uncompressed, XPRESS and LZX (32 KiB chunks) and solid
// resources (ESD) in those compressions are decoded here in Go. LZMS, and
// LZX with other chunk sizes, are not: NewReader returns an error wrapping
// ErrNeedsWimlib, and the caller converts the file with wimlib-imagex
// (Convert) and walks the result.
//
// Why not a library: go-winio's wim package (v0.6.2, whose LZX decoder
// this package uses) refuses, by its source, a header flag other than
// LZX compression (so XPRESS-compressed WIMs), chunk sizes other than
// 32 KiB, and resource flags other than metadata and compressed (so the
// solid resources of every install.esd).
package wim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hashr-dev/hashr/internal/formats/archive"
)

// Magic starts every WIM file.
const Magic = "MSWIM\x00\x00\x00"

const (
	headerSize = 208

	// Header flags.
	hdrCompressed   = 0x00000002
	hdrSpanned      = 0x00000008
	hdrXPRESS       = 0x00020000
	hdrLZX          = 0x00040000
	hdrLZMS         = 0x00080000
	hdrXPRESSNewer  = 0x00200000 // wimlib's name: XPRESS with other chunk sizes
	reshdrSize      = 24
	blobEntrySize   = 50
	solidMagicUsize = 0x100000000

	// Resource header flags.
	resFree       = 0x01
	resMetadata   = 0x02
	resCompressed = 0x04
	resSpanned    = 0x08
	resSolid      = 0x10

	// Limits against hostile files.
	maxChunkSize     = 64 << 20  // LZMS solid resources use 64 MiB chunks
	maxMetadataSize  = 512 << 20 // one image's directory tree
	maxXMLSize       = 64 << 20
	maxBlobTableSize = 256 << 20
	maxImages        = 4096
)

// ErrNeedsWimlib says the WIM uses a compression this package does not
// decode (LZMS, or LZX in chunks other than 32 KiB): convert it with
// Convert and walk the converted file.
var ErrNeedsWimlib = errors.New("compression not decoded in Go: needs wimlib-imagex")

// ErrSplit is a part of a split WIM (.swm): its blobs are spread over
// files that were not given together. Errors wrapping it are a
// *SplitError, which says which parts are missing.
var ErrSplit = errors.New("part of a split WIM (.swm)")

// Compression formats, as solid resource headers number them.
type compression uint32

const (
	compNone   compression = 0
	compXPRESS compression = 1
	compLZX    compression = 2
	compLZMS   compression = 3
)

func (c compression) String() string {
	switch c {
	case compNone:
		return "none"
	case compXPRESS:
		return "XPRESS"
	case compLZX:
		return "LZX"
	case compLZMS:
		return "LZMS"
	}
	return fmt.Sprintf("compression %d", uint32(c))
}

func corrupt(offset int64, reason string) error { return archive.Corrupt("wim", offset, reason) }

// reshdr locates a resource in the file.
type reshdr struct {
	sizeInWIM int64 // stored bytes
	flags     uint8
	offset    int64 // in the file, or within a solid resource's data
	usize     int64 // uncompressed bytes
}

func parseReshdr(b []byte) reshdr {
	v := binary.LittleEndian.Uint64(b[0:8])
	return reshdr{
		sizeInWIM: int64(v & 0x00ffffffffffffff),
		flags:     uint8(v >> 56),
		offset:    int64(binary.LittleEndian.Uint64(b[8:16])),
		usize:     int64(binary.LittleEndian.Uint64(b[16:24])),
	}
}

// header is the WIM header's fields this package uses.
type header struct {
	guid       [16]byte // shared by the parts of a split WIM
	version    uint32
	flags      uint32
	chunkSize  int
	partNumber uint16
	totalParts uint16
	imageCount uint32
	blobTable  reshdr
	xml        reshdr
}

func parseHeader(r io.ReaderAt, size int64) (*header, error) {
	var b [headerSize]byte
	if _, err := r.ReadAt(b[:], 0); err != nil {
		return nil, archive.Truncated("wim", 0, err)
	}
	if string(b[:8]) != Magic {
		return nil, corrupt(0, "no WIM magic")
	}
	h := &header{
		version:    binary.LittleEndian.Uint32(b[12:]),
		flags:      binary.LittleEndian.Uint32(b[16:]),
		chunkSize:  int(binary.LittleEndian.Uint32(b[20:])),
		partNumber: binary.LittleEndian.Uint16(b[40:]),
		totalParts: binary.LittleEndian.Uint16(b[42:]),
		imageCount: binary.LittleEndian.Uint32(b[44:]),
		blobTable:  parseReshdr(b[48:]),
		xml:        parseReshdr(b[72:]),
	}
	copy(h.guid[:], b[24:40])
	if hs := binary.LittleEndian.Uint32(b[8:]); hs != headerSize {
		return nil, corrupt(8, fmt.Sprintf("header size %d, want %d", hs, headerSize))
	}
	if h.split() && (h.partNumber < 1 || h.partNumber > h.totalParts) {
		return nil, corrupt(40, fmt.Sprintf("part %d of %d", h.partNumber, h.totalParts))
	}
	if h.imageCount > maxImages {
		return nil, corrupt(44, fmt.Sprintf("%d images", h.imageCount))
	}
	if h.chunkSize == 0 {
		h.chunkSize = 32768
	}
	if h.flags&hdrCompressed != 0 {
		if h.chunkSize < 4096 || h.chunkSize > maxChunkSize || h.chunkSize&(h.chunkSize-1) != 0 {
			return nil, corrupt(20, fmt.Sprintf("chunk size %d", h.chunkSize))
		}
	}
	return h, nil
}

// split says whether the file is one part of a split WIM.
func (h *header) split() bool { return h.totalParts > 1 || h.flags&hdrSpanned != 0 }

// compression returns the compression of the file's non-solid resources.
func (h *header) compression() (compression, error) {
	if h.flags&hdrCompressed == 0 {
		return compNone, nil
	}
	switch {
	case h.flags&(hdrXPRESS|hdrXPRESSNewer) != 0:
		return compXPRESS, nil
	case h.flags&hdrLZX != 0:
		return compLZX, nil
	case h.flags&hdrLZMS != 0:
		return compLZMS, nil
	}
	return 0, corrupt(16, fmt.Sprintf("compressed, but with no known compression in flags %#x", h.flags))
}

// filetime converts a Windows FILETIME (100 ns ticks since 1601).
func filetime(v uint64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	const ticksTo1970 = 116444736000000000
	if v < ticksTo1970 {
		return time.Time{}
	}
	v -= ticksTo1970
	return time.Unix(int64(v/1e7), int64(v%1e7)*100).UTC()
}
