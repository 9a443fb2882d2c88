package db

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

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
	// The other loader is another process's: it does not know this one's
	// claims (claimBatch).
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

// Loaders of two processes (two URLs: claimBatch does not order them)
// racing on the same new samples, batch after batch: one COPY waits on the
// other's uncommitted rows, then fails on their keys, and writes its batch
// again through the upserts; the database ends as a serial load leaves it.
func TestRacingLoadersEndAsSerialLoad(t *testing.T) {
	// Both loaders probe each batch's samples before either writes them:
	// each batch, one COPY loses.
	beforeDirectCopy, _ = pairCopies(0)
	t.Cleanup(func() { beforeDirectCopy = nil })
	fallbacks := raceLoaders(t, false)
	if fallbacks != 6 {
		t.Errorf("%d fallbacks, want one per batch (6)", fallbacks)
	}
}

// The loaders of one process (hashr-load's committers) claim their samples
// (claimBatch): they never lose a COPY to each other.
func TestOneProcessLoadersDoNotRace(t *testing.T) {
	if fallbacks := raceLoaders(t, true); fallbacks != 0 {
		t.Errorf("%d fallbacks, want none", fallbacks)
	}
}

// The loaders of one process overlap: one writes its new samples while the
// other's transaction is open (they claim each other's samples in process,
// claimBatch, instead of taking turns from the probe to the commit; the
// turns of their batches order the claims alone), and still never lose a
// COPY to each other.
func TestOneProcessLoadersOverlap(t *testing.T) {
	// A COPY that waits 2 s for the other loader's found its transaction
	// closed: that one waited for this one's commit.
	var alone func() int
	beforeDirectCopy, alone = pairCopies(2 * time.Second)
	t.Cleanup(func() { beforeDirectCopy = nil })
	fallbacks := raceLoaders(t, true)
	if alone := alone(); alone > 0 || fallbacks != 0 {
		t.Errorf("%d of 12 COPYs ran alone (want none: the other loader's COPY waited for a commit), %d fallbacks (want none)", alone, fallbacks)
	}
}

// pairCopies is a beforeDirectCopy that holds each COPY of new samples
// until another loader's arrives, so that the two run at once. With
// patience 0 a COPY waits for its partner as long as it takes; else, one
// no other joins within patience goes on alone, and alone counts those.
func pairCopies(patience time.Duration) (hook func(context.Context), alone func() int) {
	var mu sync.Mutex
	var waiting chan struct{} // the COPY waiting for a partner's
	lonely := 0
	hook = func(ctx context.Context) {
		mu.Lock()
		if waiting != nil {
			close(waiting)
			waiting = nil
			mu.Unlock()
			return
		}
		ch := make(chan struct{})
		waiting = ch
		mu.Unlock()
		var giveUp <-chan time.Time // nil, never ready, when patience is 0
		if patience > 0 {
			giveUp = time.After(patience)
		}
		select {
		case <-ch:
		case <-giveUp:
			mu.Lock()
			if waiting == ch { // no partner came in time (one that did closed ch)
				waiting = nil
				lonely++
			}
			mu.Unlock()
		}
	}
	alone = func() int {
		mu.Lock()
		defer mu.Unlock()
		return lonely
	}
	return hook, alone
}

