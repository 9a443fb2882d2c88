package serve

import (
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/hashr-dev/hashr/internal/db"
	"github.com/hashr-dev/hashr/internal/hexdigit"
	"github.com/hashr-dev/hashr/pkg/records"
)

// algorithm is one digest the API looks up by, with CIRCL's wording for
// it: a client may match on the messages.
type algorithm struct {
	name    string // in paths: md5, sha1, sha256
	column  string // db.ByMD5, db.BySHA1, db.BySHA256
	hexLen  int
	label   string // in 404 bodies: "Non existing SHA-1"
	invalid string // the 400 body of a lookup
	short   string // in the parents and children messages: "SHA1"
}

var algorithms = map[string]algorithm{
	"md5":  {"md5", db.ByMD5, 32, "MD5", "MD5 value incorrect, expecting a MD5 value in hex format", "MD5"},
	"sha1": {"sha1", db.BySHA1, 40, "SHA-1", "SHA1 value incorrect, expecting a SHA1 value in hex format", "SHA1"},
	"sha256": {"sha256", db.BySHA256, 64, "SHA-256",
		"SHA-256 value incorrect, expecting a SHA-256 value in hex format", "SHA-256"},
}

// algorithmOfLength is the algorithm whose hex digests have n digits.
func algorithmOfLength(n int) (algorithm, bool) {
	for _, a := range algorithms {
		if a.hexLen == n {
			return a, true
		}
	}
	return algorithm{}, false
}

// parseDigest decodes a hex digest of the algorithm, in either case; ok is
// false for anything else (wrong length, a non-hex digit, a "0x").
func (a algorithm) parseDigest(s string) ([]byte, bool) {
	if len(s) != a.hexLen {
		return nil, false
	}
	b, err := hex.DecodeString(s)
	return b, err == nil
}

// decodeDigest is parseDigest of h into dst, which has room for the
// digest.
func (a algorithm) decodeDigest(dst, h []byte) bool {
	return len(h) == a.hexLen && len(dst) >= len(h)/2 && hexdigit.Decode(dst, h, true)
}

// upperHex is a digest as CIRCL writes it; "" for none.
func upperHex(b []byte) string {
	// Written into a buffer on the stack and copied once into the
	// string: through a strings.Builder, one call a digit was a twentieth
	// of a bulk's CPU.
	var stack [2 * 64]byte
	return string(appendHex(stack[:0], b, true))
}

// lookupRecord is a sample as CIRCL's /lookup answers it (its field names
// and their order), with hashr's provenance added under "hashr:".
type lookupRecord struct {
	CRC32       string            `json:"CRC32,omitempty"`
	FileName    string            `json:"FileName,omitempty"`
	FileSize    string            `json:"FileSize,omitempty"` // a string, as CIRCL's
	MD5         string            `json:"MD5,omitempty"`
	SHA1        string            `json:"SHA-1,omitempty"`
	SHA256      string            `json:"SHA-256"`
	SHA512      string            `json:"SHA-512,omitempty"`
	SSDEEP      string            `json:"SSDEEP,omitempty"`
	TLSH        string            `json:"TLSH,omitempty"`
	MIME        string            `json:"mimetype,omitempty"`
	Source      string            `json:"source"`
	ParentTotal int               `json:"hashlookup:parent-total"`
	Parents     []parentRecord    `json:"parents"`
	Trust       int               `json:"hashlookup:trust"`
	Sources     []hashrProvenance `json:"hashr:sources"`
}

// parentRecord is a source as CIRCL lists a parent: its own digests where
// known, its name, and a ProductCode made from the source.
type parentRecord struct {
	FileName    string      `json:"FileName,omitempty"`
	FileSize    string      `json:"FileSize,omitempty"`
	MD5         string      `json:"MD5,omitempty"`
	SHA1        string      `json:"SHA-1,omitempty"`
	SHA256      string      `json:"SHA-256"`
	ProductCode productCode `json:"ProductCode"`
}

type productCode struct {
	ProductName    string `json:"ProductName"`
	ProductVersion string `json:"ProductVersion"`
}

// hashrProvenance is where hashr found the sample: one source.
type hashrProvenance struct {
	SHA256 string   `json:"sha256"` // lowercase, as in hashr's records
	Repo   string   `json:"repo"`
	IDs    []string `json:"ids"`
	URI    string   `json:"uri,omitempty"`
	Paths  []string `json:"paths"`
	Status string   `json:"status"`
	Failed bool     `json:"failed,omitempty"` // --include-failed only
	// Package and Verified are the source's, as in its source record;
	// absent when it has none.
	Package  *records.Package  `json:"package,omitempty"`
	Verified *records.Verified `json:"verified,omitempty"`
}

