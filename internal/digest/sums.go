package digest

import (
	"github.com/gabriel-vasile/mimetype"

	"github.com/hashr-dev/hashr/pkg/records"
)

// Sums is what a Hasher found: the digests of the algorithms it was asked
// for ("" for the others, and for a fuzzy hash the input has no value of),
// the length and the MIME type.
type Sums struct {
	Size   int64
	MD5    string
	SHA1   string
	SHA256 string
	SHA512 string
	CRC32  string
	BLAKE3 string
	SSDEEP string
	TLSH   string
	MIME   string
}

// MIMEHeadSize is how much of the start of the bytes MIME detection looks at
// (mimetype's default limit).
const MIMEHeadSize = 3072

// DetectMIME names the type of a file from its first MIMEHeadSize bytes,
// e.g. "application/x-executable" or "text/plain; charset=utf-8".
func DetectMIME(head []byte) string {
	return mimetype.Detect(head[:min(len(head), MIMEHeadSize)]).String()
}

// Get returns the digest of one algorithm.
func (s *Sums) Get(a Algo) string {
	return *s.field(a)
}

func (s *Sums) field(a Algo) *string {
	switch a {
	case MD5:
		return &s.MD5
	case SHA1:
		return &s.SHA1
	case SHA256:
		return &s.SHA256
	case SHA512:
		return &s.SHA512
	case CRC32:
		return &s.CRC32
	case BLAKE3:
		return &s.BLAKE3
	case SSDEEP:
		return &s.SSDEEP
	case TLSH:
		return &s.TLSH
	}
	panic("digest: unknown algorithm " + a.String())
}

// recordField is where a file record keeps an algorithm's digest.
func recordField(f *records.File, a Algo) *string {
	switch a {
	case MD5:
		return &f.MD5
	case SHA1:
		return &f.SHA1
	case SHA256:
		return &f.SHA256
	case SHA512:
		return &f.SHA512
	case CRC32:
		return &f.CRC32
	case BLAKE3:
		return &f.BLAKE3
	case SSDEEP:
		return &f.SSDEEP
	case TLSH:
		return &f.TLSH
	}
	panic("digest: unknown algorithm " + a.String())
}

// Missing is the part of want that f has no digest for.
func Missing(f *records.File, want Set) Set {
	var m Set
	for _, a := range want.Algos() {
		if *recordField(f, a) == "" {
			m |= Set(a)
		}
	}
	return m
}

// Fill sets the digests of f that are empty and that s has, and f's mime
// and size when they are unset. It never overwrites a value f has.
func (s *Sums) Fill(f *records.File) {
	for i := range numAlgos {
		a := Algo(1 << i)
		if v := s.Get(a); v != "" && *recordField(f, a) == "" {
			*recordField(f, a) = v
		}
	}
	if f.MIME == "" {
		f.MIME = s.MIME
	}
	if f.Size == nil {
		f.Size = records.Int64(s.Size)
	}
}
