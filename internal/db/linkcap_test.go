package db

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"testing"
)

// A sample in more sources than Reader.MaxSources is answered with the
// first of them by SHA-256, trusted ones only, and the count of all; the
// database sends no more rows than the cap, by every digest, on SQLite and
// PostgreSQL alike.
func TestMaxSourcesCapsLinksInTheQuery(t *testing.T) {
	const sources, failed, limit = 15, 3, 5
	shared := content("usr/share/common-licenses/GPL", "a text in every package")
	few := content("usr/bin/few", "in two packages")
	ids := make([]string, sources)
	for i := range ids {
		ids[i] = fmt.Sprintf("pkg%02d.deb", i)
	}
	// The sources that sort first fail: a cap applied before the trust
	// filter would answer with them, or with fewer than the cap.
	slices.SortFunc(ids, func(a, b string) int { return bytes.Compare(sourceSHA(a), sourceSHA(b)) })
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			l := open(t, b.url, Options{})
			var batch []*Source
			for i, id := range ids {
				files := []File{shared}
				if i >= sources-2 {
					files = append(files, few)
				}
				s := source(t, id, files...)
				if i < failed {
					s.Job.Status = StatusFailed
				}
				batch = append(batch, s)
			}
			load(t, l, batch...)
			r := openReader(t, b.url)
			r.MaxSources = limit
			checkCapped(t, r, shared, ids[failed:failed+limit], sources-failed)
			checkCapped(t, r, few, ids[sources-2:], 2)
			r.IncludeFailed = true
			checkCapped(t, r, shared, ids[:limit], sources)
			r.IncludeFailed, r.MaxSources = false, 0
			checkCapped(t, r, shared, ids[failed:], sources-failed)
		})
	}
}

func sourceSHA(id string) []byte {
	s := sha256.Sum256([]byte("source " + id))
	return s[:]
}

// checkCapped looks f up by each digest and checks that it is answered
// with the sources wantIDs (in that order) of total, and that the database
// sent a row for each of them (the sha256 lookup without a cap also
// reads the failed links, which it drops itself) and one more.
func checkCapped(t *testing.T, r *Reader, f File, wantIDs []string, total int) {
	t.Helper()
	for _, by := range []struct {
		name string
		key  []byte
	}{{BySHA256, f.SHA256}, {BySHA1, f.SHA1}, {ByMD5, f.MD5}} {
		before := r.linkRowsRead.Load()
		found, err := r.Lookup(context.Background(), by.name, [][]byte{by.key})
		if err != nil {
			t.Fatal(err)
		}
		rows := r.linkRowsRead.Load() - before
		samples := found[string(by.key)]
		if len(samples) != 1 {
			t.Fatalf("%s by %s: %d samples, want 1", f.Path, by.name, len(samples))
		}
		var got []string
		for _, l := range samples[0].Links {
			got = append(got, l.IDs...)
		}
		if !slices.Equal(got, wantIDs) || samples[0].Total != int64(total) {
			t.Errorf("%s by %s (max %d): %v of %d, want %v of %d", f.Path, by.name, r.MaxSources, got, samples[0].Total, wantIDs, total)
		}
		// One past the cap says the sample has more; the count is a row
		// of its own.
		if want := min(total, r.MaxSources+1); r.MaxSources > 0 && rows != int64(want) {
			t.Errorf("%s by %s (max %d): %d rows read, want %d", f.Path, by.name, r.MaxSources, rows, want)
		}
	}
}

// A capped batch by sha256 answers every key, those before, between and
// after keys over the cap, each with its first links: SQLite reads the
// keys in turn and stops its statement at a key over the cap, then goes
// on with the keys after it. The database sends each key's links up to
// one past the cap, no more.
func TestCappedLookupAnswersTheKeysAfterOnesOverTheCap(t *testing.T) {
	const sources, limit = 12, 4
	shared := []File{content("usr/share/common-licenses/GPL", "a text in every package"),
		content("usr/share/common-licenses/MIT", "another text in every package")}
	ids := make([]string, sources)
	own := make([]File, sources)
	for i := range ids {
		ids[i] = fmt.Sprintf("pkg%02d.deb", i)
		own[i] = content(fmt.Sprintf("usr/bin/own%02d", i), "only in "+ids[i])
	}
	byIDs := slices.Clone(ids)
	slices.SortFunc(byIDs, func(a, b string) int { return bytes.Compare(sourceSHA(a), sourceSHA(b)) })
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			l := open(t, b.url, Options{})
			var batch []*Source
			for i, id := range ids {
				batch = append(batch, source(t, id, shared[0], shared[1], own[i]))
			}
			load(t, l, batch...)
			r := openReader(t, b.url)
			r.MaxSources = limit
			keys := [][]byte{shared[0].SHA256, shared[1].SHA256}
			for _, f := range own {
				keys = append(keys, f.SHA256)
			}
			before := r.linkRowsRead.Load()
			found, err := r.Lookup(context.Background(), BySHA256, keys)
			if err != nil {
				t.Fatal(err)
			}
			if rows, want := r.linkRowsRead.Load()-before, int64(2*(limit+1)+sources); rows != want {
				t.Errorf("%d link rows read, want %d: %d for each key over the cap, 1 for each other", rows, want, limit+1)
			}
			if len(found) != len(keys) {
				t.Errorf("%d of %d keys found", len(found), len(keys))
			}
			for i, f := range append(slices.Clone(shared), own...) {
				want, total := byIDs[:limit], sources
				if i >= len(shared) {
					want, total = []string{ids[i-len(shared)]}, 1
				}
				samples := found[string(f.SHA256)]
				if len(samples) != 1 {
					t.Errorf("%s: %d samples, want 1", f.Path, len(samples))
					continue
				}
				var got []string
				for _, l := range samples[0].Links {
					got = append(got, l.IDs...)
				}
				if !slices.Equal(got, want) || samples[0].Total != int64(total) {
					t.Errorf("%s: %v of %d, want %v of %d", f.Path, got, samples[0].Total, want, total)
				}
			}
		})
	}
}
