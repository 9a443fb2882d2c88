package store

import (
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/cockroachdb/pebble/v2"
)

// Stats describes a store.
type Stats struct {
	Dir string
	// Keys is the number of digests; exact unless Estimated.
	Keys      int64
	Estimated bool
	// DiskBytes is the size of the store's directory.
	DiskBytes int64
	// Tables is the number of sstables; Format is the store's format and
	// PebbleFormat the format version of the underlying Pebble database.
	Tables       int64
	Format       int
	PebbleFormat uint64
}

// Stats counts the store's digests, exactly by reading every key, or with
// estimate from the tables' entry counts, which is instant but counts a
// digest twice while a seed's copy of it has not been compacted with the
// first.
func (s *Store) Stats(estimate bool) (Stats, error) {
	if err := s.Flush(); err != nil {
		return Stats{}, err
	}
	st := Stats{Dir: s.dir, Format: Format, PebbleFormat: uint64(s.db.FormatMajorVersion())}
	m := s.db.Metrics()
	st.Tables = m.Total().TablesCount
	if estimate {
		st.Estimated = true
		tables, err := s.db.SSTables(pebble.WithProperties())
		if err != nil {
			return st, fmt.Errorf("reading store %q: %w", s.dir, err)
		}
		for _, level := range tables {
			for _, t := range level {
				if t.Properties != nil {
					st.Keys += int64(t.Properties.NumEntries) - int64(t.Properties.NumDeletions)
				}
			}
		}
		st.Keys = max(st.Keys-1, 0) // the format key
	} else {
		it, err := s.db.NewIter(&pebble.IterOptions{})
		if err != nil {
			return st, fmt.Errorf("reading store %q: %w", s.dir, err)
		}
		for valid := it.First(); valid; valid = it.Next() {
			if len(it.Key()) == KeySize {
				st.Keys++
			}
		}
		if err := it.Close(); err != nil {
			return st, fmt.Errorf("reading store %q: %w", s.dir, err)
		}
	}
	err := filepath.WalkDir(s.dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // a file removed while walking
		}
		if info, ierr := d.Info(); ierr == nil && d.Type().IsRegular() {
			st.DiskBytes += info.Size()
		}
		return nil
	})
	return st, err
}

// Metrics describes the store's LSM tree for people: levels, tables,
// compactions, cache hit rates.
func (s *Store) Metrics() string { return s.db.Metrics().String() }
