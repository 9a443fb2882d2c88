package export

import (
	"context"
	"fmt"

	"github.com/hashr-dev/hashr/internal/bloom"
	"github.com/hashr-dev/hashr/internal/bloom/dcso"
	"github.com/hashr-dev/hashr/internal/db"
)

// writeBloom writes a Bloom filter of the selected samples' sha256 (or
// sha1) digests, sized for their count at --fp-rate.
func writeBloom(ctx context.Context, r *db.Reader, o *options, out *output) (counts, error) {
	var c counts
	n, err := r.CountSamples(ctx, o.filter)
	if err != nil {
		return c, err
	}
	f, err := bloom.New(o.algo, n, o.fpRate)
	if err != nil {
		return c, fmt.Errorf("sizing the Bloom filter: %w", err)
	}
	err = r.Samples(ctx, o.filter, false, func(s *db.SampleLinks) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		key := s.SHA256
		if o.algo == "sha1" {
			key = s.SHA1
		}
		if key == nil {
			c.skipped++
			return nil
		}
		c.samples++
		return f.Add(key)
	})
	if err != nil {
		return c, err
	}
	if _, err := f.WriteTo(out.Writer); err != nil {
		return c, fmt.Errorf("writing %s: %w", out.name, err)
	}
	c.lines = 1
	return c, nil
}

// writeDCSOBloom writes a Bloom filter in DCSO's format of the selected
// samples' --algo digests in upper-case hex, hashlookup's convention.
func writeDCSOBloom(ctx context.Context, r *db.Reader, o *options, out *output) (counts, error) {
	sc, err := dcso.WriteSet(ctx, r, o.filter, o.algo, o.fpRate, out.Writer)
	if err != nil {
		return counts{}, fmt.Errorf("%w (to %s)", err, out.name)
	}
	return counts{samples: sc.Samples, skipped: sc.Skipped, lines: 1}, nil
}
