package load

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/db"
	"github.com/hashr-dev/hashr/pkg/records"
)

// memoryRows is how many file rows of one source are kept in memory before
// the rest are spilled to a temporary file.
const memoryRows = 100_000

// maxBatchSources bounds a batch of sources with few or no files.
const maxBatchSources = 10_000

// interruptGrace bounds the commit of finished sources after SIGINT.
const interruptGrace = 30 * time.Second

// loader is one run of hashr-load: the source being read, the finished
// sources waiting for their commit, and what was committed so far.
type loader struct {
	p   *cli.Program
	o   options
	loc db.Location
	// stores are the committers' connections: two for PostgreSQL, so that
	// one batch is written while the next is sent; one for SQLite, which
	// has a single writer.
	stores []db.Loader
	out    *records.Writer
	// files decodes file records, slab holds their rows' digests and
	// strings: neither allocates per record.
	files fileDecoder
	slab  byteSlab

	open       *openSource
	batch      []*db.Source
	batchFiles int
	batchSince time.Time // when the batch's first source finished

	// Batches are committed by goroutines of their own (one per store), so
	// the next batch is read while the database writes the last one; turns
	// number them as they are formed (formedBatch).
	turns        db.Turns
	commits      chan formedBatch
	commitFailed chan struct{} // closed when a commit failed; commitErr says why
	commitErr    error
	failOnce     sync.Once
	committed    chan struct{} // closed when the committers have finished
	totalMu      sync.Mutex    // guards total, which the committers add to

	tempDirOnce sync.Once
	tempDir     string
	tempDirErr  error

	started time.Time
	total   totals
}

type totals struct {
	sources, done, partial, failed int
	files, newSamples              int64
	payloads                       int64
}

// openSource is a source whose end record has not arrived yet.
type openSource struct {
	rec *records.Source // nil when the source record itself was unreadable
	row *db.Source
	// sha256Hex is row.SHA256 in hex, which every file record's source
	// is compared with: made once, not per record.
	sha256Hex string
	// unloadable says why its files cannot be loaded (no sha256): only its
	// job is written, as failed.
	unloadable error

	messages     []string // error messages, for the job
	errorRecords int64
	loadErrors   int64
	// Trust: an error record without a path concerns the whole source (a
	// check covering every member failed); one with a path, that member
	// and whatever was read inside it.
	sourceErrors int64
	failedPaths  map[string]bool
	// failedWhy says why the whole source is failed, when hashr-load
	// itself found it so (its end record counts other files).
	failedWhy   string
	filesSeen   int64
	newFiles    int64
	noSHA256    int64
	firstNoHash string
}

func (s *openSource) hexSHA256() string { return s.sha256Hex }

// name says which source for people: its ID, else its URI, else its hash.
func (s *openSource) name() string {
	switch {
	case s.rec == nil:
		return "(unreadable source record)"
	case s.rec.ID != "":
		return s.rec.ID
	case s.rec.URI != "":
		return s.rec.URI
	}
	return s.rec.SHA256
}

// gcPercent is hashr-load's garbage collector target unless GOGC is set
// (cli.CollectLessOften). Its live heap is large (the batch being read and
// the two being committed, about 100 MB at the default --batch), and each
// collection marks all of it, while what it allocates is garbage by the
// next batch: at Go's default of 100 the collector and its write barriers
// were a quarter of its instructions. At 400, 23% fewer instructions for
// loadbench's 200,000 records and peak RSS 297 → 401 MiB (bench/README.md,
// load21h); since the file rows grow in chunks (db.FileRows), 231 → 296
// MiB (load21i).
const gcPercent = 400

// HugeHeap is how much of hashr-load's heap asks for huge pages, first in
// its main (hugeheap.Reserve): more than its peak at the default --batch
// (about 300 MB at GOGC=400, load21i), where it took a page fault for each
// 4 KiB, 65,000 over loadbench's 200,000 records, against 3,000 on huge
// pages (bench/README.md).
const HugeHeap = 512 << 20

