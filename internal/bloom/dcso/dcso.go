// Package dcso writes Bloom filters in DCSO's binary format
// (github.com/DCSO/bloom, read in Python by DCSO's flor), the format of
// CIRCL hashlookup's published filters and of hashlookup-forensic-analyser's
// --bloomfilters. hashr-export --format dcso-bloom writes one, and
// hashr-serve serves the same at /bloom/{algo}.
//
// The file, all integers little-endian (DCSO bloom.go, BloomFilter.Write):
//
//	uint64  version flags: 1
//	uint64  n: the capacity the filter was sized for
//	float64 p: the false-positive rate at capacity
//	uint64  k: hash functions
//	uint64  m: bits
//	uint64  N: values added (each that set at least one new bit)
//	ceil(m/64) uint64 words of bits: bit j is word j/64, mask 1<<(j%64)
//	(attached data, none here)
//
// A value's k bits: h = FNV-1 64 of the value mod P, then k times h = (h·g
// mod 2^64) mod P, bit = h mod m, with P = 2^64−59 and g = 2^64−1469: the
// product wraps at 64 bits as Go's uint64 does, and flor masks it the
// same way. m = ⌊n·|ln p| / ln²2⌋ and k = ⌈ln 2 · m/n⌉, DCSO's
// Initialize, so a filter says what DCSO would have sized for (n, p).
//
// Written here rather than imported: github.com/DCSO/bloom is not served
// by the Go module proxy this project builds from. The tests check the
// bytes written against a filter that DCSO's own code wrote.
package dcso

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"math"
)

const (
	prime      uint64 = 18446744073709551557 // 2^64−59, the largest prime below 2^64
	multiplier uint64 = 18446744073709550147 // DCSO's g
	version    uint64 = 1
	headerSize        = 48
)

// maxBits bounds a filter to 2^40 bits (128 GiB), far beyond any set that
// fits a machine, so that a tiny rate cannot ask for more.
const maxBits = 1 << 40

// Filter is a DCSO Bloom filter being filled in memory.
type Filter struct {
	capacity uint64  // n
	rate     float64 // p
	hashes   uint64  // k
	bits     uint64  // m
	added    uint64  // N
	words    []uint64
	spots    []uint64 // a value's bit positions, reused by Add
}

// New returns an empty filter sized for n values at false-positive rate p
// (0 < p < 1). An empty set (n = 0) is sized for one value: DCSO's
// formulas divide by n.
func New(n uint64, p float64) (*Filter, error) {
	if !(p > 0 && p < 1) { // also NaN
		return nil, fmt.Errorf("false-positive rate %g: want a number between 0 and 1, e.g. 0.001", p)
	}
	n = max(n, 1)
	// DCSO's expressions, to the last bit: ceil of the negative product,
	// then its absolute value, rounds toward zero.
	m := math.Abs(math.Ceil(float64(n) * math.Log(p) / math.Pow(math.Log(2.0), 2.0)))
	if m > maxBits {
		return nil, fmt.Errorf("a filter of %d values at rate %g needs %.0f bits, more than %d", n, p, m, uint64(maxBits))
	}
	f := &Filter{capacity: n, rate: p, bits: max(uint64(m), 1)}
	f.hashes = max(uint64(math.Ceil(math.Log(2)*m/float64(n))), 1)
	f.words = make([]uint64, (f.bits+63)/64)
	f.spots = make([]uint64, f.hashes)
	return f, nil
}

// positions fills f.spots with value's bit positions.
func (f *Filter) positions(value []byte) []uint64 {
	h := fnv.New64() // FNV-1, not FNV-1a: DCSO's hv := fnv.New64()
	h.Write(value)
	x := h.Sum64() % prime
	for i := range f.spots {
		x = (x * multiplier) % prime // the product wraps at 64 bits, as DCSO's does
		f.spots[i] = x % f.bits
	}
	return f.spots
}

// Add adds a value: for hashlookup's filters, a digest in upper-case hex
// (AddDigest).
func (f *Filter) Add(value []byte) {
	added := false
	for _, bit := range f.positions(value) {
		mask := uint64(1) << (bit % 64)
		added = added || f.words[bit/64]&mask == 0
		f.words[bit/64] |= mask
	}
	if added {
		f.added++
	}
}

// Has reports whether value may have been added: false means certainly
// not.
func (f *Filter) Has(value []byte) bool {
	for _, bit := range f.positions(value) {
		if f.words[bit/64]&(uint64(1)<<(bit%64)) == 0 {
			return false
		}
	}
	return true
}

