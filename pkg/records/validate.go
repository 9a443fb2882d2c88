package records

import (
	"fmt"
	"time"
)

// digestLength is the hex length of each fixed-size digest field, 0 for
// another name. A switch, not a map: hashr-load checks every digest of
// every file record, and the map's lookups were a third of the check.
func digestLength(algo string) int {
	switch algo {
	case "md5":
		return 32
	case "sha1":
		return 40
	case "sha256", "blake3":
		return 64
	case "sha512":
		return 128
	case "crc32":
		return 8
	}
	return 0
}

// CheckHex reports whether s is a digest of the named algorithm: lowercase
// hex of the right length.
func CheckHex(algo, s string) error {
	want := digestLength(algo)
	if want == 0 {
		return fmt.Errorf("%s is not a fixed-length digest", algo)
	}
	if len(s) != want {
		return fmt.Errorf("%s %q has %d characters, want %d hex digits", algo, s, len(s), want)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return fmt.Errorf("%s %q is not lowercase hex (character %d is %q)", algo, s, i+1, c)
		}
	}
	return nil
}

// Validate checks the fields of a file record that later stages rely on:
// a path, and digests that are lowercase hex of the right length.
func (f *File) Validate() error {
	if f.Path == "" {
		return fmt.Errorf("file record has no path")
	}
	// An array, not a map: hashr-load validates every file record, and a
	// map made per record was a tenth of its time per record.
	for _, d := range [...]struct{ algo, hex string }{
		{"md5", f.MD5}, {"sha1", f.SHA1}, {"sha256", f.SHA256},
		{"sha512", f.SHA512}, {"crc32", f.CRC32}, {"blake3", f.BLAKE3},
	} {
		if d.hex == "" {
			continue
		}
		if err := CheckHex(d.algo, d.hex); err != nil {
			return err
		}
	}
	if f.Mtime != "" {
		if _, err := time.Parse(time.RFC3339Nano, f.Mtime); err != nil {
			return fmt.Errorf("mtime %q is not RFC 3339", f.Mtime)
		}
	}
	return nil
}

// Validate checks the fields of a source record that later stages rely on.
func (s *Source) Validate() error {
	if s.URI == "" && s.Local == "" {
		return fmt.Errorf("source record has neither uri nor local")
	}
	if s.SHA256 != "" {
		if err := CheckHex("sha256", s.SHA256); err != nil {
			return err
		}
	}
	if s.QuickSHA256 != "" {
		if err := CheckHex("sha256", s.QuickSHA256); err != nil {
			return fmt.Errorf("quick_sha256: %w", err)
		}
	}
	if s.WIMImage != nil && *s.WIMImage < 0 {
		return fmt.Errorf("wim_image %d is not an image index (1, 2…, or 0 for an install ISO without its install image)", *s.WIMImage)
	}
	for i, p := range s.Parts {
		if p == "" {
			return fmt.Errorf("parts[%d] is empty: parts lists the paths of a split WIM's other parts", i)
		}
	}
	return nil
}

// Validate checks a plan record's totals: counts, never negative.
func (p *Plan) Validate() error {
	if p.Sources < 0 || p.Bytes < 0 {
		return fmt.Errorf("plan record has sources %d and bytes %d: want counts, 0 or more", p.Sources, p.Bytes)
	}
	return nil
}

// Time formats t the way records carry times: RFC 3339 in UTC.
func Time(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