func run(ctx context.Context, p *cli.Program, o options) error {
	defer cli.CollectLessOften(gcPercent)()
	loc, err := db.ParseLocation(o.dbURL)
	if err != nil {
		return cli.Usagef("--db: %w", err)
	}
	stores, err := openStores(ctx, p, o, loc)
	defer func() {
		for _, s := range stores {
			s.Close()
		}
	}()
	if err != nil {
		return err
	}
	// The rows spilled by runs that were killed are removed here, as
	// hashr-extract --clean-spool does for a spool.
	if n, err := removeDeadSpillDirs(); err != nil {
		p.Warnf("%v", err)
	} else if n > 0 {
		p.Verbosef("removed the spilled rows of %d hashr-load runs that died", n)
	}
	l := &loader{p: p, o: o, loc: loc, stores: stores, out: records.NewWriter(p.Stdout),
		started: time.Now()}
	// What it loads it does not write: the progress line counts what it reads.
	p.Meter().CountsItself()
	defer l.closeRows()
	err = l.consume(ctx)
	if ferr := l.out.Flush(); err == nil {
		err = ferr
	}
	if o.bulk {
		err = finishBulk(ctx, p, stores[0], err)
	}
	if err == nil {
		l.summary()
	}
	return err
}

// openStores opens the committers' connections: two for PostgreSQL, one
// for SQLite. With --bulk the first loads in bulk; the second, opened
// while the first holds the indexes dropped, leaves them to it.
func openStores(ctx context.Context, p *cli.Program, o options, loc db.Location) ([]db.Loader, error) {
	committers := 1
	if loc.Driver == db.Postgres {
		committers = 2
	}
	var stores []db.Loader
	for i := range committers {
		store, err := db.Open(ctx, loc, db.Options{
			Schema: o.schema, Payloads: o.payloads, PayloadMax: o.payloadMax, RetryFor: o.retryFor, Logf: p.Verbosef,
			Infof: p.Infof, Bulk: o.bulk && i == 0,
		})
		if err != nil {
			return stores, err
		}
		stores = append(stores, store)
		if bulk, ok := store.(db.BulkLoader); ok && o.bulk && i == 0 && bulk.BulkRefused() != "" {
			p.Warnf("--bulk: %s; loading it as usual, with its indexes", bulk.BulkRefused())
		}
	}
	return stores, nil
}

// finishBulk builds the indexes a bulk load dropped once the load
// succeeded (err nil); after a failed one, the next hashr-load does.
func finishBulk(ctx context.Context, p *cli.Program, store db.Loader, err error) error {
	bulk, ok := store.(db.BulkLoader)
	if !ok || bulk.BulkRefused() != "" {
		return err
	}
	if err != nil {
		p.Warnf("the indexes --bulk dropped are built by the next hashr-load into this database")
		return err
	}
	start := time.Now()
	if err := bulk.BuildIndexes(ctx); err != nil {
		return err
	}
	p.Verbosef("built the indexes in %s", time.Since(start).Round(time.Millisecond))
	return nil
}

type item struct {
	raw *records.Raw
	err error
}

// consume reads the input to its end, handing finished sources to the
// committer as batches fill up or wait too long.
func (l *loader) consume(ctx context.Context) error {
	// The committer's context outlives an interruption by interruptGrace,
	// so finished sources still commit after Ctrl-C.
	commitCtx, cancelCommits := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelCommits()
	l.startCommitter(commitCtx)
	err := l.read(ctx)
	if cli.IsInterrupted(err) {
		timer := time.AfterFunc(interruptGrace, cancelCommits)
		defer timer.Stop()
	} else if err != nil {
		cancelCommits()
	}
	close(l.commits)
	<-l.committed
	if err == nil {
		return l.commitErr
	}
	if l.commitErr != nil && !errors.Is(err, l.commitErr) {
		l.p.Errorf("%v", l.commitErr) // the run ends with err; this one is said too
	}
	return err
}

