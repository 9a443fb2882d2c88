package db

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/hashr-dev/hashr/internal/db/citustest"
	"github.com/hashr-dev/hashr/internal/db/dbtest"
	"github.com/hashr-dev/hashr/internal/db/pgtest"
)

// fullContent is content with every digest a sample can hold.
func fullContent(path, data string) File {
	f := content(path, data)
	f.SHA512, f.CRC32, f.BLAKE3 = []byte("sha512 "+data), []byte("crc "+data), []byte("blake3 "+data)
	f.SSDEEP, f.TLSH = "3:ssdeep"+data, "T1"+data
	return f
}

// withoutColumn clears samplesColumns[i+1] of f.
func withoutColumn(f File, i int) File {
	switch i {
	case 0:
		f.MD5 = nil
	case 1:
		f.SHA1 = nil
	case 2:
		f.SHA512 = nil
	case 3:
		f.CRC32 = nil
	case 4:
		f.BLAKE3 = nil
	case 5:
		f.SSDEEP = ""
	case 6:
		f.TLSH = ""
	case 7:
		f.Size = -1
	case 8:
		f.MIME = ""
	}
	return f
}

// A sample that exists is not written by COPY, but a later load still
// gives it each column it lacked: the probe says which it lacks.
func TestLaterLoadFillsEachMissingColumn(t *testing.T) {
	url := pgtest.Start(t).NewDatabase(t)
	l := open(t, url, Options{})
	var partial, full []File
	for i := range len(samplesColumns) - 1 {
		f := fullContent(fmt.Sprintf("f%d", i), fmt.Sprintf("data %d", i))
		partial, full = append(partial, withoutColumn(f, i)), append(full, f)
	}
	load(t, l, source(t, "first.deb", partial...))
	st := load(t, l, source(t, "second.deb", full...))
	if st.NewSamples != 0 {
		t.Fatalf("%d new samples, want 0", st.NewSamples)
	}
	complete := "SELECT count(*) FROM samples WHERE md5 IS NOT NULL AND sha1 IS NOT NULL AND sha512 IS NOT NULL AND crc32 IS NOT NULL AND blake3 IS NOT NULL AND ssdeep IS NOT NULL AND tlsh IS NOT NULL AND size IS NOT NULL AND mime IS NOT NULL"
	if got := dbtest.Count(t, url, complete); got != int64(len(full)) {
		t.Fatalf("%d of %d samples hold every column after the second load", got, len(full))
	}
}

// racingBatches are two loaders' batches with samples in common: shared
// is new to the database when both start.
func racingBatches(t *testing.T) (mine, theirs []*Source) {
	shared := []File{fullContent("usr/lib/shared", "shared"), content("usr/share/doc/c", "common")}
	mine = []*Source{
		source(t, "mine.deb", append([]File{content("usr/bin/mine", "mine")}, shared...)...),
		source(t, "mine-too.deb", content("etc/mine", "mine"), content("etc/c", "common")),
	}
	partialShared := withoutColumn(withoutColumn(shared[0], 0), 5)
	theirs = []*Source{source(t, "theirs.deb", content("usr/bin/theirs", "theirs"), partialShared, shared[1])}
	return mine, theirs
}

// When another loader commits some of a batch's new samples between the
// probe and the COPY, the COPY fails on the key and the batch is written
// again through the upserts: the database ends as after the two loads one
// after the other, and the fallback is counted.
func TestDirectCopyFallsBackWhenAnotherLoaderWins(t *testing.T) {
	pg := pgtest.Start(t)
	checkFallback(t, pg.NewDatabase(t), pg.NewDatabase(t))
}

// Citus loads through the upserts alone: the direct path's probe costs its
// coordinator shards times keys (canCopyDirect).
func TestCitusLoadsWithoutTheProbe(t *testing.T) {
	cluster := citustest.Start(t, 2)
	url := cluster.NewDatabase(t)
	probed := false
	beforeDirectCopy = func(context.Context) { probed = true }
	t.Cleanup(func() { beforeDirectCopy = nil })
	mine, theirs := racingBatches(t)
	load(t, open(t, url, Options{}), append(theirs, mine...)...)
	if probed {
		t.Fatal("a batch on Citus took the direct path")
	}
}

