// Package store is hashr-dedup's on-disk set of known SHA-256 digests: an
// embedded LSM key-value store (Pebble) whose keys are the raw 32 bytes of
// each digest, so the set can hold billions of them in flat memory. The
// value says when a digest was first seen and in which source.
//
// The store is an accelerator, never the truth (DESIGN.md): losing it, or
// losing its last writes in a crash, only means some files are hashed and
// loaded again.
package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
)

// KeySize is the size of every digest key: a SHA-256.
const KeySize = 32

// Key is a raw SHA-256 digest.
type Key [KeySize]byte

// Format is the layout of the store's keys and values this package writes.
// It is kept in the store under formatKey; a store of another format is
// refused rather than misread.
const Format = 1

// formatKey holds the store's Format. It is shorter than a digest, so it
// can never be mistaken for one.
var formatKey = []byte("hashr-store-format")

// Options tune a store; the zero value is what hashr-dedup uses.
type Options struct {
	// MemTableBytes is the size of Pebble's memtable (default 4 MiB): new
	// digests bypass it (see pending.go), so it stays nearly empty.
	MemTableBytes uint64
	// CacheBytes is the block cache size beyond the memtables, which Pebble
	// counts against the cache (default 48 MiB, which holds the Bloom
	// filters and indexes of some 30 million digests; past that, lookups
	// read them from the page cache, and memory stays the same).
	CacheBytes int64
	// MinFreeBytes is how much free space the store's disk must keep:
	// writes stop with ErrDiskFull below it rather than fill the disk.
	// Default 64 MiB; -1 turns the check off.
	MinFreeBytes int64
	// Warnf receives the store's warnings (nil: dropped).
	Warnf func(format string, args ...any)
	// Fatal is called when the store hits an error it cannot recover from
	// inside a background write (a full disk during a flush). It must not
	// return; the default prints msg to stderr and exits with status 1. The
	// store on disk stays consistent: the next Open recovers it.
	Fatal func(msg string)
}

func (o *Options) withDefaults() Options {
	d := *o
	if d.CacheBytes <= 0 {
		d.CacheBytes = 48 << 20
	}
	if d.MemTableBytes == 0 {
		d.MemTableBytes = 4 << 20
	}
	if d.MinFreeBytes == 0 {
		d.MinFreeBytes = 64 << 20
	}
	if d.Warnf == nil {
		d.Warnf = func(string, ...any) {}
	}
	if d.Fatal == nil {
		d.Fatal = func(msg string) {
			fmt.Fprintln(os.Stderr, "hashr store: fatal:", msg)
			os.Exit(1)
		}
	}
	return d
}

// Store is an open store. Its methods are not safe for concurrent use.
type Store struct {
	dir  string
	db   *pebble.DB
	opts Options
	// pebbleOpts is kept to write sstables for ingestion the same way the
	// store writes its own.
	pebbleOpts *pebble.Options
	// broken is set when a write failed in a way that leaves the open
	// handle unusable: Close then ingests nothing more.
	broken    error
	closeOnce sync.Once

	// New digests wait in pending sets (pending.go): pend fills while
	// flushing, full, is ingested.
	pend      *pendingSet
	flushing  *pendingSet
	flushDone chan error
	spare     *pendingSet // an ingested set whose buffers can be reused
	nextSeq   uint64
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

// Open opens the store in dir, creating it if it does not exist. Only one
// process at a time can have a store open: another one gets a *LockedError.
func Open(dir string, o Options) (*Store, error) {
	opts := o.withDefaults()
	abs, err := filepath.Abs(dir)
	if err == nil {
		dir = abs
	}
	if err := checkDir(dir); err != nil {
		return nil, err
	}
	s := &Store{dir: dir, opts: opts}
	s.pebbleOpts = s.pebbleOptions()
	db, err := pebble.Open(dir, s.pebbleOpts)
	if err != nil {
		return nil, describeOpenError(dir, err)
	}
	s.db = db
	if err := s.checkFormat(); err != nil {
		_ = db.Close()
		return nil, err
	}
	removeStaleSeedDirs(dir)
	if s.nextSeq, err = s.recoverPending(); err != nil {
		_ = db.Close()
		return nil, describeWriteError(dir, fmt.Errorf("opening store %q: %w", dir, err))
	}
	return s, nil
}

func (s *Store) pebbleOptions() *pebble.Options {
	po := &pebble.Options{
		FormatMajorVersion:          pebble.FormatNewest,
		Merger:                      firstSeenMerger,
		CacheSize:                   s.opts.CacheBytes + 2*int64(s.opts.MemTableBytes),
		MemTableSize:                s.opts.MemTableBytes,
		MemTableStopWritesThreshold: 2,
		// Every digest comes in by ingestion: the write-ahead log only
		// ever holds the store's format key.
		Logger: pebbleLogger{s},
		EventListener: &pebble.EventListener{
			BackgroundError: s.backgroundError,
			// A damaged file fails the read that found it, and that
			// error says so (corrupted); Pebble's default would end the
			// process with a stack trace.
			DataCorruption: func(pebble.DataCorruptionInfo) {},
		},
	}
	for i := range po.Levels {
		// Digests do not compress; a Bloom filter per table spares a disk
		// read for almost every digest that is not there.
		po.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
		po.Levels[i].BlockSize = 16 << 10
		// One index block per table: a two-level index costs a read more.
		po.Levels[i].IndexBlockSize = 256 << 10
	}
	po.ApplyCompressionSettings(func() pebble.DBCompressionSettings { return pebble.DBCompressionNone })
	po.EnsureDefaults()
	return po
}

// checkDir refuses a directory that holds other things than a store, so a
// mistyped --store never scatters store files among someone's documents.
func checkDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("creating store %q: %w", dir, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("opening store %q: %w", dir, err)
	}
	if len(entries) == 0 {
		return nil
	}
	for _, e := range entries {
		name := e.Name()
		if name == "CURRENT" || strings.HasPrefix(name, "MANIFEST-") || strings.HasPrefix(name, "OPTIONS-") ||
			strings.HasPrefix(name, "marker.") {
			return nil
		}
	}
	if onlyPebbleFiles(entries) {
		return nil // a store whose creation was cut short (kill -9): Pebble starts it again
	}
	return &HintedError{
		Err:  fmt.Errorf("opening store %q: the directory is not empty and holds no store", dir),
		Hint: "give --store an empty or new directory",
	}
}

