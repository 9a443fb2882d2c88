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

// errPayloadChanged marks spooled bytes that are not the ones the record's
// sha256 was computed from: the sample is unverified, and its source's
// job fails (failChangedPayloads).
var errPayloadChanged = errors.New("payload changed since it was hashed")

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
		return nil, fmt.Errorf("%w: %s has SHA-256 %x, not the record's %x", errPayloadChanged, f.Local, sum, f.SHA256)
	}
	return data, nil
}

// failChangedPayloads fails the job of every source with a payload whose
// bytes did not match its record: what was loaded of it is unverified. A
// retried transaction finds the same problems; the job says so once.
func failChangedPayloads(sources []*Source, problems []Problem) {
	for _, pr := range problems {
		if !errors.Is(pr.Err, errPayloadChanged) {
			continue
		}
		for _, src := range sources {
			if !bytes.Equal(src.SHA256, pr.Source) || src.payloadChanged {
				continue
			}
			src.payloadChanged = true
			src.Job.Status = StatusFailed
			src.Job.Errors++
			msg := fmt.Sprintf("load: %s: %v", pr.Path, pr.Err)
			if src.Job.Error != "" {
				msg = src.Job.Error + "\n" + msg
			}
			src.Job.Error = msg
		}
	}
}

// sourceStatus is the trust a sources row records: its last job's status.
func sourceStatus(jobStatus string) string {
	if jobStatus == "" {
		return StatusDone
	}
	return jobStatus
}
