package lookup

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"os"
	"runtime"
	"time"

	"github.com/hashr-dev/hashr/internal/bloom"
	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/db"
	"github.com/hashr-dev/hashr/internal/ordered"
	"github.com/hashr-dev/hashr/pkg/records"
)

// query is one input item on its way to the output: a record to pass on
// unchanged, an error to report, or a digest to look up.
type query struct {
	pass    *records.Raw   // written unchanged
	failure *records.Error // written, and reported on stderr
	where   string         // where in the input, for messages

	file *records.File // a file record to look up and write with its answer
	hash *hashRecord   // or a bare hash

	by     string   // db.BySHA256, db.BySHA1 or db.ByMD5
	key    []byte   // the raw digest
	keyBuf [32]byte // holds a file's key, in the query's own allocation

	known   bool
	matches []*db.SampleLinks
}

// knower answers the queries of a batch.
type knower interface {
	resolve(ctx context.Context, batch []*query) error
	// inputEnded says that every query has been made: the batches left
	// are all there is to look up.
	inputEnded()
	Close() error
}

// batchWait is how long a batch that is not full waits for more input
// before it is looked up anyway: a slow producer (stdin typed by hand, a
// pipeline upstream) still gets its answers promptly.
const batchWait = 20 * time.Millisecond

// lookupWorkers is how many batches are looked up at once.
const lookupWorkers = 4

// lookupWorkersFor is how many batches are looked up at once: in SQLite
// one per CPU, up to lookupWorkers, on as many connections once the input
// has ended and on one before (openDatabase); else lookupWorkers. A
// SQLite lookup is CPU work in this process (modernc's SQLite reading and
// stepping pages), so one connection is one CPU's worth: the keys hashed
// but not yet looked up when the hashing ended (1,441-3,880 of
// /usr/share/man's 21,574 against the bench's 3M-sample set) were looked
// up on one CPU while the others idled. More connections than CPUs were
// batches waiting for one, each holding its thousand records (1,500 more
// page faults a run with 4 on the 2-vCPU VM).
func lookupWorkersFor(o *options) int {
	if o.bloom == "" && o.loc.Driver == db.SQLite {
		return min(runtime.GOMAXPROCS(0), lookupWorkers)
	}
	return lookupWorkers
}

// gcPercent is hashr-lookup's garbage collector target unless GOGC is set
// (cli.CollectLessOften). Its live heap is a few MB (the queries in
// flight, a batch's answers) and nearly all it allocates is garbage by
// the next batch: over /usr/share/man it was collected 12-14 times at
// Go's default of 100, 5 at 200 and 2-3 at 400 (GODEBUG=gctrace=1;
// hashr-hash 5-6). But each MB the heap grows by is 256 pages touched for
// the first time, a page fault each (about 11 µs of CPU on the 2-vCPU VM,
// three 4 KiB preads): at 400 a run took 11,760-13,502 minor faults, at
// 200 8,755-11,048, at 100 6,682-7,237 (hashr-hash 4,953-5,347). 200
// keeps 8 of the 10 collections that 400 saved, for 40% of the faults it
// added.
const gcPercent = 200

// HugeHeap is how much of hashr-lookup's heap asks for huge pages, first
// in its main (cli.Exec): more than its heap reaches over
// /usr/share/man (RSS 70-90 MB, SQLite's page cache, on huge pages of its
// own, included). There its 7,000 page faults became 2,000
// (bench/README.md).
const HugeHeap = 128 << 20

