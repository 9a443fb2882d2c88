package digest

import (
	"encoding/hex"
	"math"
	"slices"
	"strings"
)

// TLSHDigest computes the Trend Micro Locality Sensitive Hash (Oliver, Cheng
// and Chen, 2013) of a stream, as the tlsh 3.4.4 command prints it: the
// 128-bucket hash with a 1-byte checksum, 70 uppercase hex digits.
//
// A window of 5 bytes slides over the input; for each position, six
// triplets of its bytes are mapped by a salted Pearson hash to a bucket
// whose count goes up. The digest is a header (checksum, length class,
// quartile ratios) and 2 bits per bucket saying in which quartile of the
// counts it falls.
type TLSHDigest struct {
	n          uint64 // bytes written
	b1, b2, b3 byte   // the last bytes written, b1 the latest
	b4         byte
	checksum   byte
	// Counts as the reference keeps them (32-bit); only the first 128 are
	// used, but all 256 cost nothing and save a branch.
	buckets [256]uint32
}

const (
	tlshMinInput = 256 // shorter inputs have no TLSH, as with the reference
	// tlshMaxInput: the reference counts bytes in 32 bits, so longer inputs
	// would give a value nobody else could reproduce; they get none.
	tlshMaxInput    = 1<<32 - 1
	tlshBuckets     = 128
	tlshCodeBytes   = tlshBuckets / 4
	tlshDigestBytes = 3 + tlshCodeBytes
)

// pearson is the permutation TLSH uses for its Pearson hashing.
var pearson = [256]byte{
	1, 87, 49, 12, 176, 178, 102, 166, 121, 193, 6, 84, 249, 230, 44, 163,
	14, 197, 213, 181, 161, 85, 218, 80, 64, 239, 24, 226, 236, 142, 38, 200,
	110, 177, 104, 103, 141, 253, 255, 50, 77, 101, 81, 18, 45, 96, 31, 222,
	25, 107, 190, 70, 86, 237, 240, 34, 72, 242, 20, 214, 244, 227, 149, 235,
	97, 234, 57, 22, 60, 250, 82, 175, 208, 5, 127, 199, 111, 62, 135, 248,
	174, 169, 211, 58, 66, 154, 106, 195, 245, 171, 17, 187, 182, 179, 0, 243,
	132, 56, 148, 75, 128, 133, 158, 100, 130, 126, 91, 13, 153, 246, 216, 219,
	119, 68, 223, 78, 83, 88, 201, 99, 122, 11, 92, 32, 136, 114, 52, 10,
	138, 30, 48, 183, 156, 35, 61, 26, 143, 74, 251, 94, 129, 162, 63, 152,
	170, 7, 115, 167, 241, 206, 3, 150, 55, 59, 151, 220, 90, 53, 23, 131,
	125, 173, 15, 238, 79, 95, 89, 16, 105, 137, 225, 224, 217, 160, 37, 123,
	118, 73, 2, 157, 46, 116, 9, 145, 134, 228, 207, 212, 202, 215, 69, 229,
	27, 188, 67, 124, 168, 252, 42, 4, 29, 108, 21, 247, 19, 205, 39, 203,
	233, 40, 186, 147, 198, 192, 155, 33, 164, 191, 98, 204, 165, 180, 117, 76,
	140, 36, 210, 172, 41, 54, 159, 8, 185, 232, 113, 196, 231, 47, 146, 120,
	51, 65, 28, 144, 254, 221, 93, 189, 194, 139, 112, 43, 71, 109, 184, 209,
}

// The salts of the checksum and of the six triplets, already passed through
// the first round of the Pearson hash (whose input is 0 ^ salt).
var (
	saltChecksum = pearson[0]
	salt2        = pearson[2]
	salt3        = pearson[3]
	salt5        = pearson[5]
	salt7        = pearson[7]
	salt11       = pearson[11]
	salt13       = pearson[13]
)

// NewTLSH returns a TLSHDigest ready for input.
func NewTLSH() *TLSHDigest { return new(TLSHDigest) }

// Reset forgets all input.
func (t *TLSHDigest) Reset() { *t = TLSHDigest{} }

