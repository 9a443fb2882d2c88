package lookup

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/filehash"
	"github.com/hashr-dev/hashr/internal/ordered"
	"github.com/hashr-dev/hashr/pkg/records"
)

// hashPaths hashes the files under the PATH arguments with o.workers
// goroutines and sends them, in walk order, to be looked up: hashed as
// hashr-hash hashes them, up to filehash.Ahead files ahead of the oldest
// one still being hashed.
func hashPaths(ctx context.Context, p *cli.Program, o *options, send func(*query) error) error {
	work := func(f filehash.Found) *query {
		if f.Err != nil {
			return &query{failure: filehash.PathError("lookup", f.Path, f.Err)}
		}
		rec, err := filehash.FileRecord(f.Path, o.algos)
		if err != nil {
			return &query{failure: filehash.PathError("lookup", f.Path, err)}
		}
		return fileQuery(rec, f.Path, o)
	}
	return ordered.MapAhead(ctx, o.workers, filehash.Ahead, filehash.Walk(p, o.paths), work, send)
}

// fileQuery is the lookup of a file record by the first digest of
// o.lookBy it has.
func fileQuery(f *records.File, where string, o *options) *query {
	q := &query{file: f, where: where}
	for _, by := range o.lookBy {
		var h string
		switch by {
		case "sha256":
			h = f.SHA256
		case "sha1":
			h = f.SHA1
		case "md5":
			h = f.MD5
		}
		if h == "" {
			continue
		}
		key := q.keyBuf[:digestSize[by]]
		if !decodeHex(key, h) {
			return &query{failure: &records.Error{Stage: "lookup", Source: f.Source, Path: f.Path,
				Message: fmt.Sprintf("%s: file record's %s %q is not %d hex digits", where, by, h, 2*len(key))}}
		}
		q.by, q.key = by, key
		return q
	}
	return &query{failure: &records.Error{Stage: "lookup", Source: f.Source, Path: f.Path,
		Message: fmt.Sprintf("%s: file record has no %s to look up (hashr-hash computes it)", where, strings.Join(o.lookBy, ", "))}}
}

var digestSize = map[string]int{"sha256": 32, "sha1": 20, "md5": 16}

// decodeHex decodes the hex digits s into key, all of it, and says
// whether they were that many hex digits: hex.DecodeString made a copy of
// s for each file, and the key another.
func decodeHex(key []byte, s string) bool {
	var digits [2 * 32]byte // a copy on the stack: hex.Decode takes bytes
	if len(s) != 2*len(key) || len(s) > len(digits) {
		return false
	}
	n, err := hex.Decode(key, digits[:copy(digits[:], s)])
	return err == nil && n == len(key)
}

// readStdin reads the input line by line, each taken for what it is: a
// record (a file record is looked up, others pass), a bare hash with an
// optional name, or an error for that line alone. One bad line (a log
// line, a BOM, a broken record) changes nothing for the next.
func readStdin(ctx context.Context, p *cli.Program, o *options, send func(*query) error) error {
	for raw, err := range p.RecordsAndLines(ctx, nil) {
		var q *query
		var lineErr *records.LineError
		switch {
		case errors.As(err, &lineErr):
			q = otherLine(p, lineErr, o)
		case err != nil:
			return err
		case raw.Type == records.TypeFile:
			q = recordQuery(raw, o)
		default:
			q = &query{pass: raw}
		}
		if q == nil {
			continue
		}
		if err := send(q); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// recordQuery is the lookup of a file record, or the error that takes its
// place when it does not decode.
func recordQuery(raw *records.Raw, o *options) *query {
	rec, err := raw.Decode()
	if err != nil {
		return &query{failure: records.Undecodable("lookup", raw, err)}
	}
	return fileQuery(rec.(*records.File), raw.Where, o)
}

// otherLine reads a line that is no record as a bare hash; a line that
// looks like a broken record, or is over the limit, is an error.
func otherLine(p *cli.Program, lineErr *records.LineError, o *options) *query {
	text := strings.TrimSuffix(string(lineErr.Text), "\r")
	if lineErr.Text == nil || strings.HasPrefix(strings.TrimSpace(text), "{") || !utf8.ValidString(text) {
		return &query{pass: p.BadLine(lineErr)} // reported already
	}
	return hashLine(text, lineErr.Where, o)
}

// hashTitles are the first lines of hash lists that name the hash type
// (X-Ways' and hashr-export's xways format): skipped.
var hashTitles = map[string]bool{"MD5": true, "SHA-1": true, "SHA1": true, "SHA-256": true, "SHA256": true}

// hashLine reads "HASH", or "HASH  NAME" as md5sum and sha256sum print it
// (with "*NAME" for binary mode, and a leading backslash when the name is
// escaped). Blank lines, # comments and a title line give nil.
func hashLine(line, where string, o *options) *query {
	trimmed := strings.TrimSpace(line)
	if trimmed == "" || strings.HasPrefix(trimmed, "#") || hashTitles[strings.ToUpper(trimmed)] {
		return nil
	}
	escaped := strings.HasPrefix(line, `\`)
	if escaped {
		line = line[1:]
	}
	h, name, _ := strings.Cut(strings.TrimLeft(line, " \t"), " ")
	h, _, _ = strings.Cut(h, "\t")
	name = strings.TrimPrefix(strings.TrimLeft(name, " "), "*")
	if escaped {
		name = strings.NewReplacer(`\\`, `\`, `\n`, "\n", `\r`, "\r").Replace(name)
	}
	by := map[int]string{64: "sha256", 40: "sha1", 32: "md5"}[len(h)]
	key, err := hex.DecodeString(h)
	if by == "" || err != nil {
		return &query{failure: &records.Error{Stage: "lookup", Message: fmt.Sprintf("%s: %q is not an md5, sha1 or sha256 in hex", where, h)}}
	}
	wanted := false
	for _, b := range o.lookBy {
		wanted = wanted || b == by
	}
	if !wanted {
		return &query{failure: &records.Error{Stage: "lookup", Message: fmt.Sprintf("%s: a %s, but the Bloom filter holds %s digests", where, by, o.lookBy[0])}}
	}
	hr := &hashRecord{Type: "hash", Path: name}
	switch by {
	case "sha256":
		hr.SHA256 = strings.ToLower(h)
	case "sha1":
		hr.SHA1 = strings.ToLower(h)
	case "md5":
		hr.MD5 = strings.ToLower(h)
	}
	return &query{hash: hr, by: by, key: key, where: where}
}
