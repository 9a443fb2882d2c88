package digest

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"hash"
	"hash/crc32"
	"io"

	"github.com/hashr-dev/hashr/internal/digest/sha1sha256"
	"github.com/zeebo/blake3"
)

// Hasher computes a set of digests, and the MIME type, of one stream of
// bytes in a single pass. Write the bytes to it (it is an io.Writer), or
// have it read them with ReadFrom, which uses several cores for a long
// input; then call Sum. Reset makes it ready for the next stream, keeping
// its buffers. A Hasher is not safe for concurrent use.
type Hasher struct {
	set     Set
	engines []engine // one per algorithm of set
	lanes   [][]engine
	md5     int      // the md5 engine's index in engines, or -1
	others  []engine // the engines but md5's, for the md5 engine's path
	n       int64
	head    []byte // the first MIMEHeadSize bytes, for MIME detection
}

// engine is the running state of one algorithm, or of sha1 and sha256
// together (sha1sha256).
type engine struct {
	algos Set
	w     io.Writer
	sum   func(*Sums) // fills the engine's fields
}

// shaPair is sha1 and sha256, which one engine computes together on a CPU
// with the SHA extensions, in little more time than sha1 alone.
const shaPair = Set(SHA1 | SHA256)

// useSHAPair says whether New computes sha1 and sha256 with sha1sha256: on
// a CPU with its kernel. A variable so that tests can try both ways.
var useSHAPair = sha1sha256.Available()

// New returns a Hasher for the algorithms of set. An empty set still
// counts the bytes and detects the MIME type.
func New(set Set) *Hasher {
	h := &Hasher{set: set, head: make([]byte, 0, MIMEHeadSize), md5: -1}
	pair := set&shaPair == shaPair && useSHAPair
	if pair {
		e := newSHAPairEngine()
		h.others = append(h.others, e)
		h.engines = append(h.engines, e)
	}
	for _, a := range set.Algos() {
		if pair && shaPair.Has(a) {
			continue
		}
		e := newEngine(a)
		if a == MD5 {
			h.md5 = len(h.engines)
		} else {
			h.others = append(h.others, e)
		}
		h.engines = append(h.engines, e)
	}
	h.lanes = planLanes(h.engines, fanoutLanes())
	return h
}

// newSHAPairEngine is the engine of sha1 and sha256 together.
func newSHAPairEngine() engine {
	d := sha1sha256.New()
	return engine{shaPair, d, func(s *Sums) {
		sum1, sum256 := d.Sums()
		s.SHA1, s.SHA256 = hex.EncodeToString(sum1[:]), hex.EncodeToString(sum256[:])
	}}
}

// newEngine is the engine of algorithm a alone.
func newEngine(a Algo) engine {
	var w io.Writer
	var sum func() string // the digest as the record holds it
	switch a {
	case MD5:
		w = md5.New()
	case SHA1:
		w = sha1.New()
	case SHA256:
		w = sha256.New()
	case SHA512:
		w = sha512.New()
	case CRC32:
		w = crc32.NewIEEE()
	case BLAKE3:
		w = blake3.New()
	case SSDEEP:
		s := NewSpamsum()
		w, sum = s, s.Sum
	case TLSH:
		t := NewTLSH()
		w, sum = t, t.Sum
	default:
		panic("digest: unknown algorithm " + a.String())
	}
	if sum == nil {
		hh := w.(hash.Hash)
		sum = func() string { return hex.EncodeToString(hh.Sum(nil)) }
	}
	return engine{Set(a), w, func(s *Sums) { *s.field(a) = sum() }}
}

// Set is the algorithms h computes.
func (h *Hasher) Set() Set { return h.set }

// Reset forgets the input, for hashing the next stream.
func (h *Hasher) Reset() {
	for _, e := range h.engines {
		e.w.(interface{ Reset() }).Reset()
	}
	h.n = 0
	h.head = h.head[:0]
}

// sliceSize is how much of a buffer each algorithm takes in turn: small
// enough that the bytes are still in the CPU's cache for the next one.
const sliceSize = 64 << 10

// Write hashes p. It never fails.
func (h *Hasher) Write(p []byte) (int, error) {
	h.account(p)
	writeEngines(h.engines, p)
	return len(p), nil
}

// account counts p and keeps the start of the input for MIME detection.
func (h *Hasher) account(p []byte) {
	if len(h.head) < MIMEHeadSize {
		h.head = append(h.head, p[:min(len(p), MIMEHeadSize-len(h.head))]...)
	}
	h.n += int64(len(p))
}

func writeEngines(engines []engine, p []byte) {
	if len(engines) == 1 {
		engines[0].w.Write(p)
		return
	}
	for len(p) > 0 {
		s := p[:min(len(p), sliceSize)]
		for _, e := range engines {
			e.w.Write(s) // hashes and our fuzzy digests never fail
		}
		p = p[len(s):]
	}
}

// Sum returns the digests of everything written since New or Reset.
func (h *Hasher) Sum() Sums {
	s := Sums{Size: h.n, MIME: DetectMIME(h.head)}
	for _, e := range h.engines {
		e.sum(&s)
	}
	return s
}