// Write adds p to the input. It never fails.
func (t *TLSHDigest) Write(p []byte) (int, error) {
	written := len(p)
	n := t.n
	b1, b2, b3, b4 := t.b1, t.b2, t.b3, t.b4
	// The first four bytes only fill the window.
	for len(p) > 0 && n < 4 {
		b1, b2, b3, b4 = p[0], b1, b2, b3
		p = p[1:]
		n++
	}
	checksum := t.checksum
	buckets := &t.buckets
	for _, c := range p {
		checksum = pearson[pearson[pearson[saltChecksum^c]^b1]^checksum]
		buckets[pearson[pearson[pearson[salt2^c]^b1]^b2]]++
		buckets[pearson[pearson[pearson[salt3^c]^b1]^b3]]++
		buckets[pearson[pearson[pearson[salt5^c]^b2]^b3]]++
		buckets[pearson[pearson[pearson[salt7^c]^b2]^b4]]++
		buckets[pearson[pearson[pearson[salt11^c]^b1]^b4]]++
		buckets[pearson[pearson[pearson[salt13^c]^b3]^b4]]++
		b1, b2, b3, b4 = c, b1, b2, b3
	}
	t.n = n + uint64(len(p))
	t.b1, t.b2, t.b3, t.b4 = b1, b2, b3, b4
	t.checksum = checksum
	return written, nil
}

// Sum returns the digest as 70 uppercase hex digits, or "" when there is
// none: under 256 bytes, over 4 GiB, or too little variety in the input
// (half or more of the buckets empty), as the reference decides.
func (t *TLSHDigest) Sum() string {
	if t.n < tlshMinInput || t.n > tlshMaxInput {
		return ""
	}
	counts := t.buckets[:tlshBuckets]
	nonzero := 0
	for _, c := range counts {
		if c > 0 {
			nonzero++
		}
	}
	if nonzero <= tlshBuckets/2 {
		return ""
	}
	sorted := slices.Clone(counts)
	slices.Sort(sorted)
	q1 := sorted[tlshBuckets/4-1]
	q2 := sorted[tlshBuckets/2-1]
	q3 := sorted[tlshBuckets-tlshBuckets/4-1]

	var d [tlshDigestBytes]byte
	d[0] = swapNibbles(t.checksum)
	d[1] = swapNibbles(tlshLength(uint32(t.n)))
	d[2] = quartileRatio(q1, q3)<<4 | quartileRatio(q2, q3)
	// Two bits per bucket, four buckets a byte, the last byte first.
	for i := range tlshCodeBytes {
		var code byte
		for j := range 4 {
			switch k := counts[4*i+j]; {
			case k > q3:
				code |= 3 << (2 * j)
			case k > q2:
				code |= 2 << (2 * j)
			case k > q1:
				code |= 1 << (2 * j)
			}
		}
		d[3+tlshCodeBytes-1-i] = code
	}
	return strings.ToUpper(hex.EncodeToString(d[:]))
}

func swapNibbles(b byte) byte { return b<<4 | b>>4 }

// quartileRatio is q·100/q3 modulo 16, with the reference's 32-bit
// arithmetic and single-precision division.
func quartileRatio(q, q3 uint32) byte {
	return byte(uint32(float32(q*100)/float32(q3)) % 16)
}

// tlshLength is the logarithmic length class of an input of n bytes,
// computed as the reference does: a single-precision logarithm, then
// double-precision division by the constants below and rounding down.
// testdata/tlsh-length-classes.txt holds the reference's own boundaries.
func tlshLength(n uint32) byte {
	const (
		log1_5 = 0.4054651
		log1_3 = 0.26236426
		log1_1 = 0.095310180
	)
	l := float64(logf(float32(n)))
	var i int
	switch {
	case n <= 656:
		i = int(math.Floor(l / log1_5))
	case n <= 3199:
		i = int(math.Floor(l/log1_3 - 8.72777))
	default:
		i = int(math.Floor(l/log1_1 - 62.5472))
	}
	return byte(i)
}

// logf is the natural logarithm in single precision, correctly rounded.
func logf(x float32) float32 { return float32(math.Log(float64(x))) }
