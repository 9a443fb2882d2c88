package store

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// quietLogger keeps Pebble's messages out of the test output.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any)           {}
func (quietLogger) Errorf(string, ...any)          {}
func (quietLogger) Fatalf(format string, a ...any) { panic(fmt.Sprintf(format, a...)) }

func digest(i int) Key {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(i))
	return sha256.Sum256(b[:])
}

func openTest(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir, Options{MinFreeBytes: -1, Fatal: func(msg string) { panic(msg) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mark(t *testing.T, m *Marker, ids ...int) []bool {
	t.Helper()
	items := make([]Item, len(ids))
	for i, id := range ids {
		items[i] = Item{Key: digest(id), Source: digest(-1), HasSource: true}
	}
	seen := make([]bool, len(items))
	if err := m.Mark(items, seen, time.Unix(100, 0)); err != nil {
		t.Fatal(err)
	}
	return seen
}

func TestMarkWithinAndAcrossChunksAndRuns(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	m := s.NewMarker()
	if got, want := mark(t, m, 1, 2, 1, 3, 2, 2), []bool{false, false, true, false, true, true}; !slices.Equal(got, want) {
		t.Fatalf("first chunk: seen %v, want %v", got, want)
	}
	if got, want := mark(t, m, 4, 3, 4), []bool{false, true, true}; !slices.Equal(got, want) {
		t.Fatalf("second chunk: seen %v, want %v", got, want)
	}
	e, ok, err := s.Lookup(digest(4))
	if err != nil || !ok || !e.HasSource || e.Source != digest(-1) || !e.FirstSeen.Equal(time.Unix(100, 0)) {
		t.Fatalf("Lookup: %+v %v %v", e, ok, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir)
	if got, want := mark(t, s.NewMarker(), 5, 1, 2, 3, 4, 5), []bool{false, true, true, true, true, true}; !slices.Equal(got, want) {
		t.Fatalf("after reopening: seen %v, want %v", got, want)
	}
	st, err := s.Stats(false)
	if err != nil || st.Keys != 5 {
		t.Fatalf("stats: %+v %v", st, err)
	}
}

// Large random chunks against a map, the obvious implementation.
func TestMarkAgainstAMap(t *testing.T) {
	s := openTest(t, t.TempDir())
	m := s.NewMarker()
	known := map[int]bool{}
	r := rand.New(rand.NewPCG(1, 1))
	for range 20 {
		ids := make([]int, 1+r.IntN(3000))
		for i := range ids {
			ids[i] = r.IntN(20000)
		}
		got := mark(t, m, ids...)
		for i, id := range ids {
			if got[i] != known[id] {
				t.Fatalf("digest %d: seen=%v, want %v", id, got[i], known[id])
			}
			known[id] = true
		}
	}
	st, err := s.Stats(false)
	if err != nil || st.Keys != int64(len(known)) {
		t.Fatalf("stats: %+v %v; want %d keys", st, err, len(known))
	}
}

func TestSeedSpillsMergesAndKeepsFirstSeen(t *testing.T) {
	s := openTest(t, t.TempDir())
	// Digest 7 is in the store before the seed, with a source and an
	// earlier time: the seed must not replace them.
	mark(t, s.NewMarker(), 7)
	sd, err := s.NewSeeder(time.Unix(200, 0))
	if err != nil {
		t.Fatal(err)
	}
	const n = seedRunKeys*2 + 1000 // three runs spilled and merged
	for i := range n {
		if err := sd.Add(digest(i % (n - 500))); err != nil { // 500 duplicates
			t.Fatal(err)
		}
	}
	st, err := sd.Finish(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Digests != n || st.Distinct != n-500 || st.Tables < 2 {
		t.Fatalf("seed stats %+v", st)
	}
	stats, err := s.Stats(false)
	if err != nil || stats.Keys != n-500 {
		t.Fatalf("store stats %+v %v, want %d keys", stats, err, n-500)
	}
	e, ok, _ := s.Lookup(digest(7))
	if !ok || !e.HasSource || !e.FirstSeen.Equal(time.Unix(100, 0)) {
		t.Fatalf("digest 7 after the seed: %+v", e)
	}
	e, ok, _ = s.Lookup(digest(8))
	if !ok || e.HasSource || !e.FirstSeen.Equal(time.Unix(200, 0)) {
		t.Fatalf("digest 8 after the seed: %+v", e)
	}
	got := mark(t, s.NewMarker(), 0, n-501, n-500, 9)
	if want := []bool{true, true, false, true}; !slices.Equal(got, want) {
		t.Fatalf("after the seed: seen %v, want %v", got, want)
	}
	entries, _ := os.ReadDir(s.Dir())
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), seedDirPrefix) {
			t.Fatalf("seed left %s behind", e.Name())
		}
	}
}

func TestSortKeys(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	keys := make([]Key, 100000)
	for i := range keys {
		keys[i] = digest(r.IntN(50000))
		if i%10 == 0 {
			keys[i][0], keys[i][1] = 7, 7 // a crowded bucket
		}
	}
	want := slices.Clone(keys)
	slices.SortFunc(want, compareKeys)
	sortKeys(keys)
	if !slices.Equal(keys, want) {
		t.Fatal("sortKeys does not sort")
	}
}

func TestSecondOpenIsALockError(t *testing.T) {
	dir := t.TempDir()
	openTest(t, dir)
	_, err := Open(dir, Options{})
	var le *LockedError
	if !errors.As(err, &le) || le.LockFile != filepath.Join(dir, "LOCK") || !strings.Contains(err.Error(), "LOCK") {
		t.Fatalf("second Open: %v", err)
	}
}

func TestRefusesDirectoriesThatAreNotStores(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "thesis.odt"), []byte("x"), 0o644)
	_, err := Open(dir, Options{})
	if err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("Open of a directory with documents: %v", err)
	}
	logs := t.TempDir() // only logs, but not Pebble's numbered WALs
	os.WriteFile(filepath.Join(logs, "notes.log"), []byte("x"), 0o644)
	if _, err := Open(logs, Options{}); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("Open of a directory of logs: %v", err)
	}
	if _, serr := os.Stat(filepath.Join(dir, "LOCK")); serr == nil {
		t.Fatal("Open wrote into the directory anyway")
	}

	// A Pebble database of someone else's.
	other := t.TempDir()
	db, err := pebble.Open(other, &pebble.Options{Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	db.Set([]byte("k"), []byte("v"), pebble.Sync)
	db.Close()
	if _, err := Open(other, Options{}); err == nil || !strings.Contains(err.Error(), "not a hashr store") {
		t.Fatalf("Open of another Pebble database: %v", err)
	}
}

// A store written by an older Pebble format is read (and upgraded); one of
// another hashr store format, or of a Pebble format too old, is refused
// with a message saying so.
func TestOlderStores(t *testing.T) {
	dir := t.TempDir()
	db, err := pebble.Open(dir, &pebble.Options{FormatMajorVersion: pebble.FormatMinSupported, Merger: firstSeenMerger, Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	k := digest(1)
	db.Set(formatKey, []byte("1"), pebble.Sync)
	db.Set(k[:], appendValue(nil, time.Unix(5, 0), nil), pebble.Sync)
	db.Close()
	s := openTest(t, dir)
	if _, ok, err := s.Lookup(k); !ok || err != nil {
		t.Fatalf("digest in the older store: %v %v", ok, err)
	}
	if s.db.FormatMajorVersion() != pebble.FormatNewest {
		t.Fatalf("store not upgraded: format %d", s.db.FormatMajorVersion())
	}
	s.Close()

	// A newer store format.
	db, _ = pebble.Open(dir, &pebble.Options{Merger: firstSeenMerger, Logger: quietLogger{}})
	db.Set(formatKey, []byte("2"), pebble.Sync)
	db.Close()
	_, err = Open(dir, Options{})
	var he *HintedError
	if !errors.As(err, &he) || !strings.Contains(err.Error(), `store format "2"`) {
		t.Fatalf("Open of a format 2 store: %v", err)
	}

	// A Pebble format older than this Pebble reads: its marker file says so.
	old := t.TempDir()
	db, _ = pebble.Open(old, &pebble.Options{FormatMajorVersion: pebble.FormatMinSupported, Logger: quietLogger{}})
	db.Close()
	entries, _ := os.ReadDir(old)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "marker.format-version.") {
			parts := strings.Split(e.Name(), ".")
			parts[len(parts)-1] = "001" // FormatMostCompatible, long unsupported
			os.Rename(filepath.Join(old, e.Name()), filepath.Join(old, strings.Join(parts, ".")))
		}
	}
	_, err = Open(old, Options{})
	if !errors.As(err, &he) || !strings.Contains(err.Error(), "cannot read") {
		t.Fatalf("Open of a too old store: %v", err)
	}
}

func TestFreeSpaceGuard(t *testing.T) {
	s, err := Open(t.TempDir(), Options{MinFreeBytes: 1 << 62})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	seen := make([]bool, 1)
	err = s.NewMarker().Mark([]Item{{Key: digest(1)}}, seen, time.Now())
	if !errors.Is(err, ErrDiskFull) {
		t.Fatalf("Mark on a full disk: %v", err)
	}
	// Nothing was added: the digest is still new.
	if _, ok, _ := s.Lookup(digest(1)); ok {
		t.Fatal("a refused write was stored")
	}
}

// A store whose creation was killed (kill -9 of hashr-dedup in its first
// moments, as test/faults does) holds only what Pebble writes before its
// manifest: its LOCK, a WAL, a temporary file. The next run opens it
// rather than refusing the directory as someone else's.
func TestOpensAStoreWhoseCreationWasKilled(t *testing.T) {
	for _, files := range [][]string{{"LOCK"}, {"LOCK", "000002.log"}, {"LOCK", "000001.dbtmp"}} {
		dir := t.TempDir()
		for _, name := range files {
			if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		s, err := Open(dir, Options{})
		if err != nil {
			t.Fatalf("Open of a store killed while created (%v): %v", files, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
