package load

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashr-dev/hashr/internal/db"
	"github.com/hashr-dev/hashr/pkg/records"
)

// sourceRow converts a source record. A source without a valid sha256 can
// have only its job written (failed): the error says why.
func sourceRow(s *records.Source) (*db.Source, error) {
	row := &db.Source{
		ID: text(s.ID), Repo: text(s.Repo), RepoPath: text(s.RepoPath), URI: text(s.URI),
		Format: text(s.Format), Description: text(s.Description), Size: s.Size,
	}
	row.Package, row.Verified = provenance(s)
	if s.QuickSHA256 != "" && records.CheckHex("sha256", s.QuickSHA256) == nil {
		row.QuickSHA256, _ = hex.DecodeString(s.QuickSHA256)
	}
	if t, err := time.Parse(time.RFC3339Nano, s.Mtime); err == nil {
		row.Mtime = &t
	}
	if s.SHA256 == "" {
		return row, errors.New("source record has no sha256 (hashr-fetch sets it)")
	}
	if err := records.CheckHex("sha256", s.SHA256); err != nil {
		return row, err
	}
	row.SHA256, _ = hex.DecodeString(s.SHA256)
	return row, nil
}

// provenance copies a source's package and verified with text's NUL rule:
// PostgreSQL keeps no NUL in text, nor \u0000 in jsonb.
func provenance(s *records.Source) (*records.Package, *records.Verified) {
	var pkg *records.Package
	var verified *records.Verified
	if p := s.Package; p != nil {
		pkg = &records.Package{Name: text(p.Name), Version: text(p.Version), Arch: text(p.Arch), Vendor: text(p.Vendor),
			Edition: text(p.Edition), KB: text(p.KB), Digest: text(p.Digest), Title: text(p.Title), OS: text(p.OS)}
	}
	if v := s.Verified; v != nil {
		verified = &records.Verified{OK: v.OK, By: text(v.By), Signer: text(v.Signer), Detail: text(v.Detail)}
	}
	return pkg, verified
}

var errNoSHA256 = errors.New("file record has no sha256")

// fileRow converts a file record, checking its digests. A name that is not
// valid UTF-8 is stored as its path, with U+FFFD where the bad bytes were:
// text columns hold UTF-8 only, and path_raw is not stored.
func fileRow(f *records.File, digests *byteSlab) (db.File, error) {
	if err := f.Validate(); err != nil {
		return db.File{}, err
	}
	if f.SHA256 == "" {
		return db.File{}, errNoSHA256
	}
	row := db.File{
		SSDEEP: text(f.SSDEEP), TLSH: text(f.TLSH),
		Size: -1, MIME: text(f.MIME), Path: text(f.Path), Local: f.Local,
		Seen: f.Seen != nil && *f.Seen,
	}
	decodeDigests(&row, f, digests)
	if f.Size != nil {
		row.Size = *f.Size
	}
	return row, nil
}

// decodeDigests decodes the hex digests of f, which Validate has checked,
// into row, from the slab (an allocation each was a fifth of hashr-load's
// allocations per record, and one per record still a tenth); "" is
// absent, nil.
func decodeDigests(row *db.File, f *records.File, slab *byteSlab) {
	digests := [...]struct {
		hex string
		dst *[]byte
	}{{f.SHA256, &row.SHA256}, {f.MD5, &row.MD5}, {f.SHA1, &row.SHA1}, {f.SHA512, &row.SHA512},
		{f.CRC32, &row.CRC32}, {f.BLAKE3, &row.BLAKE3}}
	size := 0
	for _, d := range digests {
		size += len(d.hex) / 2
	}
	buf := slab.take(size)
	for _, d := range digests {
		if d.hex == "" {
			continue
		}
		n := len(d.hex) / 2
		for i := range n {
			buf[i] = hexNibble(d.hex[2*i])<<4 | hexNibble(d.hex[2*i+1])
		}
		*d.dst, buf = buf[:n:n], buf[n:]
	}
}

// byteSlab hands out byte slices cut from chunks of slabChunk bytes. The
// rows of a batch are made and dropped together, and so are the chunks
// they were cut from.
type byteSlab struct{ free []byte }

const slabChunk = 64 << 10

// take returns n bytes of their own (appending to them reallocates).
func (s *byteSlab) take(n int) []byte {
	if len(s.free) < n {
		s.free = make([]byte, max(n, slabChunk))
	}
	b := s.free[:n:n]
	s.free = s.free[n:]
	return b
}

// hexNibble is the value of a lowercase hex digit.
func hexNibble(c byte) byte {
	if c >= 'a' {
		return c - 'a' + 10
	}
	return c - '0'
}

// text makes a string storable in both databases: PostgreSQL text cannot
// hold NUL.
func text(s string) string {
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}

// errorText describes an error record for a job's error column.
func errorText(e *records.Error) string {
	var b strings.Builder
	if e.Stage != "" {
		b.WriteString(e.Stage + ": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// jobErrors joins a failed source's messages, bounded so one source with
// a million bad members does not make a million-line row.
func jobErrors(msgs []string, total int64) string {
	const maxShown, maxBytes = 20, 8 << 10
	var b strings.Builder
	shown := 0
	for _, m := range msgs {
		if shown == maxShown || b.Len()+len(m) > maxBytes {
			break
		}
		if shown > 0 {
			b.WriteString("\n")
		}
		b.WriteString(m)
		shown++
	}
	if more := total - int64(shown); more > 0 {
		if shown > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "(%d more errors)", more)
	}
	return b.String()
}
