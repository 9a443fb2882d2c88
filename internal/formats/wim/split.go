package wim

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// Split WIMs (install.swm, install2.swm, …): wimlib-imagex split and
// Microsoft's tools cut a WIM into parts that share one GUID and say in
// their headers which part of how many they are. Part 1 holds the
// images' metadata; every part holds blobs, and its blob table names the
// blobs it stores (and perhaps others', which it does not). Each part
// is a WIM file of its own, so a blob is read from its part's file at
// the offsets its part's table gives.

// Part is one file of a WIM: a whole WIM, or a part of a split one.
type Part struct {
	R    io.ReaderAt
	Size int64
	Name string // for messages: the file's path
}

// PartInfo is what a WIM's header says of the file's place in a split
// WIM: part 1 of 1 for a whole WIM.
type PartInfo struct {
	GUID        [16]byte
	Part, Total int
}

// Split says whether the file is one part of a split WIM.
func (p PartInfo) Split() bool { return p.Total > 1 }

// GUIDString is the GUID as wimlib-imagex info prints it, without "0x".
func (p PartInfo) GUIDString() string { return hex.EncodeToString(p.GUID[:]) }

// ReadPartInfo reads what the header of the WIM in the size bytes of ra
// says of its part number, part count and GUID.
func ReadPartInfo(ra io.ReaderAt, size int64) (PartInfo, error) {
	hdr, err := parseHeader(ra, size)
	if err != nil {
		return PartInfo{}, err
	}
	return hdr.partInfo(), nil
}

func (h *header) partInfo() PartInfo {
	total := max(int(h.totalParts), 1)
	return PartInfo{GUID: h.guid, Part: max(int(h.partNumber), 1), Total: total}
}

// SplitError is a split WIM whose parts were not all given.
type SplitError struct {
	GUID    [16]byte
	Total   int
	Given   []int // part numbers given, ascending
	Missing []int // part numbers missing, ascending
}

func (e *SplitError) Error() string {
	return fmt.Sprintf("%v %s: %d parts, part%s %s given, part%s %s missing",
		ErrSplit, hex.EncodeToString(e.GUID[:]), e.Total,
		plural(len(e.Given)), joinInts(e.Given), plural(len(e.Missing)), joinInts(e.Missing))
}

func (e *SplitError) Unwrap() error { return ErrSplit }

func missingParts(h *header, given []int) *SplitError {
	e := &SplitError{GUID: h.guid, Total: int(h.totalParts), Given: slices.Sorted(slices.Values(given))}
	for n := 1; n <= e.Total; n++ {
		if !slices.Contains(given, n) {
			e.Missing = append(e.Missing, n)
		}
	}
	return e
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}

// NewSplitReader reads a WIM from all its files: a whole WIM alone, or
// every part of a split WIM in any order, the first given deciding which
// WIM (GUID) the others must belong to. A part of another WIM, two files
// claiming one part number, or a part missing is an error; one wrapping
// ErrSplit (a *SplitError) names the missing parts.
func NewSplitReader(parts []Part) (*Reader, error) {
	if len(parts) == 0 {
		return nil, fmt.Errorf("wim: no file given")
	}
	files := make([]*partFile, 0, len(parts))
	byNumber := map[int]*partFile{}
	for i, part := range parts {
		p, err := openPart(part)
		if err != nil {
			if part.Name != "" {
				return nil, fmt.Errorf("%s: %w", part.Name, err)
			}
			return nil, err
		}
		if len(parts) == 1 && !p.hdr.split() {
			return newReader([]*partFile{p})
		}
		if i > 0 {
			ref := files[0].hdr
			switch {
			case p.hdr.guid != ref.guid:
				return nil, corrupt(24, fmt.Sprintf("%s is not a part of the split WIM %x: its GUID is %x", nameOf(part, i), ref.guid, p.hdr.guid))
			case p.hdr.totalParts != ref.totalParts:
				return nil, corrupt(42, fmt.Sprintf("%s says the split WIM has %d parts, part %d says %d", nameOf(part, i), p.hdr.totalParts, ref.partNumber, ref.totalParts))
			}
		} else if !p.hdr.split() {
			return nil, corrupt(42, fmt.Sprintf("%s is a whole WIM, not a part of a split one, but %d files were given", nameOf(part, i), len(parts)))
		}
		n := int(p.hdr.partNumber)
		if other, dup := byNumber[n]; dup {
			return nil, corrupt(40, fmt.Sprintf("%s and %s are both part %d of the split WIM", nameOf(other.Part, -1), nameOf(part, i), n))
		}
		byNumber[n] = p
		files = append(files, p)
	}
	hdr := files[0].hdr
	if len(byNumber) != int(hdr.totalParts) {
		given := make([]int, 0, len(byNumber))
		for n := range byNumber {
			given = append(given, n)
		}
		return nil, missingParts(hdr, given)
	}
	ordered := make([]*partFile, 0, len(files))
	for n := 1; n <= int(hdr.totalParts); n++ {
		ordered = append(ordered, byNumber[n])
	}
	return newReader(ordered)
}

