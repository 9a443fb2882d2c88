package store

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// New digests do not go through Pebble's memtable: every digest is looked
// up before it is added, and a lookup in the memtable's skiplist cost as
// much as the rest of the lookup together (1.2 of 2.7 µs, profiled). They
// collect instead in a pending set, a hash table (digests are uniformly
// random, so their own first bytes serve as the hash) that answers
// lookups in tens of nanoseconds, and whose additions are
// appended to a log file of its own, chunk by chunk, for durability. A full
// set is written as one sorted sstable and ingested into Pebble, on another
// goroutine while the next set fills, and its log is then deleted. A log
// left by a killed run is ingested when the store is next opened.

// pendingKeys is how many digests a pending set holds before it is
// ingested: about 20 MiB with their values and index.
const pendingKeys = 256 << 10

const (
	pendingLogPrefix = "pending-"
	pendingLogSuffix = ".log"
	// A log entry: the digest, a flag saying whether a source follows,
	// the first-seen time (Unix ns), the source's sha256 (zero if none).
	logEntrySize = KeySize + 1 + 8 + KeySize
	// A log record, one per chunk: entry count and CRC-32C of the entries.
	logHeaderSize = 8
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type pendingSet struct {
	seq     uint64 // its log's number
	entries []byte // logEntrySize bytes per digest, in the order added
	// slots is the hash table: a slot holds an entry's index plus one in
	// its low 32 bits (zero: empty) and more bits of the digest in its
	// high ones, so that most misses never touch entries.
	slots   []uint64
	mask    uint64
	log     *os.File
	logName string
}

// newPendingSet starts an empty set, reusing the buffers of spare if given.
func newPendingSet(dir string, seq uint64, spare *pendingSet) (*pendingSet, error) {
	p := &pendingSet{seq: seq, mask: 2*pendingKeys - 1}
	if spare != nil {
		p.entries, p.slots = spare.entries[:0], spare.slots
		clear(p.slots)
	} else {
		p.entries = make([]byte, 0, pendingKeys*logEntrySize)
		p.slots = make([]uint64, 2*pendingKeys)
	}
	p.logName = filepath.Join(dir, fmt.Sprintf("%s%06d%s", pendingLogPrefix, seq, pendingLogSuffix))
	f, err := os.OpenFile(p.logName, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	p.log = f
	return p, nil
}

func (p *pendingSet) len() int   { return len(p.entries) / logEntrySize }
func (p *pendingSet) full() bool { return p.len() >= pendingKeys }

func (p *pendingSet) key(i int) []byte { return p.entries[i*logEntrySize : i*logEntrySize+KeySize] }

// contains reports whether k was added. Digests are uniformly random, so
// their bytes serve as the hash.
func (p *pendingSet) contains(k *Key) bool {
	tag := uint64(binary.LittleEndian.Uint32(k[8:12])) << 32
	for h := binary.LittleEndian.Uint64(k[:8]) & p.mask; ; h = (h + 1) & p.mask {
		s := p.slots[h]
		if s == 0 {
			return false
		}
		if s&^0xffffffff == tag && string(p.key(int(uint32(s)-1))) == string(k[:]) {
			return true
		}
	}
}

// add adds k, which must not be in the set.
func (p *pendingSet) add(k *Key, firstSeen time.Time, source *Key) {
	i := p.len()
	p.entries = appendLogEntry(p.entries, k, firstSeen, source)
	tag := uint64(binary.LittleEndian.Uint32(k[8:12])) << 32
	h := binary.LittleEndian.Uint64(k[:8]) & p.mask
	for p.slots[h] != 0 {
		h = (h + 1) & p.mask
	}
	p.slots[h] = tag | uint64(i+1)
}

func appendLogEntry(dst []byte, k *Key, firstSeen time.Time, source *Key) []byte {
	dst = append(dst, k[:]...)
	if source != nil {
		dst = append(dst, 1)
	} else {
		dst = append(dst, 0)
	}
	dst = binary.BigEndian.AppendUint64(dst, uint64(firstSeen.UnixNano()))
	if source != nil {
		return append(dst, source[:]...)
	}
	var zero Key
	return append(dst, zero[:]...)
}

// entryValue appends the store value of a log entry.
func entryValue(dst, entry []byte) []byte {
	dst = append(dst, valueVersion)
	dst = append(dst, entry[KeySize+1:KeySize+9]...)
	if entry[KeySize] == 1 {
		dst = append(dst, entry[KeySize+9:]...)
	}
	return dst
}

// logSince appends the entries added since entry from to the log, as one
// record. The write goes to the page cache, which outlives the process.
func (p *pendingSet) logSince(from int, buf []byte) ([]byte, error) {
	entries := p.entries[from*logEntrySize:]
	if len(entries) == 0 {
		return buf, nil
	}
	buf = binary.LittleEndian.AppendUint32(buf[:0], uint32(len(entries)/logEntrySize))
	buf = binary.LittleEndian.AppendUint32(buf, crc32.Checksum(entries, castagnoli))
	buf = append(buf, entries...)
	if _, err := p.log.Write(buf); err != nil {
		return buf, err
	}
	return buf, nil
}

// readPendingLog reads the entries of a log, up to its first damaged record
// (one a kill cut short: its chunk's records were never written out).
func readPendingLog(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var entries []byte
	var header [logHeaderSize]byte
	for {
		if _, err := io.ReadFull(r, header[:]); err != nil {
			return entries, nil // the end, or a cut header
		}
		n := int(binary.LittleEndian.Uint32(header[:4]))
		if n <= 0 || n > pendingKeys {
			return entries, nil
		}
		start := len(entries)
		entries = slices.Grow(entries, n*logEntrySize)[:start+n*logEntrySize]
		if _, err := io.ReadFull(r, entries[start:]); err != nil {
			return entries[:start], nil
		}
		if crc32.Checksum(entries[start:], castagnoli) != binary.LittleEndian.Uint32(header[4:]) {
			return entries[:start], nil
		}
	}
}

// ingestEntries writes log entries as one sorted sstable and ingests it.
// Entries may repeat a digest (a log replayed twice); the first is kept.
func (s *Store) ingestEntries(entries []byte, tableName string) error {
	n := len(entries) / logEntrySize
	if n == 0 {
		return nil
	}
	order := make([]int32, n)
	for i := range order {
		order[i] = int32(i)
	}
	key := func(i int32) []byte {
		return entries[int(i)*logEntrySize : int(i)*logEntrySize+KeySize]
	}
	slices.SortFunc(order, func(a, b int32) int {
		ka, kb := key(a), key(b)
		if c := cmp.Compare(binary.BigEndian.Uint64(ka), binary.BigEndian.Uint64(kb)); c != 0 {
			return c
		}
		if c := bytes.Compare(ka, kb); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	f, err := vfs.Default.Create(tableName, vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	w := sstable.NewWriter(objstorageprovider.NewFileWritable(f), s.pebbleOpts.MakeWriterOptions(0, s.db.TableFormat()))
	var value, prev []byte
	for j, i := range order {
		k := key(i)
		if j > 0 && bytes.Equal(k, prev) {
			continue
		}
		prev = k
		entry := entries[int(i)*logEntrySize : int(i+1)*logEntrySize]
		value = entryValue(value[:0], entry)
		if err := w.Set(entry[:KeySize], value); err != nil {
			_ = w.Close()
			return err
		}
	}
	// Close syncs the table, as ingestion requires.
	if err := w.Close(); err != nil {
		return err
	}
	if err := s.db.Ingest(context.Background(), []string{tableName}); err != nil {
		return err
	}
	// Ingestion linked the table into the store; this name is spare.
	_ = os.Remove(tableName)
	return nil
}

// flushPending ingests a pending set and deletes its log.
func (s *Store) flushPending(p *pendingSet) error {
	if err := p.log.Close(); err != nil {
		return err
	}
	if p.len() == 0 {
		return os.Remove(p.logName)
	}
	if err := s.checkFreeSpace(int64(len(p.entries))); err != nil {
		return err
	}
	table := strings.TrimSuffix(p.logName, pendingLogSuffix) + ".sst"
	if err := s.ingestEntries(p.entries, table); err != nil {
		_ = os.Remove(table)
		return err
	}
	return os.Remove(p.logName)
}

// recoverPending ingests the logs a killed run left, oldest first, and
// returns the number to give the next log.
func (s *Store) recoverPending() (uint64, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return 0, err
	}
	var next uint64
	type logFile struct {
		seq  uint64
		name string
	}
	var logs []logFile
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, pendingLogPrefix) {
			continue
		}
		path := filepath.Join(s.dir, name)
		if strings.HasSuffix(name, ".sst") {
			_ = os.Remove(path) // a table a kill cut short: rebuilt from its log
			continue
		}
		seq, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(name, pendingLogPrefix), pendingLogSuffix), 10, 64)
		if err != nil || !strings.HasSuffix(name, pendingLogSuffix) {
			continue
		}
		logs = append(logs, logFile{seq, path})
		next = max(next, seq+1)
	}
	slices.SortFunc(logs, func(a, b logFile) int { return int(a.seq) - int(b.seq) })
	for _, l := range logs {
		data, err := readPendingLog(l.name)
		if err != nil {
			return 0, fmt.Errorf("recovering %s: %w", l.name, err)
		}
		if err := s.ingestEntries(data, strings.TrimSuffix(l.name, pendingLogSuffix)+".sst"); err != nil {
			return 0, fmt.Errorf("recovering %s: %w", l.name, err)
		}
		if err := os.Remove(l.name); err != nil && !errors.Is(err, os.ErrNotExist) {
			return 0, err
		}
	}
	return next, nil
}