func (l *loader) read(ctx context.Context) error {
	items := make(chan item, 64)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		defer close(items)
		for raw, err := range l.p.Records(ctx, l.o.inputs) {
			select {
			case items <- item{raw, err}:
			case <-stop:
				return
			}
		}
	}()
	ticker := time.NewTicker(min(l.o.commitEvery, time.Second))
	defer ticker.Stop()
	for {
		// Records waiting are taken without a select over all three
		// channels, which locks each (a select per record was a tenth of
		// hashr-load's instructions per record); every fastTakes records
		// the select runs, so the ticker and a failed commit are seen
		// however fast the records come.
		for range fastTakes {
			var it item
			var ok bool
			select {
			case it, ok = <-items:
			default:
			}
			if !ok {
				break // none waiting, or the input ended: the select says which
			}
			if done, err := l.take(it); done {
				return err
			}
		}
		select {
		case it, ok := <-items:
			if !ok {
				if l.open != nil {
					l.abandon("the input ended before its end record")
				}
				return l.flush()
			}
			if done, err := l.take(it); done {
				return err
			}
		case <-ticker.C:
			if len(l.batch) > 0 && time.Since(l.batchSince) >= l.o.commitEvery {
				if err := l.flush(); err != nil {
					return err
				}
			}
		case <-l.commitFailed:
			return l.commitErr
		}
	}
}

// fastTakes bounds the records read takes between two looks at its
// ticker and a failed commit.
const fastTakes = 64

// take handles one item of the input; done says the read ends, with err.
func (l *loader) take(it item) (done bool, err error) {
	if cli.IsInterrupted(it.err) {
		return true, l.interrupted()
	}
	if it.err != nil {
		return true, it.err
	}
	if err := l.handle(it.raw); err != nil {
		return true, err
	}
	return false, nil
}

// interrupted hands over the sources that had finished (they are whole),
// but not the one being read, and ends the run.
func (l *loader) interrupted() error {
	if err := l.flush(); err != nil {
		l.p.Errorf("%v", err)
	}
	if l.open != nil {
		l.p.Errorf("source %s: interrupted before its end record: nothing of it was loaded", l.open.name())
		l.open.row.Files.Close()
		l.open = nil
	}
	return cli.ErrInterrupted
}

func (l *loader) handle(raw *records.Raw) error {
	l.p.Meter().Record(raw.Line)
	switch raw.Type {
	case records.TypeSource, records.TypeFile, records.TypeEnd:
	case records.TypeError:
		// Failures reach stdout whatever stage they come from.
		if err := l.out.WriteRaw(raw); err != nil {
			return err
		}
	default:
		return l.out.WriteRaw(raw)
	}
	var rec records.Record
	var err error
	if raw.Type == records.TypeFile {
		rec, err = l.files.decode(raw)
	} else {
		rec, err = raw.Decode()
	}
	if err != nil {
		return l.undecodable(raw, err)
	}
	switch r := rec.(type) {
	case *records.Source:
		return l.startSource(r)
	case *records.File:
		return l.addFile(r, raw.Where)
	case *records.Error:
		l.attachError(r)
	case *records.End:
		return l.endSource(r)
	}
	return nil
}

// undecodable handles a record of a known type with fields of the wrong
// JSON type. A source or end record that cannot be read leaves the source
// around it incomplete, so that source is not loaded.
func (l *loader) undecodable(raw *records.Raw, err error) error {
	switch raw.Type {
	case records.TypeSource:
		l.p.Failf("%v", err)
		if l.open != nil {
			l.abandon("its end record never came (a new source record began)")
		}
		// Its files and end record are dropped when they come.
		l.open = &openSource{unloadable: err, row: &db.Source{Files: db.NewFileRows(1, nil)}}
	case records.TypeEnd:
		l.p.Failf("%v", err)
		if l.open != nil {
			l.abandon("its end record is unreadable")
		}
	case records.TypeFile:
		if l.open == nil {
			l.p.Failf("%v", err)
			return nil
		}
		return l.memberFailed(raw.Where, err)
	default:
		l.p.Failf("%v", err)
	}
	return nil
}