// upperHex is the alphabet of hashlookup's keys.
const upperHex = "0123456789ABCDEF"

// AddDigest adds a raw digest as hashlookup does: its upper-case hex
// string. hashlookup-forensic-analyser (bin/hashlookup-analyser.py) hashes
// a file with hashlib, takes hexdigest().upper() and asks
// `value.encode() in bf` (lower-casing only with --bloomfilters-lower-case),
// and recognises CIRCL's own filter by the presence of
// b"6F1C170761C212EFD5004DF7FB36CEAF9FB053F7": the ASCII bytes of the hex,
// upper case, nothing else.
func (f *Filter) AddDigest(digest []byte) {
	f.Add(HexKey(digest))
}

// HexKey is the value hashlookup's filters hold for a digest: its
// upper-case hex in ASCII.
func HexKey(digest []byte) []byte {
	out := make([]byte, 2*len(digest))
	for i, b := range digest {
		out[2*i], out[2*i+1] = upperHex[b>>4], upperHex[b&15]
	}
	return out
}

// Len is the number of values added (N: those that set a new bit).
func (f *Filter) Len() uint64 { return f.added }

// WriteTo writes the filter in DCSO's format.
func (f *Filter) WriteTo(w io.Writer) (int64, error) {
	head := make([]byte, headerSize)
	for i, v := range []uint64{version, f.capacity, math.Float64bits(f.rate), f.hashes, f.bits, f.added} {
		binary.LittleEndian.PutUint64(head[8*i:], v)
	}
	n, err := w.Write(head)
	written := int64(n)
	if err != nil {
		return written, err
	}
	// The words in chunks: a filter of millions of values is megabytes.
	buf := make([]byte, 0, 64<<10)
	for i, word := range f.words {
		buf = binary.LittleEndian.AppendUint64(buf, word)
		if len(buf) == cap(buf) || i == len(f.words)-1 {
			n, err := w.Write(buf)
			written += int64(n)
			if err != nil {
				return written, err
			}
			buf = buf[:0]
		}
	}
	return written, nil
}

// maxHashes bounds k in a file read: DCSO's sizing gives 50 at p = 1e-15.
const maxHashes = 1024

// Read reads a filter in DCSO's format (attached data after the bits is
// ignored), for tests and for readers of the filters hashr serves.
func Read(r io.Reader) (*Filter, error) {
	head := make([]byte, headerSize)
	if _, err := io.ReadFull(r, head); err != nil {
		return nil, fmt.Errorf("not a DCSO Bloom filter: reading its 48-byte header: %w", err)
	}
	field := func(i int) uint64 { return binary.LittleEndian.Uint64(head[8*i:]) }
	if field(0)&0xff != version {
		return nil, fmt.Errorf("not a DCSO Bloom filter: version flags %#x, want 1", field(0))
	}
	f := &Filter{capacity: field(1), rate: math.Float64frombits(field(2)), hashes: field(3), bits: field(4), added: field(5)}
	if f.bits == 0 || f.bits > maxBits || f.hashes == 0 || f.hashes > maxHashes {
		return nil, fmt.Errorf("DCSO Bloom filter header: m=%d, k=%d out of range", f.bits, f.hashes)
	}
	f.spots = make([]uint64, f.hashes)
	f.words = make([]uint64, 0, min((f.bits+63)/64, 1<<20))
	buf := make([]byte, 64<<10)
	for want := (f.bits + 63) / 64; uint64(len(f.words)) < want; {
		chunk := buf[:8*min(want-uint64(len(f.words)), uint64(len(buf)/8))]
		if _, err := io.ReadFull(r, chunk); err != nil {
			return nil, fmt.Errorf("DCSO Bloom filter truncated: reading %d words of bits: %w", want, err)
		}
		for i := 0; i < len(chunk); i += 8 {
			f.words = append(f.words, binary.LittleEndian.Uint64(chunk[i:]))
		}
	}
	return f, nil
}

// Capacity is n, the number of values the filter was sized for.
func (f *Filter) Capacity() uint64 { return f.capacity }

// Rate is the false-positive rate the filter was sized for.
func (f *Filter) Rate() float64 { return f.rate }

// Hashes is k, the bits set per value.
func (f *Filter) Hashes() uint64 { return f.hashes }

// Bits is m, the size of the bit array.
func (f *Filter) Bits() uint64 { return f.bits }