// run looks up every input item, in batches on lookupWorkers goroutines,
// while the producer (hashPaths or readStdin) makes the next queries, and
// writes the answers in input order.
func run(ctx context.Context, p *cli.Program, o *options) error {
	defer cli.CollectLessOften(gcPercent)()
	// Over files, the database opens while the first of them are hashed:
	// SQLite reading its schema and faulting its page cache in
	// (db.ReservePageCache) came before the first file was read. Not over
	// stdin, where the producer reports bad lines on stderr as it reads
	// them: a database that fails to open says so alone.
	openWhileHashing := len(o.paths) > 0 && o.bloom == ""
	var k knower
	var err error
	if openWhileHashing {
		o.lookBy = databaseLookBy // before the producer reads it
	} else if k, err = openKnower(ctx, o); err != nil {
		return err
	}
	w := records.NewWriter(p.Stdout)
	queries, produced, stopProducing := produce(ctx, p, o)
	defer stopProducing()
	if openWhileHashing {
		if k, err = openDatabase(ctx, o); err != nil {
			stopProducing()
			for range queries { // let the producer see it is stopped
			}
			<-produced
			return err
		}
	}
	defer k.Close()
	var tally tally
	// Batches are looked up by several goroutines at once (each with a
	// connection of its own), and written in input order: a database
	// answers a batch faster than one goroutine can wait for it.
	resolve := func(batch []*query) resolved { return resolved{batch, k.resolve(ctx, lookups(batch))} }
	err = ordered.Map(ctx, lookupWorkersFor(o), batches(queries, o.batch, k.inputEnded), resolve, tally.writer(p, w, o))
	if err != nil {
		stopProducing()
		for range queries { // let the producer see it is stopped
		}
	}
	if perr := <-produced; err == nil {
		err = perr
	}
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if errors.Is(err, context.Canceled) || ctx.Err() != nil {
		return cli.ErrInterrupted
	}
	if err != nil {
		return err
	}
	p.Infof("looked up %d digests: %d known, %d unknown", tally.known+tally.unknown, tally.known, tally.unknown)
	return nil
}

// openKnower opens what answers the lookups, a Bloom filter or the
// database, and sets o.lookBy to the digests it can answer for.
func openKnower(ctx context.Context, o *options) (knower, error) {
	o.lookBy = databaseLookBy
	if o.bloom == "" {
		return openDatabase(ctx, o)
	}
	k, err := openBloom(o.bloom)
	if err != nil {
		return nil, err
	}
	o.lookBy = []string{k.f.Key} // a filter knows one kind of digest
	return k, nil
}

// databaseLookBy are the digests a database answers for, in order of
// preference.
var databaseLookBy = []string{db.BySHA256, db.BySHA1, db.ByMD5}

// produce starts the goroutine that makes the queries: from the files
// under the PATH arguments, or from stdin. It closes queries when done and
// then sends its error to produced; stop makes it stop early.
func produce(ctx context.Context, p *cli.Program, o *options) (queries chan *query, produced chan error, stop context.CancelFunc) {
	queries = make(chan *query, 2*o.batch)
	produced = make(chan error, 1)
	pctx, stop := context.WithCancel(ctx)
	go func() {
		defer close(queries)
		send := func(q *query) error {
			select {
			case queries <- q:
				return nil
			case <-pctx.Done():
				return pctx.Err()
			}
		}
		if len(o.paths) > 0 {
			produced <- hashPaths(pctx, p, o, send)
		} else {
			produced <- readStdin(pctx, p, o, send)
		}
	}()
	return queries, produced, stop
}

// batches groups the queries into batches of up to size, each sent when
// it is full or when batchWait passed since its first query; ended is
// called once the queries have ended, before the last batch is sent.
func batches(queries <-chan *query, size int, ended func()) iter.Seq[[]*query] {
	return func(yield func([]*query) bool) {
		timer := time.NewTimer(batchWait)
		defer timer.Stop()
		for open := true; open; {
			q, ok := <-queries
			if !ok {
				ended()
				return
			}
			batch := make([]*query, 1, size)
			batch[0] = q
			timer.Reset(batchWait)
			if batch, open = fill(batch, queries, timer.C); !open {
				ended()
			}
			if !yield(batch) {
				return
			}
		}
	}
}

// fill adds queries to batch until it is full or the timer fires; open is
// false when the queries ran out.
func fill(batch []*query, queries <-chan *query, timer <-chan time.Time) (_ []*query, open bool) {
	for len(batch) < cap(batch) {
		select {
		case q, ok := <-queries:
			if !ok {
				return batch, false
			}
			batch = append(batch, q)
		case <-timer:
			return batch, true
		}
	}
	return batch, true
}

// resolved is a batch with its answers, or the error that looking it up
// met.
type resolved struct {
	batch []*query
	err   error
}

