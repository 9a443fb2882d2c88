package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/hashr-dev/hashr/pkg/records"
)

// A source's provenance, its package and who verified its bytes, is read
// by every reader as the five columns of schema migration 4.

// provenanceColumns is the SQL list of the provenance columns of the
// sources row aliased src, in the order provenanceRow scans them.
func (r *Reader) provenanceColumns(src string) string {
	pkg := src + ".package"
	if r.pg {
		pkg += "::text" // jsonb, read as the JSON text SQLite stores
	}
	return pkg + ", " + src + ".verified_ok, " + src + ".verified_by, " + src + ".verified_signer, " + src + ".verified_detail"
}

// provenanceRow receives the provenance columns of one row.
type provenanceRow struct {
	pkg                 sql.NullString
	ok                  sql.NullBool
	by, signer, details sql.NullString
}

// targets are the Scan destinations, in provenanceColumns' order.
func (p *provenanceRow) targets() []any {
	return []any{&p.pkg, &p.ok, &p.by, &p.signer, &p.details}
}

// decode gives the row's package and verified, nil where it had none.
func (p *provenanceRow) decode() (*records.Package, *records.Verified, error) {
	var pkg *records.Package
	if p.pkg.Valid {
		pkg = new(records.Package)
		if err := json.Unmarshal([]byte(p.pkg.String), pkg); err != nil {
			return nil, nil, fmt.Errorf("reading the package column: %w", err)
		}
	}
	var verified *records.Verified
	if p.ok.Valid {
		verified = &records.Verified{OK: p.ok.Bool, By: p.by.String, Signer: p.signer.String, Detail: p.details.String}
	}
	return pkg, verified, nil
}

// addProvenance fills in the package and verified of the samples' links
// from their sources, read once and kept (cacheSources).
func (r *Reader) addProvenance(ctx context.Context, samples []*SampleLinks) error {
	refs := map[string]sourceRef{}
	var unknown [][]byte
	for _, s := range samples {
		for _, l := range s.Links {
			if _, ok := refs[string(l.Source)]; ok {
				continue
			}
			if ref, ok := r.cachedSource(l.Source); ok {
				refs[string(l.Source)] = ref
			} else {
				unknown = append(unknown, l.Source)
			}
		}
	}
	if err := r.cacheSources(ctx, unknown, refs); err != nil {
		return err
	}
	for _, s := range samples {
		for i := range s.Links {
			ref := refs[string(s.Links[i].Source)]
			s.Links[i].Package, s.Links[i].Verified = ref.pkg, ref.verified
		}
	}
	return nil
}