func (l *loader) startSource(rec *records.Source) error {
	if l.open != nil {
		l.abandon("its end record never came (a new source record began)")
	}
	row, err := sourceRow(rec)
	s := &openSource{rec: rec, row: row}
	if row.SHA256 != nil {
		s.sha256Hex = hex.EncodeToString(row.SHA256)
	}
	row.Files = db.NewFileRows(memoryRows, l.spillDir)
	l.open = s
	if rec.Refused && rec.SHA256 == "" {
		return nil // no files will come: its job alone is recorded, failed by its error record
	}
	if err != nil {
		s.unloadable = err
		s.messages = append(s.messages, "load: "+err.Error())
		return l.reportSource(s, "", fmt.Sprintf("%v: its files cannot be loaded; its job is recorded as failed", err))
	}
	return nil
}

func (l *loader) addFile(f *records.File, where string) error {
	s := l.open
	if s == nil {
		l.p.Failf("%s: file record %q outside a source (no source record before it); not loaded", where, f.Path)
		return l.out.Write(&records.Error{Stage: "load", Source: f.Source, Path: f.Path,
			Message: "file record outside a source (no source record before it); not loaded"})
	}
	s.filesSeen++
	if s.unloadable != nil || s.rec.Refused {
		return nil // a refused source's files (a stage that read it anyway) are not trusted
	}
	if f.Source != "" && f.Source != s.hexSHA256() {
		return l.memberFailed(where, fmt.Errorf("file record %q belongs to source %s, not to %s, the source being read", f.Path, f.Source, s.name()))
	}
	row, err := fileRow(f, &l.slab)
	if errors.Is(err, errNoSHA256) {
		if s.noSHA256 == 0 {
			s.firstNoHash = f.Path
		}
		s.noSHA256++
		return nil
	}
	if err != nil {
		return l.memberFailed(where, fmt.Errorf("file %q: %w", f.Path, err))
	}
	if err := s.row.Files.Add(row); err != nil {
		return err // the temporary directory is full or gone: fatal
	}
	if !row.Seen {
		s.newFiles++
	}
	return nil
}

// memberFailed reports a file record of the open source that cannot be
// loaded; the source is loaded without it, and its job fails.
func (l *loader) memberFailed(where string, err error) error {
	s := l.open
	s.loadErrors++
	s.messages = append(s.messages, "load: "+err.Error())
	l.p.Failf("%s: source %s: %v", where, s.name(), err)
	e := &records.Error{Stage: "load", Source: s.hexSHA256(), Message: err.Error()}
	if s.rec != nil {
		e.ID, e.URI = s.rec.ID, s.rec.URI
	}
	return l.out.Write(e)
}

// attachError keeps an error record's message for the job of the source
// it concerns.
func (l *loader) attachError(e *records.Error) {
	s := l.open
	if s == nil || s.rec == nil {
		return
	}
	if e.Source != "" && e.Source != s.hexSHA256() && e.Source != s.rec.ID && e.Source != s.rec.URI && e.Source != s.rec.QuickSHA256 {
		return
	}
	s.errorRecords++
	s.messages = append(s.messages, errorText(e))
	if e.Path == "" {
		s.sourceErrors++
		return
	}
	if s.failedPaths == nil {
		s.failedPaths = map[string]bool{}
	}
	s.failedPaths[e.Path] = true
}