// onlyPebbleFiles says whether entries are all files Pebble writes before
// a new store's manifest (its LOCK, a WAL, a temporary file): what a
// hashr-dedup killed while it created the store leaves.
func onlyPebbleFiles(entries []os.DirEntry) bool {
	for _, e := range entries {
		name := e.Name()
		if name != "LOCK" && !pebbleNumbered(name, ".log") && !pebbleNumbered(name, ".dbtmp") {
			return false
		}
	}
	return true
}

// pebbleNumbered says whether name is Pebble's file number (digits) then
// ext, as "000002.log": not a user's "notes.log".
func pebbleNumbered(name, ext string) bool {
	num, ok := strings.CutSuffix(name, ext)
	return ok && num != "" && strings.Trim(num, "0123456789") == ""
}

// HintedError is an error with a line telling people how to fix it.
type HintedError struct {
	Err  error
	Hint string
}

func (e *HintedError) Error() string { return e.Err.Error() }
func (e *HintedError) Unwrap() error { return e.Err }

// LockedError is returned by Open when another process has the store open.
type LockedError struct {
	Dir, LockFile string
	Err           error
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("store %q is in use by another process: its lock file %q is held (%v)", e.Dir, e.LockFile, e.Err)
}

func (e *LockedError) Unwrap() error { return e.Err }

// HintText says what to do about a locked store.
func (e *LockedError) HintText() string {
	return "wait for the other hashr-dedup to finish, or give each pipeline that runs at the same time its own --store; " +
		"the lock goes away by itself when that process ends, so never delete LOCK by hand"
}

func describeOpenError(dir string, err error) error {
	lockFile := filepath.Join(dir, "LOCK")
	if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EACCES) && lockHeld(lockFile) ||
		strings.Contains(err.Error(), "lock held by current process") {
		return &LockedError{Dir: dir, LockFile: lockFile, Err: err}
	}
	if c := corrupted(dir, err); c != err {
		return c
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "no longer supported") || strings.Contains(msg, "unknown format major version"):
		return &HintedError{
			Err: fmt.Errorf("opening store %q: it was written by a version of hashr this one cannot read: %w", dir, err),
			Hint: "move the old store away and rebuild it (hashr-dedup seed, or re-run the pipeline); " +
				"the store is only an accelerator, the database keeps every sample",
		}
	case strings.Contains(msg, "merger name"):
		return &HintedError{
			Err:  fmt.Errorf("opening store %q: it holds a Pebble database that is not a hashr store: %w", dir, err),
			Hint: "give --store an empty or new directory",
		}
	case isNoSpace(err):
		return &HintedError{
			Err:  fmt.Errorf("opening store %q: %w", dir, err),
			Hint: "the disk holding the store is full; free some space and run again: the store is intact",
		}
	}
	return fmt.Errorf("opening store %q: %w", dir, err)
}

// lockHeld reports whether another process holds a POSIX lock on name.
func lockHeld(name string) bool {
	f, err := os.Open(name)
	if err != nil {
		return false
	}
	defer f.Close()
	lk := syscall.Flock_t{Type: syscall.F_WRLCK}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_GETLK, &lk); err != nil {
		return false
	}
	return lk.Type != syscall.F_UNLCK
}

