package store

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Item is one digest to look up and, if new, add.
type Item struct {
	Key Key
	// Source is the sha256 of the source the digest was found in, stored
	// with a new digest when HasSource.
	Source    Key
	HasSource bool
}

// Marker looks up and adds digests a chunk at a time. It keeps its buffers
// from one chunk to the next, so a stream of chunks allocates almost
// nothing.
type Marker struct {
	s      *Store
	order  []int32
	logBuf []byte
}

// NewMarker returns a Marker writing to s.
func (s *Store) NewMarker() *Marker { return &Marker{s: s} }

// Mark sets seen[i] to whether items[i].Key was in the store before this
// call or occurs earlier in items, and adds the digests that were not, with
// firstSeen as their time. Lookups go in key order through one iterator, so
// neighbouring digests share the blocks read, and each table's Bloom filter
// spares a read for a digest it does not hold. When Mark returns, the new
// digests are in the store's log: a process killed after that keeps them.
// seen must be as long as items. On an error nothing of the chunk was
// added, and the store takes no more writes.
func (m *Marker) Mark(items []Item, seen []bool, firstSeen time.Time) (err error) {
	s := m.s
	if len(seen) != len(items) {
		return fmt.Errorf("store: Mark: %d results for %d items", len(seen), len(items))
	}
	if s.broken != nil {
		return fmt.Errorf("writing to store %q: %w", s.dir, s.broken)
	}
	if len(items) == 0 {
		return nil
	}
	defer func() { err = corrupted(s.dir, err) }()
	defer s.recoverBroken(&err)
	if err := s.readyPending(int64(len(items))); err != nil {
		return err
	}
	m.sortByKey(items)
	from := s.pend.len()
	if err := m.markSorted(items, seen, firstSeen); err != nil {
		return err
	}
	if m.logBuf, err = s.pend.logSince(from, m.logBuf); err != nil {
		// The set holds digests the log lacks: ingest none of it. The
		// next Open ingests what the log holds, which matches the
		// records written.
		s.broken = err
		return s.writeError(err)
	}
	if s.pend.full() {
		if err := s.pollFlush(true); err != nil {
			return err
		}
		s.startFlush()
	}
	return nil
}

// readyPending makes room for n new digests: a finished flush collected,
// the disk space for their log entries checked, a pending set open.
func (s *Store) readyPending(n int64) error {
	if err := s.pollFlush(false); err != nil {
		return err
	}
	if err := s.checkFreeSpace(n * logEntrySize); err != nil {
		return err
	}
	if s.pend == nil {
		p, err := newPendingSet(s.dir, s.nextSeq, s.spare)
		if err != nil {
			return fmt.Errorf("writing to store %q: %w", s.dir, err)
		}
		s.pend, s.nextSeq, s.spare = p, s.nextSeq+1, nil
	}
	return nil
}

// sortByKey sets m.order to the items' indexes in key order. Equal keys
// keep their input order, so the first one is the new one. Digests almost
// always differ in their first eight bytes, which compare as one integer.
func (m *Marker) sortByKey(items []Item) {
	m.order = m.order[:0]
	for i := range items {
		m.order = append(m.order, int32(i))
	}
	slices.SortFunc(m.order, func(a, b int32) int {
		ka, kb := &items[a].Key, &items[b].Key
		if c := cmp.Compare(binary.BigEndian.Uint64(ka[:8]), binary.BigEndian.Uint64(kb[:8])); c != 0 {
			return c
		}
		if c := bytes.Compare(ka[8:], kb[8:]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
}

// markSorted looks the items up in key order (m.order), in the pending
// sets and then the store, adding each new digest to the pending set.
func (m *Marker) markSorted(items []Item, seen []bool, firstSeen time.Time) error {
	s := m.s
	// Bloom filters in the last level too: most lookups are of digests
	// the store does not hold, and a filter spares each of them a read.
	it, err := s.db.NewIter(&pebble.IterOptions{UseL6Filters: true})
	if err != nil {
		return fmt.Errorf("reading store %q: %w", s.dir, err)
	}
	var prev *Key
	for _, i := range m.order {
		item := &items[i]
		if prev != nil && *prev == item.Key {
			seen[i] = true
			continue
		}
		prev = &item.Key
		switch {
		case s.pend.contains(&item.Key), s.flushing != nil && s.flushing.contains(&item.Key):
			seen[i] = true
		// SeekPrefixGE consults the Bloom filters; a digest key is its own
		// prefix, so a hit is an exact match.
		case it.SeekPrefixGE(item.Key[:]):
			seen[i] = true
		default:
			seen[i] = false
			var src *Key
			if item.HasSource {
				src = &item.Source
			}
			s.pend.add(&item.Key, firstSeen, src)
		}
	}
	if err := it.Close(); err != nil {
		s.broken = err // the pending set holds digests no log has
		return fmt.Errorf("reading store %q: %w", s.dir, err)
	}
	return nil
}

// startFlush ingests the full pending set on another goroutine; lookups
// keep consulting it until that is done.
func (s *Store) startFlush() {
	p := s.pend
	s.flushing, s.pend = p, nil
	done := make(chan error, 1)
	s.flushDone = done
	go func() { done <- s.flushPending(p) }()
}

// pollFlush collects the result of a finished flush, waiting for it if
// wait is set.
func (s *Store) pollFlush(wait bool) error {
	if s.flushDone == nil {
		return nil
	}
	var err error
	if wait {
		err = <-s.flushDone
	} else {
		select {
		case err = <-s.flushDone:
		default:
			return nil
		}
	}
	if err != nil {
		s.flushDone, s.flushing = nil, nil
		s.broken = err
		return s.writeError(err)
	}
	// The ingested set's buffers serve the next one.
	s.spare, s.flushDone, s.flushing = s.flushing, nil, nil
	return nil
}

func (s *Store) writeError(err error) error {
	var he *HintedError
	if errors.As(err, &he) {
		return err
	}
	err = fmt.Errorf("writing to store %q: %w", s.dir, err)
	if isNoSpace(err) {
		return &HintedError{Err: err, Hint: "the disk holding the store is full; free some space and run again: " +
			"the store is intact, and the digests of the records written so far are in its log"}
	}
	return err
}

// Flush ingests the digests added so far, so that everything reading the
// store through Pebble sees them.
func (s *Store) Flush() error {
	if s.broken != nil {
		return fmt.Errorf("writing to store %q: %w", s.dir, s.broken)
	}
	if err := s.pollFlush(true); err != nil {
		return err
	}
	if s.pend != nil {
		p := s.pend
		s.pend = nil
		if err := s.flushPending(p); err != nil {
			s.broken = err
			return s.writeError(err)
		}
		s.spare = p
	}
	return nil
}

// Lookup returns what the store knows about key.
func (s *Store) Lookup(key Key) (Entry, bool, error) {
	if err := s.Flush(); err != nil {
		return Entry{}, false, err
	}
	v, closer, err := s.db.Get(key[:])
	if errors.Is(err, pebble.ErrNotFound) {
		return Entry{}, false, nil
	}
	if err != nil {
		return Entry{}, false, fmt.Errorf("reading store %q: %w", s.dir, err)
	}
	defer closer.Close()
	e, ok := parseValue(v)
	if !ok {
		return Entry{}, true, nil // there, with a value a later version wrote
	}
	return e, true, nil
}
