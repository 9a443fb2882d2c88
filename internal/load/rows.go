package load

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unsafe"

	"github.com/hashr-dev/hashr/internal/db"
	"github.com/hashr-dev/hashr/internal/hexdigit"
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
func fileRow(f *records.File, slab *byteSlab) (db.File, error) {
	// The row's strings are copied into the slab: the decoder's are
	// substrings of the record's line, and a row holding one kept the
	// whole line (with its digests' hex) until its batch was committed,
	// over half of what a waiting row held (load21i).
	row := db.File{
		SSDEEP: slab.copy(text(f.SSDEEP)), TLSH: slab.copy(text(f.TLSH)),
		Size: -1, MIME: slab.copy(text(f.MIME)), Path: slab.copy(text(f.Path)), Local: slab.copy(f.Local),
		Seen: f.Seen != nil && *f.Seen,
	}
	// The digests are checked as they are decoded, in one pass over their
	// hex; a record that fails that check, or has what only Validate
	// checks (no path, an mtime), is validated in full, for its error.
	if !decodeDigests(&row, f, slab) || f.Path == "" || f.Mtime != "" {
		if err := f.Validate(); err != nil {
			return db.File{}, err
		}
	}
	if f.SHA256 == "" {
		return db.File{}, errNoSHA256
	}
	if f.Size != nil {
		row.Size = *f.Size
	}
	return row, nil
}

// decodeDigests decodes the hex digests of f into row, from the slab (an
// allocation each was a fifth of hashr-load's allocations per record, and
// one per record still a tenth); "" is absent, nil. It returns false
// unless each digest is lowercase hex of its algorithm's length
// (records.CheckHex), leaving row's digests then undefined.
func decodeDigests(row *db.File, f *records.File, slab *byteSlab) bool {
	digests := [...]struct {
		hex  string
		want int
		dst  *[]byte
	}{{f.SHA256, 64, &row.SHA256}, {f.MD5, 32, &row.MD5}, {f.SHA1, 40, &row.SHA1}, {f.SHA512, 128, &row.SHA512},
		{f.CRC32, 8, &row.CRC32}, {f.BLAKE3, 64, &row.BLAKE3}}
	size := 0
	for _, d := range digests {
		if d.hex != "" && len(d.hex) != d.want {
			return false
		}
		size += len(d.hex) / 2
	}
	buf := slab.take(size)
	ok := true
	for _, d := range digests {
		if d.hex == "" {
			continue
		}
		n := len(d.hex) / 2
		dst := buf[:n:n]
		ok = hexdigit.Decode(dst, d.hex, false) && ok
		*d.dst, buf = dst, buf[n:]
	}
	return ok
}

// byteSlab hands out byte slices, and strings, cut from chunks of
// slabChunk bytes. The rows of a batch are made and dropped together, and
// so are the chunks they were cut from.
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

// copy returns str in bytes of the slab, sharing no memory with str.
func (s *byteSlab) copy(str string) string {
	if str == "" {
		return ""
	}
	b := s.take(len(str))
	copy(b, str)
	return unsafe.String(unsafe.SliceData(b), len(b))
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
