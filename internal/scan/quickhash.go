package scan

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/hashr-dev/hashr/internal/regular"
)

// quickChunk is HashR's chunk for its quick hash (importers' chunkSize,
// 10 MiB). HashR: "Check if the file is smaller than 20MB, if so hash the
// whole file", else hash the first and the last chunk, concatenated.
const quickChunk = 10 << 20

// quickSHA256 computes HashR's quick_sha256 of the size bytes of r: the
// SHA-256 of the whole file when it is smaller than 20 MiB, else of its
// first 10 MiB followed by its last 10 MiB. It reads at most 20 MiB.
func quickSHA256(r io.ReaderAt, size int64) (string, error) {
	parts := [][2]int64{{0, size}}
	if size >= 2*quickChunk {
		parts = [][2]int64{{0, quickChunk}, {size - quickChunk, quickChunk}}
	}
	sum, err := sha256Of(r, parts)
	if err != nil {
		return "", fmt.Errorf("computing quick_sha256: %w", err)
	}
	return sum, nil
}

// wholeSHA256 is the SHA-256 of every byte of the regular file at path:
// the sha256 of a source hashr-scan refuses, which no stage will read
// (hashr-fetch sets every other source's). hashr-scan links none of
// hashr-hash's engines, and a refused source is rare, so crypto/sha256.
func wholeSHA256(path string) (string, error) {
	f, info, err := regular.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if !info.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", path)
	}
	return sha256Of(f, [][2]int64{{0, info.Size()}})
}

// sha256Of hashes the parts (offset, length) of r, one after the other.
func sha256Of(r io.ReaderAt, parts [][2]int64) (string, error) {
	h := sha256.New()
	for _, part := range parts {
		n, err := io.Copy(h, io.NewSectionReader(r, part[0], part[1]))
		if err != nil {
			return "", err
		}
		if n != part[1] {
			return "", fmt.Errorf("the file shrank while being read (%d bytes short)", part[1]-n)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
