package db

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/hashr-dev/hashr/pkg/records"
)

// Job statuses written to the jobs table and, for the source, to its
// sources row. HashR's own schema calls a finished source "exported" (its
// last status); see hashrStatus.
const (
	StatusDone = "done"
	// StatusPartial: some members failed their own checks (one unreadable
	// file of a disk image, one zip member with a bad CRC); the source's
	// other samples are trusted, those members are not.
	StatusPartial = "partial"
	// StatusFailed: a check that covers every member failed (a compressed
	// stream's CRC, a package's digests, a stream cut short), or hashr-load
	// could not verify what arrived: no sample of the source is trusted.
	StatusFailed = "failed"
)

// Source is one source to commit: its source row, its files and its job.
// A Source is complete (its end record arrived) when it reaches a Loader.
type Source struct {
	// SHA256 is the source's digest, 32 bytes; nil when the source record
	// had none, in which case only its job is written (as failed).
	SHA256      []byte
	QuickSHA256 []byte // 32 bytes, or nil: no job row then
	ID          string
	Repo        string
	RepoPath    string
	URI         string
	Format      string
	Description string
	Size        *int64
	Mtime       *time.Time
	// Package and Verified are the source record's (nil when absent).
	// Loaded again, a source keeps the last Package brought and the
	// Verified that provenanceSQL says wins.
	Package  *records.Package
	Verified *records.Verified

	Files *FileRows
	Job   Job
	// FailedPaths are the members that failed their own checks (error
	// records with a path): a file row at one of them, or inside one (a
	// nested container's "!/" or a volume's "/"), is a failed member.
	FailedPaths map[string]bool

	payloadChanged bool // set once a payload mismatch failed the job
}

// failedMember says whether the file at path was read under a member that
// failed its own check: the path itself, or one of the containers and
// directories it lies in, one lookup each.
func (s *Source) failedMember(path string) bool {
	if len(s.FailedPaths) == 0 {
		return false
	}
	if s.FailedPaths[path] {
		return true
	}
	for i := range len(path) {
		if path[i] == '/' && (s.FailedPaths[path[:i]] || i > 0 && path[i-1] == '!' && s.FailedPaths[path[:i-1]]) {
			return true
		}
	}
	return false
}

// Job is what the jobs table says of a source.
type Job struct {
	Status string // StatusDone, StatusPartial or StatusFailed
	Error  string // the error messages of a failed source
	// FilesExtracted is the end record's file count; FilesLoaded the file
	// records that reached the database; NewFiles those dedup did not mark
	// seen (HashR's files_exported).
	FilesExtracted int64
	FilesLoaded    int64
	NewFiles       int64
	Errors         int64
	Bytes          int64
	// MS maps a stage to the wall milliseconds it spent on the source.
	MS map[string]int64
}

// File is one file row: a sample (its digests) found at Path in a source.
type File struct {
	SHA256 []byte // 32 bytes, always set
	MD5    []byte // the optional digests are nil when absent
	SHA1   []byte
	SHA512 []byte
	CRC32  []byte
	BLAKE3 []byte
	SSDEEP string
	TLSH   string
	Size   int64 // -1 when unknown
	MIME   string
	Path   string
	// Local is where the file's bytes were spooled, for --payloads.
	Local string
	Seen  bool
}

// Stats counts what one Load wrote.
type Stats struct {
	Sources    int   // sources committed
	Files      int64 // file rows committed
	NewSamples int64 // samples the database did not hold before
	Payloads   int64 // payloads read and sent
	Attempts   int   // transactions tried (1 when nothing was retried)
	// Fallbacks counts the times another loader wrote some of the rows
	// this one meant to COPY as new, and the batch was written again
	// through the upserts (PostgreSQL, pgdirect.go).
	Fallbacks int
	// Problems are members that could not be loaded in full (a payload
	// that could not be read) though their source committed.
	Problems []Problem
}

// Problem is a failure concerning one member of a committed source.
type Problem struct {
	Source []byte // the source's SHA256
	Path   string
	Err    error
}

// provenanceArgs are a source's package (JSON text) and verified columns
// (ok, by, signer, detail), NULL where the record had none.
func (s *Source) provenanceArgs() []any {
	args := []any{nil, nil, nil, nil, nil}
	if s.Package != nil {
		var b strings.Builder // as records are written: "<" stays "<"
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.Encode(s.Package)
		args[0] = strings.TrimSuffix(b.String(), "\n")
	}
	if v := s.Verified; v != nil {
		args[1], args[2], args[3], args[4] = v.OK, v.By, nullText(v.Signer), nullText(v.Detail)
	}
	return args
}

// verifiedWins is the SQL condition under which a source row's verified
// columns (of the row aliased row) take those a load brings (brought): when
// it brings one, unless the row's is ok and the one brought is not. A
// load without verified (--verify off) says nothing of the bytes, and a
// verification that held stays true of the same bytes (the SHA-256 is
// the row's key) scanned again where nothing signs them (a .deb copied
// out of its mirror: verified {ok: false, by: "none"}).
func verifiedWins(row, brought string) string {
	return "(" + brought + ".verified_ok IS NOT NULL AND (" + row + ".verified_ok IS NULL OR " + brought + ".verified_ok OR NOT " + row + ".verified_ok))"
}

// provenanceUpdate is the SET list of a source upsert's provenance
// columns and the condition under which they change, for the row aliased row
// and the proposed row brought: the last package brought wins, and verified
// as verifiedWins says.
func provenanceUpdate(row, brought, isNot string) (set, changed string) {
	wins := verifiedWins(row, brought)
	for _, c := range []string{"verified_ok", "verified_by", "verified_signer", "verified_detail"} {
		set += ", " + c + " = CASE WHEN " + wins + " THEN " + brought + "." + c + " ELSE " + row + "." + c + " END"
	}
	set = "package = coalesce(" + brought + ".package, " + row + ".package)" + set
	changed = "(" + brought + ".package IS NOT NULL AND " + row + ".package " + isNot + " " + brought + ".package) OR (" + wins + " AND (" +
		row + ".verified_ok, " + row + ".verified_by, " + row + ".verified_signer, " + row + ".verified_detail) " + isNot + " (" +
		brought + ".verified_ok, " + brought + ".verified_by, " + brought + ".verified_signer, " + brought + ".verified_detail))"
	return set, changed
}
