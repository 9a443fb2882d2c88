package store

import (
	"bytes"
	"slices"
)

// sortKeys sorts digests. Digests are uniformly distributed, so one
// counting pass on their first two bytes leaves buckets of a few keys each
// to finish with a comparison sort: much faster than sorting 32-byte
// values by comparison alone. Skewed input (many digests sharing a prefix)
// is still sorted correctly, only slower.
func sortKeys(keys []Key) {
	if len(keys) < 1<<12 {
		slices.SortFunc(keys, compareKeys)
		return
	}
	var counts [1 << 16]int
	for i := range keys {
		counts[int(keys[i][0])<<8|int(keys[i][1])]++
	}
	var starts [1<<16 + 1]int
	for b, n := range counts {
		starts[b+1] = starts[b] + n
	}
	out := make([]Key, len(keys))
	next := starts
	for i := range keys {
		b := int(keys[i][0])<<8 | int(keys[i][1])
		out[next[b]] = keys[i]
		next[b]++
	}
	for b := range counts {
		if bucket := out[starts[b]:starts[b+1]]; len(bucket) > 1 {
			slices.SortFunc(bucket, compareKeys)
		}
	}
	copy(keys, out)
}

func compareKeys(a, b Key) int { return bytes.Compare(a[:], b[:]) }
