// Package digest is hashr's one implementation of file digests: the
// cryptographic ones (md5, sha1, sha256, sha512), crc32, blake3, the fuzzy
// hashes ssdeep and TLSH, and the MIME type, all computed in a single pass
// over the bytes. hashr-hash and hashr-extract --hash both use it, so a
// digest means the same whichever stage computed it.
package digest

import (
	"fmt"
	"strings"
)

// Algo is one digest algorithm.
type Algo uint16

// The algorithms, in the order records list their fields.
const (
	MD5 Algo = 1 << iota
	SHA1
	SHA256
	SHA512
	CRC32
	BLAKE3
	SSDEEP
	TLSH
	numAlgos = iota
)

var algoNames = [numAlgos]string{"md5", "sha1", "sha256", "sha512", "crc32", "blake3", "ssdeep", "tlsh"}

// String is the algorithm's name, which is also its record field.
func (a Algo) String() string {
	for i := range numAlgos {
		if a == 1<<i {
			return algoNames[i]
		}
	}
	return fmt.Sprintf("Algo(%#x)", uint16(a))
}

// Set is a set of algorithms.
type Set uint16

// Default is what hashr-hash computes unless told otherwise.
const Default = Set(MD5 | SHA1 | SHA256)

// All holds every algorithm.
const All = Set(1<<numAlgos - 1)

// Names lists every algorithm name, for help texts and error messages.
func Names() string { return strings.Join(algoNames[:], ",") }

// Parse reads a comma-separated list of algorithm names such as
// "md5,sha1,sha256". Names are case-insensitive, blanks around them are
// ignored, and repeats do not matter. An empty list or an unknown name is an
// error that names the valid ones.
func Parse(list string) (Set, error) {
	var s Set
	for name := range strings.SplitSeq(list, ",") {
		name = strings.ToLower(strings.TrimSpace(name))
		if name == "" {
			continue
		}
		a, ok := lookup(name)
		if !ok {
			return 0, fmt.Errorf("unknown digest algorithm %q (valid: %s)", name, Names())
		}
		s |= Set(a)
	}
	if s == 0 {
		return 0, fmt.Errorf("no digest algorithm in %q (valid: %s)", list, Names())
	}
	return s, nil
}

func lookup(name string) (Algo, bool) {
	for i, n := range algoNames {
		if n == name {
			return 1 << i, true
		}
	}
	return 0, false
}

// Has reports whether a is in s.
func (s Set) Has(a Algo) bool { return s&Set(a) != 0 }

// Algos lists the algorithms of s in record order.
func (s Set) Algos() []Algo {
	var out []Algo
	for i := range numAlgos {
		if a := Algo(1 << i); s.Has(a) {
			out = append(out, a)
		}
	}
	return out
}

// String is the comma-separated list Parse reads back.
func (s Set) String() string {
	var names []string
	for _, a := range s.Algos() {
		names = append(names, a.String())
	}
	return strings.Join(names, ",")
}
