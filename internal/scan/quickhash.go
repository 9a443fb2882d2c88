package scan

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
)

// quickChunk is HashR's chunk for its quick hash (importers' chunkSize,
// 10 MiB). HashR: "Check if the file is smaller than 20MB, if so hash the
// whole file", else hash the first and the last chunk, concatenated.
const quickChunk = 10 << 20

// quickSHA256 computes HashR's quick_sha256 of the size bytes of r: the
// SHA-256 of the whole file when it is smaller than 20 MiB, else of its
// first 10 MiB followed by its last 10 MiB. It reads at most 20 MiB.
func quickSHA256(r io.ReaderAt, size int64) (string, error) {
	h := sha256.New()
	parts := [][2]int64{{0, size}}
	if size >= 2*quickChunk {
		parts = [][2]int64{{0, quickChunk}, {size - quickChunk, quickChunk}}
	}
	for _, part := range parts {
		n, err := io.Copy(h, io.NewSectionReader(r, part[0], part[1]))
		if err != nil {
			return "", fmt.Errorf("computing quick_sha256: %w", err)
		}
		if n != part[1] {
			return "", fmt.Errorf("computing quick_sha256: the file shrank while being read (%d bytes short)", part[1]-n)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
