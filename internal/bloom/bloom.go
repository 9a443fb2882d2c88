// Package bloom is hashr's Bloom filter of a hash set, for offline "is this
// file known?" checks without the database: hashr-export --format bloom
// writes one, hashr-lookup --bloom reads it.
//
// The file is one line of JSON (the header), then the bit array:
//
//	{"format":"hashr-bloom","version":1,"key":"sha256","n":N,"m":M,"k":K,"fp_rate":P}\n
//	ceil(M/8) bytes: bit j is byte j/8, mask 1<<(j%8)
//
// A key is a raw digest (32 bytes of SHA-256, or 20 of SHA-1). Its K bits
// come from double hashing on the digest itself, which is already
// uniform: h1 is the little-endian uint64 of bytes 0–7, h2 that of bytes
// 8–15 with its lowest bit set, and bit i is (h1 + i·h2) mod M. M and K
// are the optimal ones for N keys at the stated false-positive rate P:
// M = ceil(−N·ln P / ln²2), K = round(M/N · ln 2).
package bloom

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
)

// Header describes a filter; it is the file's first line.
type Header struct {
	Format  string  `json:"format"` // always "hashr-bloom"
	Version int     `json:"version"`
	Key     string  `json:"key"` // "sha256" or "sha1"
	N       int64   `json:"n"`   // keys the filter was sized for
	M       uint64  `json:"m"`   // bits
	K       int     `json:"k"`   // bits per key
	FPRate  float64 `json:"fp_rate"`
}

// Filter is a Bloom filter in memory.
type Filter struct {
	Header
	bits []byte
}

// KeySize is the length of a key in bytes for a key algorithm.
func KeySize(key string) (int, error) {
	switch key {
	case "sha256":
		return 32, nil
	case "sha1":
		return 20, nil
	}
	return 0, fmt.Errorf("bloom filter key %q: want sha256 or sha1", key)
}

// maxBits bounds a filter to 2^40 bits (128 GiB), far beyond any set that
// fits a machine, so that a hostile header cannot ask for more.
const maxBits = 1 << 40

// New returns an empty filter sized for n keys at false-positive rate p.
func New(key string, n int64, p float64) (*Filter, error) {
	if _, err := KeySize(key); err != nil {
		return nil, err
	}
	if !(p > 0 && p < 1) {
		return nil, fmt.Errorf("false-positive rate %g: want a number between 0 and 1, e.g. 0.001", p)
	}
	n = max(n, 1)
	m := uint64(math.Ceil(-float64(n) * math.Log(p) / (math.Ln2 * math.Ln2)))
	m = max(m, 64)
	if m > maxBits {
		return nil, fmt.Errorf("a filter of %d keys at rate %g needs %d bits, more than %d", n, p, m, uint64(maxBits))
	}
	k := max(int(math.Round(float64(m)/float64(n)*math.Ln2)), 1)
	return &Filter{
		Header: Header{Format: "hashr-bloom", Version: 1, Key: key, N: n, M: m, K: k, FPRate: p},
		bits:   make([]byte, (m+7)/8),
	}, nil
}

func (f *Filter) positions(key []byte, each func(bit uint64) bool) bool {
	h1 := binary.LittleEndian.Uint64(key[0:8])
	h2 := binary.LittleEndian.Uint64(key[8:16]) | 1
	for i := range uint64(f.K) {
		if !each((h1 + i*h2) % f.M) {
			return false
		}
	}
	return true
}

func (f *Filter) checkKey(key []byte) error {
	want, _ := KeySize(f.Key)
	if len(key) != want {
		return fmt.Errorf("a %s key has %d bytes, not %d", f.Key, want, len(key))
	}
	return nil
}

// Add adds a key: a raw digest of the filter's key algorithm.
func (f *Filter) Add(key []byte) error {
	if err := f.checkKey(key); err != nil {
		return err
	}
	f.positions(key, func(bit uint64) bool {
		f.bits[bit/8] |= 1 << (bit % 8)
		return true
	})
	return nil
}

// Has reports whether key may be in the set: false means certainly not.
func (f *Filter) Has(key []byte) (bool, error) {
	if err := f.checkKey(key); err != nil {
		return false, err
	}
	return f.positions(key, func(bit uint64) bool { return f.bits[bit/8]&(1<<(bit%8)) != 0 }), nil
}

// WriteTo writes the filter's file.
func (f *Filter) WriteTo(w io.Writer) (int64, error) {
	head, err := json.Marshal(f.Header)
	if err != nil {
		return 0, err
	}
	n, err := w.Write(append(head, '\n'))
	if err != nil {
		return int64(n), err
	}
	m, err := w.Write(f.bits)
	return int64(n + m), err
}

// maxHeader bounds the header line.
const maxHeader = 4096

// Read reads a filter's file.
func Read(r io.Reader) (*Filter, error) {
	br := bufio.NewReader(io.LimitReader(r, maxHeader))
	line, err := br.ReadSlice('\n')
	if err != nil {
		return nil, errors.New("not a hashr Bloom filter: no header line")
	}
	var h Header
	if err := json.Unmarshal(line, &h); err != nil || h.Format != "hashr-bloom" {
		return nil, errors.New("not a hashr Bloom filter: the first line is not its JSON header")
	}
	if h.Version != 1 {
		return nil, fmt.Errorf("hashr Bloom filter version %d: this hashr reads version 1", h.Version)
	}
	if _, err := KeySize(h.Key); err != nil {
		return nil, err
	}
	if h.M == 0 || h.M > maxBits || h.K < 1 || h.K > 64 {
		return nil, fmt.Errorf("hashr Bloom filter header: m=%d, k=%d out of range", h.M, h.K)
	}
	f := &Filter{Header: h}
	rest := io.MultiReader(br, r) // what the header reader buffered, then the rest
	f.bits = make([]byte, 0, min((h.M+7)/8, 1<<26))
	buf := make([]byte, 1<<20)
	for uint64(len(f.bits)) < (h.M+7)/8 {
		n, err := rest.Read(buf[:min(uint64(len(buf)), (h.M+7)/8-uint64(len(f.bits)))])
		f.bits = append(f.bits, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading the Bloom filter's bits: %w", err)
		}
	}
	if uint64(len(f.bits)) != (h.M+7)/8 {
		return nil, fmt.Errorf("hashr Bloom filter truncated: %d of %d bytes of bits", len(f.bits), (h.M+7)/8)
	}
	return f, nil
}
