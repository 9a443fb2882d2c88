package store

import (
	"bufio"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// seedDirPrefix names the scratch directories of seeds, inside the store
// directory (the same file system, so ingestion links tables rather than
// copying them). One left by a killed seed is removed at the next Open.
const seedDirPrefix = "seed-tmp-"

// Seeding sorts digests in runs of this many keys (32 MiB) in memory; a
// seed of more spills sorted runs to disk and merges them.
const seedRunKeys = 1 << 20

// seedTableKeys is how many digests go into one ingested table (~12 MiB):
// small tables have small Bloom filters, which the block cache keeps
// better than big ones.
const seedTableKeys = 256 << 10

// Seeder adds many digests to the store at once: it sorts them (spilling
// sorted runs to disk when there are many), writes them as sstables, and
// ingests those into the store in one step, which is far cheaper than
// inserting one digest at a time, and atomic: a killed seed adds nothing.
type Seeder struct {
	s       *Store
	tmp     string
	keys    []Key
	spare   []Key
	runs    []string
	sorting chan error // the result of the run being sorted and written
	added   int64
	time    time.Time
}

// SeedStats describes a finished seed.
type SeedStats struct {
	Digests  int64 // digests given, duplicates included
	Distinct int64 // distinct digests ingested
	Tables   int   // sstables ingested
	Bytes    int64 // their size
}

// NewSeeder starts a seed; its digests get firstSeen as their time unless
// the store already has them. Call Finish to add them or Abort to drop them.
func (s *Store) NewSeeder(firstSeen time.Time) (*Seeder, error) {
	tmp, err := os.MkdirTemp(s.dir, seedDirPrefix)
	if err != nil {
		return nil, fmt.Errorf("seeding store %q: %w", s.dir, err)
	}
	return &Seeder{s: s, tmp: tmp, keys: make([]Key, 0, seedRunKeys), time: firstSeen}, nil
}

// Add queues one digest.
func (sd *Seeder) Add(k Key) error {
	sd.keys = append(sd.keys, k)
	sd.added++
	if len(sd.keys) == cap(sd.keys) {
		return sd.spill()
	}
	return nil
}

// spill sorts the full run and writes it to disk on another goroutine,
// while the caller goes on filling the other buffer.
func (sd *Seeder) spill() error {
	if err := sd.waitSorting(); err != nil {
		return err
	}
	run := sd.keys
	name := filepath.Join(sd.tmp, fmt.Sprintf("run-%06d", len(sd.runs)))
	sd.runs = append(sd.runs, name)
	if sd.spare == nil {
		sd.spare = make([]Key, 0, seedRunKeys)
	}
	sd.keys, sd.spare = sd.spare[:0], nil
	done := make(chan error, 1)
	sd.sorting = done
	go func() {
		sortKeys(run)
		err := writeRun(name, run)
		sd.spare = run[:0] // read only after waitSorting
		done <- err
	}()
	return nil
}

func (sd *Seeder) waitSorting() error {
	if sd.sorting == nil {
		return nil
	}
	err := <-sd.sorting
	sd.sorting = nil
	if err != nil {
		return fmt.Errorf("seeding store %q: %w", sd.s.dir, err)
	}
	return nil
}

func writeRun(name string, keys []Key) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var prev *Key
	for i := range keys {
		if prev != nil && *prev == keys[i] {
			continue
		}
		prev = &keys[i]
		if _, err := w.Write(keys[i][:]); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Finish sorts and merges what was added, writes it as sstables and
// ingests them into the store in one atomic step.
func (sd *Seeder) Finish(ctx context.Context) (st SeedStats, err error) {
	defer sd.Abort()
	st.Digests = sd.added
	// Digests added by Mark go in first, so that the seed's merge operands
	// are newer than them and keep their first-seen times.
	if err := sd.s.Flush(); err != nil {
		return st, err
	}
	if err := sd.waitSorting(); err != nil {
		return st, err
	}
	var next func() (*Key, error)
	if len(sd.runs) == 0 {
		sortKeys(sd.keys)
		next = sliceKeys(sd.keys)
	} else {
		if len(sd.keys) > 0 {
			if err := sd.spill(); err != nil {
				return st, err
			}
			if err := sd.waitSorting(); err != nil {
				return st, err
			}
		}
		sd.keys, sd.spare = nil, nil // the merge needs no big buffers
		m, err := newRunMerger(sd.runs)
		if err != nil {
			return st, fmt.Errorf("seeding store %q: %w", sd.s.dir, err)
		}
		defer m.close()
		next = m.next
	}
	tables, distinct, size, err := sd.writeTables(ctx, next)
	if err != nil {
		return st, err
	}
	st.Distinct, st.Tables, st.Bytes = distinct, len(tables), size
	if len(tables) == 0 {
		return st, nil
	}
	if err := sd.s.checkFreeSpace(size); err != nil {
		return st, err
	}
	if err := sd.s.db.Ingest(ctx, tables); err != nil {
		if isNoSpace(err) {
			return st, &HintedError{Err: fmt.Errorf("seeding store %q: %w", sd.s.dir, err),
				Hint: "free some space and run again: nothing of this seed was added, the store is intact"}
		}
		return st, fmt.Errorf("seeding store %q: ingesting %d tables: %w", sd.s.dir, len(tables), err)
	}
	return st, nil
}

// writeTables writes the sorted digests from next as sstables of merge
// operands, dropping duplicates.
func (sd *Seeder) writeTables(ctx context.Context, next func() (*Key, error)) (paths []string, distinct, size int64, err error) {
	tw := &tableWriter{sd: sd, value: appendValue(nil, sd.time, nil),
		wopts: sd.s.pebbleOpts.MakeWriterOptions(0, sd.s.db.TableFormat())}
	var prev Key
	first := true
	for n := 0; ; n++ {
		if n%65536 == 0 && ctx.Err() != nil {
			return nil, 0, 0, tw.fail(ctx.Err())
		}
		k, err := next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, 0, 0, tw.fail(err)
		}
		if !first && *k == prev {
			continue
		}
		first, prev = false, *k
		if err := tw.add(k); err != nil {
			return nil, 0, 0, tw.fail(err)
		}
		distinct++
	}
	if err := tw.finishTable(); err != nil {
		return nil, 0, 0, tw.fail(err)
	}
	return tw.paths, distinct, tw.size, nil
}

// tableWriter writes a seed's sstables, seedTableKeys keys each.
type tableWriter struct {
	sd    *Seeder
	value []byte
	wopts sstable.WriterOptions
	w     *sstable.Writer
	inW   int
	paths []string
	size  int64
}

// add writes one key, starting a table when none is open and finishing
// it when full.
func (tw *tableWriter) add(k *Key) error {
	if tw.w == nil {
		name := filepath.Join(tw.sd.tmp, fmt.Sprintf("table-%06d.sst", len(tw.paths)))
		f, err := vfs.Default.Create(name, vfs.WriteCategoryUnspecified)
		if err != nil {
			return err
		}
		tw.paths = append(tw.paths, name)
		// The writable syncs the file when the table is finished, as
		// ingestion requires.
		tw.w = sstable.NewWriter(objstorageprovider.NewFileWritable(f), tw.wopts)
		tw.inW = 0
	}
	if err := tw.w.Merge(k[:], tw.value); err != nil {
		return err
	}
	if tw.inW++; tw.inW == seedTableKeys {
		return tw.finishTable()
	}
	return nil
}

// finishTable closes the open table, if any, and checks the free space
// left.
func (tw *tableWriter) finishTable() error {
	if tw.w == nil {
		return nil
	}
	err := tw.w.Close()
	tw.w = nil
	if err != nil {
		return err
	}
	fi, err := os.Stat(tw.paths[len(tw.paths)-1])
	if err != nil {
		return err
	}
	tw.size += fi.Size()
	return tw.sd.s.checkFreeSpace(0)
}

// fail closes the open table and says what failed, with a hint for a
// full disk.
func (tw *tableWriter) fail(err error) error {
	if tw.w != nil {
		_ = tw.w.Close()
	}
	var he *HintedError
	if errors.As(err, &he) {
		return err
	}
	dir := tw.sd.s.dir
	if isNoSpace(err) {
		return &HintedError{Err: fmt.Errorf("seeding store %q: %w", dir, err),
			Hint: "free some space and run again: nothing of this seed was added, the store is intact"}
	}
	return fmt.Errorf("seeding store %q: %w", dir, err)
}

// Abort drops the seed's scratch files; after Finish it does nothing more.
func (sd *Seeder) Abort() {
	_ = sd.waitSorting()
	if sd.tmp != "" {
		_ = os.RemoveAll(sd.tmp)
		sd.tmp = ""
	}
}

func removeStaleSeedDirs(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), seedDirPrefix) {
			_ = os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}