// tally counts the digests looked up, for the summary.
type tally struct{ known, unknown int64 }

// writer returns the function that writes each resolved batch in turn.
func (t *tally) writer(p *cli.Program, w *records.Writer, o *options) func(resolved) error {
	rw := newRecordWriter(p, w, o)
	return func(r resolved) error {
		if r.err != nil {
			return r.err
		}
		for _, q := range r.batch {
			if q.key != nil && q.known {
				t.known++
			} else if q.key != nil {
				t.unknown++
			}
			if err := rw.write(q); err != nil {
				return err
			}
		}
		return nil
	}
}

// lookups are the queries of a batch that have a digest to look up.
func lookups(batch []*query) []*query {
	var out []*query
	for _, q := range batch {
		if q.key != nil {
			out = append(out, q)
		}
	}
	return out
}

// databaseKnower looks digests up in a hashr database, one query per
// digest kind per batch.
type databaseKnower struct {
	r *db.Reader
	// endConns is how many connections the batches left once the input
	// ended are looked up on (0: as many as from the start).
	endConns int
}

func openDatabase(ctx context.Context, o *options) (knower, error) {
	if o.loc.Driver == db.SQLite {
		// SQLite's page caches in one buffer on huge pages: fewer page
		// faults, fewer reads (a larger cache), and nothing to give back
		// at close (db.ReservePageCache). Where the system gives no huge
		// pages, SQLite has started in this process already (a test's) or
		// the memory cannot be mapped, SQLite keeps its own allocator and
		// its default cache, as it would anyway.
		_ = db.ReservePageCache(lookupWorkersFor(o))
	}
	r, err := db.OpenOnePassReader(ctx, o.loc)
	if err != nil {
		return nil, err
	}
	r.IncludeFailed, r.MaxSources = o.includeFailed, o.maxSources
	k := &databaseKnower{r: r}
	if o.loc.Driver == db.SQLite {
		// One connection while the input goes on, the batches in turn,
		// and one for each batch looked up at once after. Another
		// connection costs this process page faults: its own page cache
		// and modernc's SQLite memory (over /usr/share/man's 21,574
		// sha256 on stdin, 5,198-6,213 minor faults a run on one
		// connection, 10,082-12,415 on two, half of them under
		// sqlite3MemMalloc and pcache1AllocPage by perf's page-faults).
		// For the last batches they are worth it: the others would wait.
		r.SetConnections(1)
		k.endConns = lookupWorkersFor(o)
	}
	return k, nil
}

func (k *databaseKnower) Close() error { return k.r.Close() }

func (k *databaseKnower) inputEnded() {
	if k.endConns > 0 {
		k.r.SetConnections(k.endConns)
	}
}

func (k *databaseKnower) resolve(ctx context.Context, batch []*query) error {
	keys := make([][]byte, 0, len(batch))
	for _, by := range databaseLookBy {
		keys = keys[:0]
		for _, q := range batch {
			if q.by == by {
				keys = append(keys, q.key)
			}
		}
		if len(keys) == 0 {
			continue
		}
		found, err := k.r.Lookup(ctx, by, keys)
		if err != nil {
			return err
		}
		for _, q := range batch {
			if q.by == by {
				q.matches = found[string(q.key)]
				q.known = len(q.matches) > 0
			}
		}
	}
	return nil
}

// bloomKnower answers from a Bloom filter held in memory.
type bloomKnower struct{ f *bloom.Filter }

func openBloom(path string) (*bloomKnower, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening the Bloom filter %q: %w", path, cli.Cause(err))
	}
	defer file.Close()
	f, err := bloom.Read(file)
	if err != nil {
		return nil, fmt.Errorf("reading the Bloom filter %q: %w", path, err)
	}
	return &bloomKnower{f: f}, nil
}

func (k *bloomKnower) Close() error { return nil }

func (k *bloomKnower) inputEnded() {}

func (k *bloomKnower) resolve(_ context.Context, batch []*query) error {
	for _, q := range batch {
		// Every key is of the filter's kind (options.lookBy).
		q.known, _ = k.f.Has(q.key)
	}
	return nil
}