func (l *loader) endSource(e *records.End) error {
	s := l.open
	if s == nil {
		l.p.Failf("end record of %s without its source record before it; ignored", e.Source)
		return nil
	}
	if e.Source != "" && s.row != nil && s.row.SHA256 != nil && e.Source != s.hexSHA256() {
		l.abandon(fmt.Sprintf("the end record of another source (%s) came before its own", e.Source))
		return nil
	}
	l.open = nil
	if s.rec == nil { // its source record was unreadable: nothing to record
		s.row.Files.Close()
		return nil
	}
	if s.noSHA256 > 0 {
		msg := fmt.Sprintf("%d file records have no sha256 (the first: %q); run hashr-hash before hashr-load", s.noSHA256, s.firstNoHash)
		s.loadErrors++
		s.messages = append(s.messages, "load: "+msg)
		if err := l.reportSource(s, s.firstNoHash, msg); err != nil {
			return err
		}
	}
	if e.Files != s.filesSeen {
		// Files were lost on the way (a stage dropped them, the stream was
		// cut): what arrived cannot be taken for the whole source.
		s.failedWhy = fmt.Sprintf("its end record counts %d files, %d file records arrived: files were lost between the stages", e.Files, s.filesSeen)
		s.loadErrors++
		s.messages = append([]string{"load: " + s.failedWhy}, s.messages...)
		if err := l.reportSource(s, "", s.failedWhy+"; its job is recorded as failed, and its samples are not trusted"); err != nil {
			return err
		}
	}
	s.row.Job = l.jobOf(s, e)
	s.row.FailedPaths = s.failedPaths
	if s.row.SHA256 == nil && s.row.QuickSHA256 == nil {
		s.row.Files.Close() // neither a source row nor a job to write
		return nil
	}
	if len(l.batch) == 0 {
		l.batchSince = time.Now()
	}
	l.batch = append(l.batch, s.row)
	l.batchFiles += s.row.Files.Len()
	if l.batchFiles >= l.o.batchFiles || len(l.batch) >= maxBatchSources {
		return l.flush()
	}
	return nil
}

// jobOf is the job of a source whose end record e arrived: done; partial
// when only members failed (their samples are not trusted, the others
// are); failed when a check covering every member failed, when errors were
// counted whose records did not arrive, or when its files could not be
// loaded at all.
func (l *loader) jobOf(s *openSource, e *records.End) db.Job {
	errorsCount := max(e.Errors, s.errorRecords) + s.loadErrors
	if s.unloadable != nil {
		errorsCount++
	}
	job := db.Job{
		Status: db.StatusDone, FilesExtracted: e.Files, FilesLoaded: int64(s.row.Files.Len()),
		NewFiles: s.newFiles, Errors: errorsCount, Bytes: e.Bytes, MS: e.MS,
	}
	if errorsCount == 0 {
		return job
	}
	unseen := e.Errors - s.errorRecords // counted upstream, records not here: scope unknown
	switch {
	case s.unloadable != nil, s.failedWhy != "", s.sourceErrors > 0, unseen > 0:
		job.Status = db.StatusFailed
		job.Error = jobErrors(s.messages, errorsCount)
	default:
		job.Status = db.StatusPartial
		members := int64(len(s.failedPaths)) + s.loadErrors
		job.Error = jobErrors(append([]string{fmt.Sprintf("%d of its members failed their own checks; its other samples are trusted", members)}, s.messages...), errorsCount+1)
	}
	return job
}

// abandon drops the open source: its end record will not come.
func (l *loader) abandon(why string) {
	s := l.open
	l.open = nil
	s.row.Files.Close()
	if s.rec == nil {
		return
	}
	_ = l.reportSource(s, "", why+": nothing of it was loaded")
}

// reportSource reports a failure concerning a whole source.
func (l *loader) reportSource(s *openSource, path, msg string) error {
	l.p.Failf("source %s: %s", s.name(), msg)
	source := s.hexSHA256()
	if source == "" {
		source = s.rec.URI
	}
	return l.out.Write(&records.Error{Stage: "load", Source: source, ID: s.rec.ID, URI: s.rec.URI, Path: path, Message: msg})
}

// formedBatch is a batch of finished sources and its turn: a source can
// be in two batches (loaded twice in one stream), which two committers
// load at once, and its status is its last load's, so the later batch
// commits after the earlier one (db.Turns).
type formedBatch struct {
	turn    *db.Turn
	sources []*db.Source
}

// flush hands the finished sources to the committer, waiting while it is
// busy with the batch before.
func (l *loader) flush() error {
	if len(l.batch) == 0 {
		return nil
	}
	turn := l.turns.Next()
	select {
	case l.commits <- formedBatch{turn, l.batch}:
	case <-l.commitFailed:
		turn.Pass()
		return l.commitErr
	}
	l.batch, l.batchFiles = nil, 0
	return nil
}