func sliceKeys(keys []Key) func() (*Key, error) {
	i := 0
	return func() (*Key, error) {
		if i == len(keys) {
			return nil, io.EOF
		}
		i++
		return &keys[i-1], nil
	}
}

// runMerger merges sorted run files.
type runMerger struct {
	files []*os.File
	h     runHeap
	cur   Key
}

type runCursor struct {
	r   *bufio.Reader
	key Key
}

type runHeap []*runCursor

func (h runHeap) Len() int { return len(h) }
func (h runHeap) Less(i, j int) bool {
	return string(h[i].key[:]) < string(h[j].key[:])
}
func (h runHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *runHeap) Push(x any)   { *h = append(*h, x.(*runCursor)) }
func (h *runHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	*h = old[:len(old)-1]
	return c
}

func newRunMerger(names []string) (*runMerger, error) {
	m := &runMerger{}
	for _, name := range names {
		f, err := os.Open(name)
		if err != nil {
			m.close()
			return nil, err
		}
		m.files = append(m.files, f)
		c := &runCursor{r: bufio.NewReaderSize(f, 256<<10)}
		ok, err := c.advance()
		if err != nil {
			m.close()
			return nil, err
		}
		if ok {
			m.h = append(m.h, c)
		}
	}
	heap.Init(&m.h)
	return m, nil
}

func (c *runCursor) advance() (bool, error) {
	_, err := io.ReadFull(c.r, c.key[:])
	if err == io.EOF {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading a sorted run: %w", err)
	}
	return true, nil
}

// next returns the smallest key left; the pointer is valid until the next call.
func (m *runMerger) next() (*Key, error) {
	if len(m.h) == 0 {
		return nil, io.EOF
	}
	top := m.h[0]
	m.cur = top.key
	ok, err := top.advance()
	if err != nil {
		return nil, err
	}
	if ok {
		heap.Fix(&m.h, 0)
	} else {
		heap.Pop(&m.h)
	}
	return &m.cur, nil
}

func (m *runMerger) close() {
	for _, f := range m.files {
		f.Close()
	}
	m.files = nil
}
