package db

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"slices"
	"strings"
)

// sortedBatchMax bounds the batch whose file rows are sorted in memory
// before they are sent: sorted by sample, source and path, they are
// appended to B-trees rather than inserted all over them, and grouped
// without the database sorting them. A larger batch (a huge source, whose
// rows were spilled to disk) is sent as it comes, and the database sorts.
// A variable so that tests can take the other path.
var sortedBatchMax = 200_000

// sourcedFile is a file row with the source it was found in.
type sourcedFile struct {
	// key is the sample's first 8 bytes, big-endian: most comparisons of
	// the sort end on it, in the slice sorted, without reading the row.
	key    uint64
	src    *Source
	file   *File // FileRows.All's: sorting pointers moves 32 bytes a swap, not 250
	failed bool  // a failed member (Source.failedMember)
}

// sortKey is the first 8 bytes of a digest as a number, zero-padded when
// it is shorter: ordered as bytes.Compare orders the digests, or equal.
func sortKey(digest []byte) uint64 {
	var b [8]byte
	copy(b[:], digest)
	return binary.BigEndian.Uint64(b[:])
}

// sortedFiles returns the file rows of the batch's sources sorted by
// sample, source and path, or ok false when there are more than
// sortedBatchMax of them.
func sortedFiles(sources []*Source) (rows []sourcedFile, ok bool, err error) {
	total := 0
	for _, src := range sources {
		if src.SHA256 != nil {
			total += src.Files.Len()
		}
	}
	if total > sortedBatchMax {
		return nil, false, nil
	}
	rows = make([]sourcedFile, 0, total)
	for _, src := range sources {
		if src.SHA256 == nil {
			continue
		}
		for f, err := range src.Files.All() {
			if err != nil {
				return nil, false, err
			}
			rows = append(rows, sourcedFile{sortKey(f.SHA256), src, f, src.failedMember(f.Path)})
		}
	}
	slices.SortFunc(rows, func(a, b sourcedFile) int {
		if a.key != b.key {
			return cmp.Compare(a.key, b.key)
		}
		if c := bytes.Compare(a.file.SHA256, b.file.SHA256); c != 0 {
			return c
		}
		if a.src != b.src {
			if c := bytes.Compare(a.src.SHA256, b.src.SHA256); c != 0 {
				return c
			}
		}
		return strings.Compare(a.file.Path, b.file.Path)
	})
	return rows, true, nil
}