func (l *loader) startCommitter(ctx context.Context) {
	l.commits = make(chan formedBatch)
	l.commitFailed = make(chan struct{})
	l.committed = make(chan struct{})
	var wg sync.WaitGroup
	for _, store := range l.stores {
		wg.Go(func() {
			for batch := range l.commits {
				select {
				case <-l.commitFailed: // drain: nothing more is committed
					batch.turn.Pass()
				default:
					if err := l.commit(ctx, store, batch); err != nil {
						l.failOnce.Do(func() {
							l.commitErr = err
							close(l.commitFailed)
						})
					}
				}
				closeSources(batch.sources)
			}
		})
	}
	go func() {
		wg.Wait()
		close(l.committed)
	}()
}

// commit writes a batch of finished sources in one transaction.
func (l *loader) commit(ctx context.Context, store db.Loader, formed formedBatch) error {
	start := time.Now()
	batch := formed.sources
	st, err := loadInTurn(ctx, store, formed)
	if err != nil {
		return fmt.Errorf("%w; nothing of these sources was committed: run the pipeline again once the database is back", err)
	}
	for _, pr := range st.Problems {
		l.p.Failf("source %x: %s: %v", pr.Source, pr.Path, pr.Err)
		if err := l.out.Write(&records.Error{Stage: "load", Source: hex.EncodeToString(pr.Source), Path: pr.Path, Message: pr.Err.Error()}); err != nil {
			return err
		}
	}
	l.totalMu.Lock()
	defer l.totalMu.Unlock()
	for _, s := range batch {
		l.total.sources++
		switch s.Job.Status {
		case db.StatusDone:
			l.total.done++
		case db.StatusPartial:
			l.total.partial++
		default:
			l.total.failed++
		}
	}
	l.total.files += st.Files
	l.total.newSamples += st.NewSamples
	l.total.payloads += st.Payloads
	retried := ""
	if st.Attempts > 1 {
		retried = fmt.Sprintf(", after %d attempts", st.Attempts)
	}
	if st.Fallbacks > 0 {
		retried += fmt.Sprintf(", written again through the upserts %d time(s): another loader wrote some of its new rows first", st.Fallbacks)
	}
	l.p.Verbosef("committed %d sources, %d files, %d new samples in %s%s", len(batch), st.Files, st.NewSamples,
		time.Since(start).Round(time.Millisecond), retried)
	return nil
}

// loadInTurn loads a batch in its turn into a store that keeps turns (the
// two committers' PostgreSQL); SQLite's single committer loads the batches
// in the order they were formed.
func loadInTurn(ctx context.Context, store db.Loader, b formedBatch) (db.Stats, error) {
	if ordered, ok := store.(db.OrderedLoader); ok {
		return ordered.LoadInTurn(ctx, b.turn, b.sources)
	}
	b.turn.Pass()
	return store.Load(ctx, b.sources)
}

func closeSources(batch []*db.Source) {
	for _, s := range batch {
		s.Files.Close()
	}
}

func (l *loader) closeRows() {
	closeSources(l.batch)
	if l.open != nil {
		l.open.row.Files.Close()
	}
}

// spillDir is the run's directory for spilled rows, made when first needed
// and removed however the run ends.
func (l *loader) spillDir() (string, error) {
	l.tempDirOnce.Do(func() {
		var lock *os.File
		l.tempDir, lock, l.tempDirErr = makeSpillDir()
		if l.tempDirErr == nil {
			dir := l.tempDir
			l.p.OnExit(func() { os.RemoveAll(dir); lock.Close() })
		}
	})
	return l.tempDir, l.tempDirErr
}

func (l *loader) summary() {
	t := l.total
	payloads := ""
	if l.o.payloads {
		payloads = fmt.Sprintf(", %d payloads", t.payloads)
	}
	l.p.Infof("loaded %d sources (%d done, %d partial, %d failed), %d files, %d new samples%s into %s in %s",
		t.sources, t.done, t.partial, t.failed, t.files, t.newSamples, payloads, l.loc, time.Since(l.started).Round(time.Millisecond))
}