// checkFallback races a load into racedURL with another loader's and
// compares with the same loads one after the other into serial.
func checkFallback(t *testing.T, racedURL, serial string) {

	mine, theirs := racingBatches(t)
	// The other loader is another process's: it does not wait for this
	// one's turn (directTurn).
	l, other := open(t, racedURL, Options{}), open(t, racedURL+"&application_name=other", Options{})
	raced := false
	beforeDirectCopy = func(ctx context.Context) {
		beforeDirectCopy = nil // the other loader's COPY goes through
		load(t, other, theirs...)
		raced = true
	}
	t.Cleanup(func() { beforeDirectCopy = nil })
	st := load(t, l, mine...)
	// Of mine's three samples, the other loader wrote two first.
	if !raced || st.Fallbacks != 1 || st.NewSamples != 1 {
		t.Fatalf("raced %v, stats %+v: want 1 fallback and 1 new sample", raced, st)
	}

	mine, theirs = racingBatches(t)
	s := open(t, serial, Options{})
	load(t, s, theirs...)
	load(t, s, mine...)
	if d := dbtest.Diff(dbtest.Dump(t, serial), dbtest.Dump(t, racedURL)); d != "" {
		t.Fatalf("raced load vs the same loads one after the other:\n%s", d)
	}

	// The same stream again takes the direct path, finds everything
	// there, and changes nothing.
	before := dbtest.Dump(t, racedURL)
	mine, theirs = racingBatches(t)
	if st := load(t, l, mine...); st.NewSamples != 0 || st.Fallbacks != 0 {
		t.Fatalf("reload: %+v, want no new samples and no fallback", st)
	}
	load(t, other, theirs...)
	if d := dbtest.Diff(before, dbtest.Dump(t, racedURL)); d != "" {
		t.Fatalf("loading again changed the database:\n%s", d)
	}
}

// Loaders of two processes (two URLs: directTurn does not order them)
// racing on the same new samples, batch after batch: one COPY waits on the
// other's uncommitted rows, then fails on their keys, and writes its batch
// again through the upserts; the database ends as a serial load leaves it.
func TestRacingLoadersEndAsSerialLoad(t *testing.T) {
	// Both loaders probe each batch's samples before either writes them:
	// each batch, one COPY loses.
	var mu sync.Mutex
	var waiting chan struct{}
	beforeDirectCopy = func(ctx context.Context) {
		mu.Lock()
		if waiting == nil {
			ch := make(chan struct{})
			waiting = ch
			mu.Unlock()
			<-ch
			return
		}
		close(waiting)
		waiting = nil
		mu.Unlock()
	}
	t.Cleanup(func() { beforeDirectCopy = nil })
	fallbacks := raceLoaders(t, func(url string, n int) string { return fmt.Sprintf("%s&application_name=loader%d", url, n) })
	if fallbacks != 6 {
		t.Errorf("%d fallbacks, want one per batch (6)", fallbacks)
	}
}

// The loaders of one process (hashr-load's committers) take turns: they
// never lose a COPY to each other.
func TestOneProcessLoadersTakeTurns(t *testing.T) {
	if fallbacks := raceLoaders(t, func(url string, n int) string { return url }); fallbacks != 0 {
		t.Errorf("%d fallbacks, want none", fallbacks)
	}
}

// raceLoaders loads 6 batches with two loaders at once, each opened on
// urlOf(the database, its number), the same samples in each one's batch
// b; it checks that the database ends as a serial load of the same
// batches leaves it, and returns the fallbacks.
func raceLoaders(t *testing.T, urlOf func(url string, n int) string) int {
	pg := pgtest.Start(t)
	raced, serial := pg.NewDatabase(t), pg.NewDatabase(t)
	batches := func(loader int) [][]*Source {
		var out [][]*Source
		for b := range 6 {
			var files []File
			for i := range 40 {
				files = append(files, fullContent(fmt.Sprintf("f/%d", i), fmt.Sprintf("%d-%d", b, i)))
			}
			out = append(out, []*Source{source(t, fmt.Sprintf("loader%d-batch%d.deb", loader, b), files...)})
		}
		return out
	}
	var wg sync.WaitGroup
	fallbacks := make([]int, 2)
	for n := range 2 {
		l := open(t, urlOf(raced, n), Options{})
		mine := batches(n)
		wg.Go(func() {
			for _, b := range mine {
				st, err := l.Load(context.Background(), b)
				if err != nil {
					t.Error(err)
					return
				}
				fallbacks[n] += st.Fallbacks
			}
		})
	}
	wg.Wait()
	beforeDirectCopy = nil
	s := open(t, serial, Options{})
	for n := range 2 {
		for _, b := range batches(n) {
			load(t, s, b...)
		}
	}
	if d := dbtest.Diff(dbtest.Dump(t, serial), dbtest.Dump(t, raced)); d != "" {
		t.Fatalf("racing loaders vs a serial load:\n%s", d)
	}
	return fallbacks[0] + fallbacks[1]
}
