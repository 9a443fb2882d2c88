package db

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Batches of every size find exactly their known keys, by every digest,
// with LookupSamples reading the samples' own rows; the statements are
// prepared once per padded length, and the connections that several
// batches at once open stay open: database/sql closed all but 2 of them
// after each batch, so the next one started with a cold page cache and
// prepared its statements again.
func TestBatchLookupsKeepConnectionsAndStatements(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			var files []File
			for i := range 300 {
				files = append(files, content(fmt.Sprintf("f%d", i), fmt.Sprintf("file %d", i)))
			}
			load(t, open(t, b.url, Options{}), source(t, "a.deb", files...))
			r := openReader(t, b.url)
			ctx := context.Background()
			var wg sync.WaitGroup
			errs := make(chan error, 40)
			for worker := range 8 {
				wg.Go(func() {
					for _, n := range []int{1, 3, 64, 65, 300} {
						errs <- lookupBatch(ctx, r, files, n, worker)
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			if st := r.db.Stats(); st.MaxIdleClosed > 0 || st.OpenConnections > maxReaderConns {
				t.Errorf("%d connections closed as idle, %d open: want all %d kept", st.MaxIdleClosed, st.OpenConnections, maxReaderConns)
			}
			// 4 queries (by sha256, sha256 with the samples' rows, sha1, md5)
			// × 5 lengths (1, 4, 64, 128, 512), and the sources' query.
			if n := len(r.stmts); n > 4*5+5 {
				t.Errorf("%d statements prepared for 5 batch lengths", n)
			}
		})
	}
}

// lookupBatch looks up n keys by each digest, every other one unknown, and
// checks the answers.
func lookupBatch(ctx context.Context, r *Reader, files []File, n, salt int) error {
	for _, by := range []string{BySHA256, BySHA1, ByMD5} {
		var keys [][]byte
		for i := range n {
			f := files[(i*7+salt)%len(files)]
			key := map[string][]byte{BySHA256: f.SHA256, BySHA1: f.SHA1, ByMD5: f.MD5}[by]
			if i%2 == 1 {
				key = append([]byte{}, key...)
				key[0] ^= 0x5a // unknown
			}
			keys = append(keys, key)
		}
		lookup := r.Lookup
		if salt%2 == 1 {
			lookup = r.LookupSamples
		}
		found, err := lookup(ctx, by, keys)
		if err != nil {
			return err
		}
		for i, key := range keys {
			got := found[string(key)]
			if known := i%2 == 0; (len(got) == 1) != known {
				return fmt.Errorf("by %s, %d keys: key %d found %d times", by, n, i, len(got))
			}
			if len(got) == 1 && salt%2 == 1 && (got[0].MD5 == nil || got[0].SHA1 == nil || got[0].Size < 0) {
				return fmt.Errorf("LookupSamples by %s: sample without its row: %+v", by, got[0].Sample)
			}
		}
	}
	return nil
}

// Capped lookups in SQLite (hashr-lookup's default) send their keys as one
// parameter, a JSON array, whatever their number: one statement a query
// for every batch length, where 1,024 "(?)" rows of a VALUES list made a
// statement of each length, which SQLite parsed for as long as it ran.
func TestCappedSQLiteLookupsPrepareOneStatementForEveryLength(t *testing.T) {
	var files []File
	for i := range 300 {
		files = append(files, content(fmt.Sprintf("f%d", i), fmt.Sprintf("file %d", i)))
	}
	url := "sqlite:" + filepath.Join(t.TempDir(), "set.db")
	load(t, open(t, url, Options{}), source(t, "a.deb", files...))
	r := openReader(t, url)
	r.MaxSources = DefaultMaxSources
	ctx := context.Background()
	for _, n := range []int{1, 3, 64, 65, 300} {
		for salt := range 2 { // Lookup, then LookupSamples
			if err := lookupBatch(ctx, r, files, n, salt); err != nil {
				t.Fatal(err)
			}
		}
	}
	capped := 0
	for query := range r.stmts {
		if strings.Contains(query, sqliteKeyTable) {
			capped++
		}
	}
	// By sha256, and with the samples' rows by sha256, sha1 and md5.
	if capped != 4 {
		t.Errorf("%d capped lookup statements prepared for 5 batch lengths, want 4 (one a query)", capped)
	}
}

// SQLite's capped lookups take their keys as one blob cut at one width:
// keys of two widths in one batch are refused, never cut out of line
// into keys that were not asked for.
func TestSQLiteKeyTableRefusesKeysOfTwoWidths(t *testing.T) {
	f := content("usr/bin/a", "a")
	url := "sqlite:" + filepath.Join(t.TempDir(), "set.db")
	load(t, open(t, url, Options{}), source(t, "a.deb", f))
	r := openReader(t, url)
	r.MaxSources = DefaultMaxSources
	ctx := context.Background()
	found, err := r.Lookup(ctx, BySHA256, [][]byte{f.SHA256})
	if err != nil || len(found[string(f.SHA256)]) != 1 {
		t.Fatalf("by its sha256: %v, %v", found, err)
	}
	if _, err := r.Lookup(ctx, BySHA256, [][]byte{f.SHA256, f.SHA256[:20]}); err == nil || !strings.Contains(err.Error(), "of one digest") {
		t.Fatalf("keys of 32 and 20 bytes: %v, want an error", err)
	}
}

// compareDigests orders as bytes.Compare: keys that differ in their
// first 8 bytes, keys that share them, and keys of other lengths.
func TestCompareDigestsOrdersAsBytes(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	key := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.IntN(3)) * 0x7f // few values: many equal prefixes
		}
		return b
	}
	sign := func(n int) int { return min(max(n, -1), 1) }
	for range 20000 {
		a, b := key(r.IntN(22)), key(r.IntN(22))
		if got, want := sign(compareDigests(a, b)), bytes.Compare(a, b); got != want {
			t.Fatalf("compareDigests(%x, %x) = %d, want %d", a, b, got, want)
		}
	}
}
