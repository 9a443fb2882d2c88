// Package hexdigit decodes digests' hex by a table of the digits' values,
// one look-up a digit and one check a digest: hex.Decode's branches took
// 11 instructions a digit, a share of every loop that reads digests by
// the thousand (hashr-load's records, hashr-dedup's keys, hashr-serve's
// bulks).
package hexdigit

// Decode decodes src, an even number of hex digits, into dst, which has
// room for len(src)/2 bytes, and says whether every byte of src was a
// digit: lowercase only (records.CheckHex: a record's digests), or with
// anyCase either case (CIRCL's clients send upper case). dst is undefined
// when it returns false.
func Decode[S ~string | ~[]byte](dst []byte, src S, anyCase bool) bool {
	values := &lowerValues
	if anyCase {
		values = &anyCaseValues
	}
	var bad byte
	for i := range len(src) / 2 {
		hi, lo := values[src[2*i]], values[src[2*i+1]]
		bad |= hi | lo
		dst[i] = hi<<4 | lo&0xF
	}
	return bad&notDigit == 0 && len(src)%2 == 0
}

// notDigit marks a byte that is not a digit in the tables.
const notDigit = 0x10

// lowerValues and anyCaseValues are each byte's value as a hex digit, and
// notDigit for any other byte.
var lowerValues, anyCaseValues = digitValues(false), digitValues(true)

func digitValues(anyCase bool) (t [256]byte) {
	for i := range t {
		t[i] = notDigit
	}
	for i := range 16 {
		t["0123456789abcdef"[i]] = byte(i)
		if anyCase {
			t["0123456789ABCDEF"[i]] = byte(i)
		}
	}
	return t
}
