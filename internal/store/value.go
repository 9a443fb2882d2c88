package store

import (
	"encoding/binary"
	"io"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// A value is small: a version byte, the first-seen time as Unix nanoseconds
// (8 bytes, big-endian) and, when known, the sha256 of the first source the
// digest was seen in (32 bytes). Digests added by seed have no source.
const (
	valueVersion     = 1
	valueSize        = 1 + 8
	valueWithSrcSize = valueSize + KeySize
)

// Entry is what the store knows about a digest.
type Entry struct {
	FirstSeen time.Time
	// Source is the first source's sha256; HasSource is false for digests
	// added by seed.
	Source    Key
	HasSource bool
}

func appendValue(dst []byte, firstSeen time.Time, source *Key) []byte {
	dst = append(dst, valueVersion)
	dst = binary.BigEndian.AppendUint64(dst, uint64(firstSeen.UnixNano()))
	if source != nil {
		dst = append(dst, source[:]...)
	}
	return dst
}

// parseValue decodes a value; ok is false for one this version does not know.
func parseValue(v []byte) (e Entry, ok bool) {
	if len(v) != valueSize && len(v) != valueWithSrcSize || v[0] != valueVersion {
		return Entry{}, false
	}
	e.FirstSeen = time.Unix(0, int64(binary.BigEndian.Uint64(v[1:9]))).UTC()
	if len(v) == valueWithSrcSize {
		copy(e.Source[:], v[9:])
		e.HasSource = true
	}
	return e, true
}

// firstSeenMerger combines the values written for one digest at different
// times (seed ingests its digests as merge operands, so that seeding a
// digest the store already has keeps its first source and time): the value
// with the earliest time wins, and on a tie the older write.
var firstSeenMerger = &pebble.Merger{
	Name: "hashr.first-seen.v1",
	Merge: func(_, value []byte) (pebble.ValueMerger, error) {
		return &firstSeen{value: append([]byte(nil), value...)}, nil
	},
}

type firstSeen struct{ value []byte }

func earlier(a, b []byte) bool {
	ea, okA := parseValue(a)
	eb, okB := parseValue(b)
	switch {
	case !okB:
		return okA // a known value beats one this version cannot read
	case !okA:
		return false
	}
	return ea.FirstSeen.Before(eb.FirstSeen)
}

func (m *firstSeen) MergeNewer(value []byte) error {
	if earlier(value, m.value) {
		m.value = append(m.value[:0], value...)
	}
	return nil
}

func (m *firstSeen) MergeOlder(value []byte) error {
	if !earlier(m.value, value) {
		m.value = append(m.value[:0], value...)
	}
	return nil
}

func (m *firstSeen) Finish(bool) ([]byte, io.Closer, error) { return m.value, nil, nil }
