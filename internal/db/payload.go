package db

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
)

// errPayloadTooBig marks a file over --payload-max: not stored, and not a
// failure either.
var errPayloadTooBig = errors.New("larger than the payload limit")

// readPayload reads a file's spooled bytes for the payloads table, and
// checks they are still the bytes that were hashed.
func readPayload(f *File, limit int64) ([]byte, error) {
	if f.Size > limit {
		return nil, errPayloadTooBig
	}
	if f.Local == "" {
		return nil, errors.New("no local copy of the file's bytes to store as payload (hashr-hash --delete removes them; drop --delete to use --payloads)")
	}
	in, err := os.Open(f.Local)
	if err != nil {
		return nil, fmt.Errorf("reading payload: %w", err)
	}
	defer in.Close()
	data, err := io.ReadAll(io.LimitReader(in, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading payload %s: %w", f.Local, err)
	}
	if int64(len(data)) > limit {
		return nil, errPayloadTooBig
	}
	if sum := sha256.Sum256(data); !bytes.Equal(sum[:], f.SHA256) {
		return nil, fmt.Errorf("payload %s changed since it was hashed: its SHA-256 is now %x", f.Local, sum)
	}
	return data, nil
}