// checkFormat reads the store's format, or writes it into a new store.
func (s *Store) checkFormat() error {
	v, closer, err := s.db.Get(formatKey)
	if errors.Is(err, pebble.ErrNotFound) {
		if !s.empty() {
			return &HintedError{
				Err:  fmt.Errorf("opening store %q: it holds a Pebble database that is not a hashr store", s.dir),
				Hint: "give --store an empty or new directory",
			}
		}
		if err := s.db.Set(formatKey, []byte(fmt.Sprint(Format)), pebble.Sync); err != nil {
			return fmt.Errorf("creating store %q: %w", s.dir, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("opening store %q: reading its format: %w", s.dir, err)
	}
	got := string(v)
	closer.Close()
	if got != fmt.Sprint(Format) {
		return &HintedError{
			Err: fmt.Errorf("opening store %q: it has store format %q and this hashr-dedup reads format %d", s.dir, got, Format),
			Hint: "use the hashr version that wrote it, or move it away and rebuild it (hashr-dedup seed, or re-run the pipeline); " +
				"the store is only an accelerator, the database keeps every sample",
		}
	}
	return nil
}

func (s *Store) empty() bool {
	it, err := s.db.NewIter(nil)
	if err != nil {
		return false
	}
	defer it.Close()
	return !it.First()
}

// Close ingests the digests still pending and releases the store's lock.
// If that fails, they stay in their log, and the next Open ingests them.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		if s.flushDone != nil {
			// Wait even for a broken store: Pebble must not close under
			// an ingestion.
			if ferr := <-s.flushDone; ferr != nil && s.broken == nil {
				s.broken, err = ferr, s.writeError(ferr)
			}
			s.flushDone, s.flushing = nil, nil
		}
		if s.pend != nil {
			if s.broken == nil {
				if ferr := s.flushPending(s.pend); ferr != nil {
					err = s.writeError(ferr)
				}
			} else {
				_ = s.pend.log.Close()
			}
			s.pend = nil
		}
		if s.broken == errPebbleBroken {
			return // the handle is unusable; the lock goes with the process
		}
		if cerr := s.db.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing store %q: %w", s.dir, cerr)
		}
	})
	return err
}

// errPebbleBroken marks a store whose Pebble handle panicked.
var errPebbleBroken = errors.New("the store stopped after an internal error")

func describeWriteError(dir string, err error) error {
	if isNoSpace(err) {
		return &HintedError{Err: err, Hint: "the disk holding the store is full; free some space and run again: the store is intact"}
	}
	return err
}

// pebbleLogger sends Pebble's messages to the store's owner. Pebble calls
// Fatalf when it cannot go on (a write-ahead log or manifest write failed,
// typically on a full disk); that must not return.
type pebbleLogger struct{ s *Store }

func (l pebbleLogger) Infof(string, ...any) {}
func (l pebbleLogger) Errorf(format string, args ...any) {
	l.s.opts.Warnf("store: "+format, args...)
}
func (l pebbleLogger) Fatalf(format string, args ...any) {
	l.s.fatal(fmt.Errorf(format, args...))
}

func (s *Store) backgroundError(err error) {
	if c := corrupted(s.dir, err); c != err {
		// A compaction that meets a damaged file retries it, warning
		// each time; the read that meets it fails with one clear error.
		return
	}
	if isNoSpace(err) {
		// Pebble would retry the flush forever and writes would stall.
		s.fatal(err)
	}
	s.opts.Warnf("store %q: %v", s.dir, err)
}

func (s *Store) fatal(err error) {
	msg := fmt.Sprintf("store %q: %v", s.dir, err)
	if isNoSpace(err) {
		msg += "\nhint: the disk holding the store is full; free some space and run again: the store is intact " +
			"and recovers its committed writes when it is next opened"
	}
	s.opts.Fatal(msg)
}

func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) ||
		err != nil && strings.Contains(err.Error(), "no space left on device")
}

// ErrDiskFull is returned by writes when the store's disk has less free
// space than Options.MinFreeBytes. Nothing of the refused write was stored.
var ErrDiskFull = errors.New("the disk holding the store is almost full")

// checkFreeSpace refuses a write that could fill the disk: Pebble cannot
// undo a half-written log or table, so stopping before is the clean way.
func (s *Store) checkFreeSpace(need int64) error {
	if s.opts.MinFreeBytes < 0 {
		return nil
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(s.dir, &st); err != nil {
		return nil // unknown: let the write try
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	if free < s.opts.MinFreeBytes+need {
		return &HintedError{
			Err: fmt.Errorf("writing to store %q: %w: %d MiB free; writing needs %d MiB, and %d MiB must stay free",
				s.dir, ErrDiskFull, free>>20, (need+1<<20-1)>>20, s.opts.MinFreeBytes>>20),
			Hint: "free some space (or move the store with --store) and run again: the store is intact, " +
				"and records written so far carry correct seen fields",
		}
	}
	return nil
}

// recoverBroken turns a panic inside Pebble during a write (it panics when
// its write-ahead log cannot be written) into an error, and marks the handle
// unusable.
func (s *Store) recoverBroken(err *error) {
	if r := recover(); r != nil {
		e, ok := r.(error)
		if !ok {
			e = fmt.Errorf("%v", r)
		}
		s.broken = errPebbleBroken
		*err = fmt.Errorf("writing to store %q: %w", s.dir, e)
		if isNoSpace(e) {
			*err = &HintedError{Err: *err, Hint: "the disk holding the store is full; free some space and run again: " +
				"the store is intact and recovers its committed writes when it is next opened"}
		}
	}
}
