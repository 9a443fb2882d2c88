package dcso

import (
	"context"
	"fmt"
	"io"

	"github.com/hashr-dev/hashr/internal/db"
)

// Digests a filter of a set may hold, as hashlookup names them in
// --bloomfilter-algorithm; sha1 is hashlookup's default.
var Digests = []string{"sha1", "md5", "sha256"}

// SetCounts is what WriteSet put in the filter.
type SetCounts struct {
	Samples int64 // samples added
	// Skipped are the samples that lack the digest (loaded from records
	// hashed without it).
	Skipped int64
}

// WriteSet writes to w a filter of the samples that sel selects in r,
// each added as the upper-case hex of its digest (sha1, md5 or sha256),
// sized for their count at false-positive rate p. The bits are held in
// memory (about 1.8 bytes a sample at p = 0.001); the samples are
// streamed. hashr-export --format dcso-bloom and hashr-serve's /bloom/
// call it.
func WriteSet(ctx context.Context, r *db.Reader, sel db.Filter, digest string, p float64, w io.Writer) (SetCounts, error) {
	var c SetCounts
	pick, ok := map[string]func(*db.Sample) []byte{
		"sha1":   func(s *db.Sample) []byte { return s.SHA1 },
		"md5":    func(s *db.Sample) []byte { return s.MD5 },
		"sha256": func(s *db.Sample) []byte { return s.SHA256 },
	}[digest]
	if !ok {
		return c, fmt.Errorf("a DCSO Bloom filter of %q digests: want sha1, md5 or sha256", digest)
	}
	n, err := r.CountSamples(ctx, sel)
	if err != nil {
		return c, err
	}
	f, err := New(uint64(max(n, 0)), p)
	if err != nil {
		return c, fmt.Errorf("sizing the DCSO Bloom filter: %w", err)
	}
	err = r.Samples(ctx, sel, false, func(s *db.SampleLinks) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		key := pick(&s.Sample)
		if key == nil {
			c.Skipped++
			return nil
		}
		c.Samples++
		f.AddDigest(key)
		return nil
	})
	if err != nil {
		return c, err
	}
	if _, err := f.WriteTo(w); err != nil {
		return c, fmt.Errorf("writing the DCSO Bloom filter: %w", err)
	}
	return c, nil
}