func nameOf(p Part, i int) string {
	if p.Name != "" {
		return strconv.Quote(p.Name)
	}
	return "file " + strconv.Itoa(i+1)
}

// NewSplitWalker walks the WIM that parts make up (see NewSplitReader).
func NewSplitWalker(parts []Part) (*Walker, error) {
	r, err := NewSplitReader(parts)
	if err != nil {
		return nil, err
	}
	return &Walker{r: r}, nil
}

// ImageKey is what identifies one image of a WIM without reading its
// files: the WIM's GUID, the image's index, and the SHA-1 the blob
// table gives the image's metadata resource (its directory tree, with
// the SHA-1 of every file's data).
type ImageKey struct {
	GUID         [16]byte
	Index        int
	MetadataSHA1 [20]byte
}

// String is the key as text: "wim-image:GUID:INDEX:METADATA-SHA1",
// lowercase hex.
func (k ImageKey) String() string {
	return "wim-image:" + hex.EncodeToString(k.GUID[:]) + ":" + strconv.Itoa(k.Index) + ":" + hex.EncodeToString(k.MetadataSHA1[:])
}

// ReadImageKeys reads the key of each image of the WIM in the size bytes
// of ra (a whole WIM, or part 1 of a split one) from its header and blob
// table, decoding no resource but the blob table, whatever compression
// the rest uses.
func ReadImageKeys(ra io.ReaderAt, size int64) ([]ImageKey, error) {
	p, err := openPart(Part{R: ra, Size: size})
	if err != nil {
		return nil, err
	}
	if p.hdr.split() && p.hdr.partNumber != 1 {
		return nil, fmt.Errorf("%w: part %d holds no image's metadata (part 1 does)", ErrSplit, p.hdr.partNumber)
	}
	bt := p.hdr.blobTable
	var table []byte
	if bt.sizeInWIM > 0 {
		res, err := openResource(ra, bt, p.comp, p.hdr.chunkSize, size)
		if err != nil {
			return nil, fmt.Errorf("reading the blob table: %w", err)
		}
		if table, err = res.readAll(maxBlobTableSize, "blob table"); err != nil {
			return nil, fmt.Errorf("reading the blob table: %w", err)
		}
	}
	var keys []ImageKey
	for off := 0; off+blobEntrySize <= len(table); off += blobEntrySize {
		e := table[off : off+blobEntrySize]
		h := parseReshdr(e[0:24])
		if h.flags&resFree != 0 || h.flags&resMetadata == 0 {
			continue
		}
		if p.hdr.split() && binary.LittleEndian.Uint16(e[24:26]) != 1 {
			continue // named by part 1's table, stored elsewhere: not metadata wimlib reads
		}
		if len(keys) >= maxImages {
			return nil, corrupt(bt.offset+int64(off), "too many metadata resources")
		}
		k := ImageKey{GUID: p.hdr.guid, Index: len(keys) + 1}
		copy(k.MetadataSHA1[:], e[30:50])
		keys = append(keys, k)
	}
	if len(keys) != int(p.hdr.imageCount) {
		return nil, corrupt(bt.offset, fmt.Sprintf("%d images in the header, %d metadata resources in the blob table", p.hdr.imageCount, len(keys)))
	}
	return keys, nil
}