// CIRCL lists every parent of a file with at most 15 of them, and 10
// otherwise (bin/server.py: SMEMBERS, else SRANDMEMBER 10), with
// hashlookup:parent-total the count of all and /parents/ paging through
// them; hashr lists the first 10 by SHA-256, so answers repeat.
const (
	allParentsUpTo = 15
	parentsShown   = 10
	// sourcesShown bounds hashr:sources: a file in every package of a
	// distribution would otherwise make one answer megabytes long. The
	// reader reads no more links than that (db.MaxServedLinks).
	sourcesShown = db.MaxServedLinks
)

// newLookupRecord is the answer for one sample, as a value: what
// writeLookupJSON writes straight from the sample, and what the tests
// compare its bytes with (pythonJSON of it) and read answers into.
func newLookupRecord(s *db.ServedSample) lookupRecord {
	rec := lookupRecord{
		CRC32: upperHex(s.CRC32), MD5: upperHex(s.MD5), SHA1: upperHex(s.SHA1), SHA256: upperHex(s.SHA256),
		SHA512: upperHex(s.SHA512), SSDEEP: s.SSDEEP, TLSH: s.TLSH, MIME: s.MIME,
		Source: "hashr", ParentTotal: int(s.LinkTotal),
		Parents: []parentRecord{}, Sources: []hashrProvenance{},
	}
	if s.Size >= 0 {
		rec.FileSize = strconv.FormatInt(s.Size, 10)
	}
	rec.FileName = fileName(s)
	shown := parentsOf(s)
	for i, l := range s.Links {
		if i < shown {
			rec.Parents = append(rec.Parents, newParentRecord(&l.Source))
		}
		if i < sourcesShown {
			rec.Sources = append(rec.Sources, hashrProvenance{
				SHA256: hex.EncodeToString(l.Source.SHA256), Repo: l.Source.Repo, IDs: nonNil(l.Source.IDs),
				URI: l.Source.URI, Paths: nonNil(l.Paths), Status: l.Source.Status, Failed: l.Failed,
				Package: l.Source.Package, Verified: l.Source.Verified,
			})
		}
	}
	rec.Trust = trust(rec.ParentTotal)
	return rec
}

// fileName is a sample's FileName: the base name of its first path.
func fileName(s *db.ServedSample) string {
	if len(s.Links) > 0 && len(s.Links[0].Paths) > 0 {
		p := s.Links[0].Paths[0]
		return p[strings.LastIndexByte(p, '/')+1:]
	}
	return ""
}

// parentsOf is how many of s's links its record lists as parents.
func parentsOf(s *db.ServedSample) int {
	if s.LinkTotal > allParentsUpTo {
		return min(len(s.Links), parentsShown)
	}
	return len(s.Links)
}

// trust is CIRCL's: 50 when unknown, 5 more per parent, at most 100.
func trust(parentTotal int) int { return min(100, 50+5*parentTotal) }

func newParentRecord(src *db.ServedSource) parentRecord {
	p := parentRecord{MD5: upperHex(src.MD5), SHA1: upperHex(src.SHA1), SHA256: upperHex(src.SHA256)}
	if len(src.IDs) > 0 {
		p.FileName = src.IDs[0]
	}
	if src.Size >= 0 {
		p.FileSize = strconv.FormatInt(src.Size, 10)
	}
	p.ProductCode = productCodeOf(src)
	return p
}

// productCodeOf is a source's ProductCode: its package's own name and
// version; only a source without one has its file name read.
func productCodeOf(src *db.ServedSource) productCode {
	if pkg := src.Package; pkg != nil && pkg.Name != "" {
		return productCode{pkg.Name, pkg.Version}
	}
	var c productCode
	if len(src.IDs) > 0 {
		c.ProductName, c.ProductVersion = productOf(src.IDs[0])
	}
	if c.ProductName == "" {
		c.ProductName = src.Repo
	}
	return c
}

// productOf reads a package's name and version from its file name, as
// Debian (name_version_arch.deb) and RPM (name-version-release.arch.rpm)
// name them; any other name is the product, with no version.
func productOf(fileName string) (name, version string) {
	if base, ok := strings.CutSuffix(fileName, ".deb"); ok && strings.Count(base, "_") == 2 {
		name, rest, _ := strings.Cut(base, "_")
		version, _, _ := strings.Cut(rest, "_")
		return name, version
	}
	if base, ok := strings.CutSuffix(fileName, ".rpm"); ok {
		if dot := strings.LastIndexByte(base, '.'); dot > 0 {
			base = base[:dot] // the architecture
		}
		if rel := strings.LastIndexByte(base, '-'); rel > 0 {
			if ver := strings.LastIndexByte(base[:rel], '-'); ver > 0 {
				return base[:ver], base[ver+1:]
			}
		}
	}
	return fileName, ""
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
