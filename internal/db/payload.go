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

// missingPayloads are the staged samples that have no payload yet, as
// both back ends list them, read one at a time when it is their turn to
// be written.
type missingPayloads struct {
	wanted []missingPayload
	taken  int
}

type missingPayload struct {
	file   File
	source []byte
}

// scan adds the row a query of missing payloads is at: sha256, local,
// size, path, source.
func (m *missingPayloads) scan(scan func(dest ...any) error) error {
	var w missingPayload
	var local *string
	var size *int64
	if err := scan(&w.file.SHA256, &local, &size, &w.file.Path, &w.source); err != nil {
		return err
	}
	w.file.Size = -1
	if size != nil {
		w.file.Size = *size
	}
	if local != nil {
		w.file.Local = *local
	}
	m.wanted = append(m.wanted, w)
	return nil
}

// next reads the next payload to write, counting it in stats; ok is
// false when none is left. A file over max is skipped; one that cannot be
// read is a problem of its source.
func (m *missingPayloads) next(max int64, stats *Stats) (sha256, data []byte, ok bool) {
	for m.taken < len(m.wanted) {
		w := &m.wanted[m.taken]
		m.taken++
		data, err := readPayload(&w.file, max)
		if errors.Is(err, errPayloadTooBig) {
			continue
		}
		if err != nil {
			stats.Problems = append(stats.Problems, Problem{Source: w.source, Path: w.file.Path, Err: err})
			continue
		}
		stats.Payloads++
		return w.file.SHA256, data, true
	}
	return nil, nil, false
}