// raceLoaders loads 6 batches with two loaders at once, the same samples
// in each one's batch b; it checks that the database ends as a serial
// load of the same batches leaves it, and returns the fallbacks. The
// loaders of oneProcess share a URL, as hashr-load's committers do, and
// load in turns, loader 0's batch b before loader 1's; else each has a
// URL of its own (claimBatch does not order them), as two processes.
func raceLoaders(t *testing.T, oneProcess bool) int {
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
	var turns Turns
	inTurn := make([][2]*Turn, 6) // nil, no order, for two processes
	for b := range inTurn {
		if oneProcess {
			inTurn[b] = [2]*Turn{turns.Next(), turns.Next()}
		}
	}
	var wg sync.WaitGroup
	fallbacks := make([]int, 2)
	for n := range 2 {
		url := raced
		if !oneProcess {
			url = fmt.Sprintf("%s&application_name=loader%d", raced, n)
		}
		l := open(t, url, Options{}).(OrderedLoader)
		mine := batches(n)
		wg.Go(func() {
			for i, b := range mine {
				st, err := l.LoadInTurn(context.Background(), inTurn[i][n], b)
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

// Two batches of one process with the same source do not run at once: a
// re-run of a failed source fails its links that the batch does not bring
// (distrust) before the wait for the earlier batches, and the earlier one
// may be upserting the same links; the later batch waits for it before
// its first transaction, holding nothing.
func TestOneProcessBatchesOfOneSourceDoNotDeadlock(t *testing.T) {
	pg := pgtest.Start(t)
	raced, serial := pg.NewDatabase(t), pg.NewDatabase(t)
	failed := func() *Source {
		s := source(t, "rerun.deb", content("usr/bin/one", "one"))
		s.Job.Status, s.Job.Error, s.Job.Errors = StatusFailed, "extract: truncated", 1
		return s
	}
	first := func() *Source { return source(t, "rerun.deb", content("usr/bin/one-moved", "one")) }
	second := func() *Source { return source(t, "rerun.deb", content("usr/bin/two", "two")) }
	load(t, open(t, raced, Options{}), failed())

	// The first batch, its samples claimed, waits at its COPY for the
	// second to reach its own, then lets it go ahead.
	atCopy, secondArrived := make(chan struct{}), make(chan struct{})
	var once sync.Once
	beforeDirectCopy = func(ctx context.Context) {
		first := false
		once.Do(func() { first = true })
		if !first {
			close(secondArrived)
			return
		}
		close(atCopy)
		select {
		case <-secondArrived:
			time.Sleep(300 * time.Millisecond) // the second's distrust runs
		case <-time.After(2 * time.Second): // it waits for this one, as it should
		}
	}
	t.Cleanup(func() { beforeDirectCopy = nil })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a, b := open(t, raced, Options{}), open(t, raced, Options{})
	errs := make(chan error, 2)
	go func() { _, err := a.Load(ctx, []*Source{first()}); errs <- err }()
	<-atCopy
	go func() { _, err := b.Load(ctx, []*Source{second()}); errs <- err }()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatalf("loading batches of one source at once: %v", err)
		}
	}
	beforeDirectCopy = nil

	s := open(t, serial, Options{})
	load(t, s, failed())
	load(t, s, first())
	load(t, s, second())
	if d := dbtest.Diff(dbtest.Dump(t, serial), dbtest.Dump(t, raced)); d != "" {
		t.Fatalf("batches of one source at once vs one after the other:\n%s", d)
	}
}

// heldKey marks, in the context of a Load, a batch that beforeDirectCopy
// holds between its probe and its COPY of new samples.
type heldKey struct{}

type held struct {
	arrived, release chan struct{}
	once             sync.Once
}

// Two processes with two batches each in flight, whose new samples cross:
// A's later batch writes x by COPY and waits for A's earlier batch, which
// writes y by COPY after B's later batch did, which waits for B's earlier
// batch, which writes x by COPY after A's later batch did. The waits
// between one process's batches are advisory locks the server sees, so its
// deadlock detector breaks the cycle and the aborted batch is written
// again; load21d's waits in process hung here until the deadline. The
// database ends as the four batches loaded one after the other.
func TestWaitCycleAcrossProcessesIsBroken(t *testing.T) {
	pg := pgtest.Start(t)
	raced, serial := pg.NewDatabase(t), pg.NewDatabase(t)
	x, y := fullContent("usr/lib/x", "x"), fullContent("usr/lib/y", "y")
	batch := func(id string, f File) []*Source {
		return []*Source{source(t, id, f, content("usr/bin/"+id, id))}
	}
	a1, a2, b1, b2 := batch("a1.deb", y), batch("a2.deb", x), batch("b1.deb", x), batch("b2.deb", y)

	beforeDirectCopy = holdAtCopy
	t.Cleanup(func() { beforeDirectCopy = nil })
	// Each process's two loaders share a URL, as hashr-load's committers
	// do; application_name tells the processes apart here.
	procA, procB := raced+"&application_name=proc_a", raced+"&application_name=proc_b"
	la1, la2, lb1, lb2 := open(t, procA, Options{}), open(t, procA, Options{}), open(t, procB, Options{}), open(t, procB, Options{})

	const deadline = 45 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	results := make(chan loadResult, 4)
	run := func(name string, l Loader, ctx context.Context, b []*Source) {
		go func() {
			st, err := l.Load(ctx, b)
			results <- loadResult{name, st, err}
		}()
	}
	hold := func(name string, l Loader, b []*Source) *held {
		h := &held{arrived: make(chan struct{}), release: make(chan struct{})}
		run(name, l, context.WithValue(ctx, heldKey{}, h), b)
		select {
		case <-h.arrived:
		case <-ctx.Done():
			t.Fatalf("%s did not reach its COPY", name)
		}
		return h
	}
	// The earlier batches claim first, and stop before their COPY.
	ha1, hb1 := hold("A's earlier batch", la1, a1), hold("B's earlier batch", lb1, b1)
	run("A's later batch", la2, ctx, a2)
	run("B's later batch", lb2, ctx, b2)
	// The later batches' first write is their COPY of x and y.
	check := dbtest.Open(t, raced)
	waitUntilWriting(t, ctx, check)
	close(ha1.release)
	close(hb1.release)

	if collect(t, results, deadline, check) == 0 {
		t.Error("no batch was retried or written again: the waits formed no cycle, so the test proves nothing")
	}
	beforeDirectCopy = nil
	checkSerial(t, Options{}, raced, serial, a1, a2, b1, b2)
}

// holdAtCopy is beforeDirectCopy holding the batches marked held.
func holdAtCopy(ctx context.Context) {
	if h, ok := ctx.Value(heldKey{}).(*held); ok {
		h.once.Do(func() { close(h.arrived) })
		select {
		case <-h.release:
		case <-ctx.Done():
		}
	}
}

// checkSerial compares the database at raced with the batches loaded one
// after the other into serial, by a loader opened with opts.
func checkSerial(t *testing.T, opts Options, raced, serial string, batches ...[]*Source) {
	t.Helper()
	s := open(t, serial, opts)
	for _, b := range batches {
		load(t, s, b...)
	}
	if d := dbtest.Diff(dbtest.Dump(t, serial), dbtest.Dump(t, raced)); d != "" {
		t.Fatalf("batches loaded at once vs one after the other:\n%s", d)
	}
}

// waitUntilWriting waits until a session of each of proc_a and proc_b
// has written (has a transaction ID).
func waitUntilWriting(t *testing.T, ctx context.Context, check *sql.DB) {
	t.Helper()
	for {
		var writing int
		if err := check.QueryRow(`SELECT count(DISTINCT application_name) FROM pg_stat_activity
			WHERE application_name IN ('proc_a', 'proc_b') AND backend_xid IS NOT NULL`).Scan(&writing); err != nil {
			t.Fatal(err)
		}
		if writing == 2 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatal("the later batches did not write their new samples")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

type loadResult struct {
	name string
	st   Stats
	err  error
}

// collect waits for the four loads, failing the test on an error or when
// they still wait after deadline; it returns how many were retried or
// written again.
func collect(t *testing.T, results chan loadResult, deadline time.Duration, check *sql.DB) (broken int) {
	t.Helper()
	for range 4 {
		select {
		case r := <-results:
			if r.err != nil {
				t.Fatalf("%s: %v\n%s", r.name, r.err, activity(check))
			}
			t.Logf("%s: %d attempt(s), %d fallback(s)", r.name, r.st.Attempts, r.st.Fallbacks)
			if r.st.Attempts > 1 || r.st.Fallbacks > 0 {
				broken++
			}
		case <-time.After(deadline + 5*time.Second):
			t.Fatalf("the batches still wait after %s: a wait cycle the server does not see\n%s", deadline, activity(check))
		}
	}
	return broken
}

// activity is what the test's sessions are doing, for a failure message.
func activity(db *sql.DB) string {
	rows, err := db.Query(`SELECT application_name, coalesce(state, ''), coalesce(wait_event_type, ''), coalesce(wait_event, ''), left(query, 60)
		FROM pg_stat_activity WHERE application_name LIKE 'proc_%'`)
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var app, state, waitType, wait, query string
		if err := rows.Scan(&app, &state, &waitType, &wait, &query); err != nil {
			return err.Error()
		}
		fmt.Fprintf(&b, "%s %s %s/%s %q\n", app, state, waitType, wait, query)
	}
	return b.String()
}

// A source loaded twice in one stream (scanned again after a failed run,
// or the same bytes under another name) can be in two batches that
// hashr-load's two committers load at once. Its status and job are its
// last load's, so the batch formed later commits later even when it
// reaches the database first: here the later batch's load begins alone,
// and the earlier one's only once the later one has ended or waits for
// its turn. On the direct path, on the upserts alone (a batch too large
// to sort), and in HashR's layout, where the failed load, committed last,
// would remove the links the re-run vouches for.
func TestBatchesOfOneSourceCommitInStreamOrder(t *testing.T) {
	pg := pgtest.Start(t)
	for _, c := range []struct {
		name      string
		opts      Options
		sortedMax int
	}{
		{"direct", Options{}, sortedBatchMax},
		{"upserts", Options{}, 0},
		{"hashr", Options{Schema: SchemaHashR}, sortedBatchMax},
	} {
		t.Run(c.name, func(t *testing.T) {
			saved := sortedBatchMax
			sortedBatchMax = c.sortedMax
			t.Cleanup(func() { sortedBatchMax = saved })
			raced, serial := pg.NewDatabase(t), pg.NewDatabase(t)
			failed := []*Source{source(t, "rescanned.deb", content("usr/bin/one", "one"), content("usr/bin/two", "two"))}
			failed[0].Job.Status, failed[0].Job.Error, failed[0].Job.Errors = StatusFailed, "extract: truncated", 1
			rescanned := []*Source{source(t, "rescanned.deb", content("usr/bin/one", "one"), content("usr/bin/two", "two"))}

			var turns Turns
			earlierTurn, laterTurn := turns.Next(), turns.Next()
			laterWaits, laterDone := make(chan struct{}), make(chan struct{})
			waitingForTurn = func(context.Context) { close(laterWaits) }
			t.Cleanup(func() { waitingForTurn = nil })
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			earlier, later := open(t, raced, c.opts).(OrderedLoader), open(t, raced, c.opts).(OrderedLoader)
			var laterErr error
			go func() {
				defer close(laterDone)
				_, laterErr = later.LoadInTurn(ctx, laterTurn, rescanned)
			}()
			select {
			case <-laterWaits:
			case <-laterDone:
			}
			if _, err := earlier.LoadInTurn(ctx, earlierTurn, failed); err != nil {
				t.Fatalf("loading the earlier batch: %v", err)
			}
			if <-laterDone; laterErr != nil {
				t.Fatalf("loading the later batch: %v", laterErr)
			}
			waitingForTurn = nil
			checkSerial(t, c.opts, raced, serial, failed, rescanned)
		})
	}
}

// The links probe looks each of the batch's keys up in samples_sources'
// key, whatever the planner thinks of a table just filled and not yet
// analysed: as a join, 10,000 keys against 50,000 links were a hash join
// over the whole table, as at every batch of a load (bench/README.md,
// load21f-server).
func TestLinksProbeLooksKeysUp(t *testing.T) {
	pg := pgtest.Start(t)
	url := pg.NewDatabase(t)
	open(t, url, Options{}).Close()
	ctx := context.Background()
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `
INSERT INTO samples_sources (sample_sha256, source_sha256, paths)
SELECT sha256(i::text::bytea), sha256(('source ' || i % 500)::bytea), '{p}' FROM generate_series(1, 50000) i`); err != nil {
		t.Fatal(err)
	}
	var samples, sources [][]byte
	for i := range 10000 {
		samples = append(samples, []byte(fmt.Sprintf("sample %d", i)))
		sources = append(sources, []byte(fmt.Sprintf("source %d", i%500)))
	}
	rows, err := db.QueryContext(ctx, "EXPLAIN "+pgProbeLinks, samples, sources)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, line)
	}
	if p := strings.Join(plan, "\n"); strings.Contains(p, "Seq Scan on samples_sources") || !strings.Contains(p, "Index") {
		t.Errorf("the links probe does not look its keys up in the index:\n%s", p)
	}
}

// A source the database does not hold has no link, so a held sample's link
// in it is not probed (pgProbeSources). A link left without its source
// (its row deleted by hand) is then met by the direct COPY's key check:
// the batch is written through the upserts, and the database ends as a
// load of the source into one that never had it.
func TestLinkWithoutItsSourceFallsBack(t *testing.T) {
	pg := pgtest.Start(t)
	url, fresh := pg.NewDatabase(t), pg.NewDatabase(t)
	l := open(t, url, Options{})
	again := func() *Source {
		return source(t, "a.deb", content("usr/bin/a", "A"), content("usr/bin/b", "B"))
	}
	load(t, l, source(t, "a.deb", content("usr/bin/a", "A")))
	if _, err := dbtest.Open(t, url).Exec("DELETE FROM sources; DELETE FROM jobs"); err != nil {
		t.Fatal(err)
	}
	if st := load(t, l, again()); st.Fallbacks != 1 || st.NewSamples != 1 {
		t.Fatalf("stats %+v: want 1 fallback and 1 new sample", st)
	}
	load(t, open(t, fresh, Options{}), again())
	if d := dbtest.Diff(dbtest.Dump(t, fresh), dbtest.Dump(t, url)); d != "" {
		t.Fatalf("after the fallback vs a load into a database that never had the source:\n%s", d)
	}
}
