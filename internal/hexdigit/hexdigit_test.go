package hexdigit

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

// Every byte in every place of a digest, in both modes, against
// hex.Decode (which takes either case).
func TestDecodeAsHexDecode(t *testing.T) {
	for _, anyCase := range []bool{false, true} {
		for at := range 8 {
			for c := range 256 {
				h := []byte("09afAF09")
				if !anyCase {
					h = []byte("09af09af")
				}
				h[at] = byte(c)
				want, wantErr := hex.DecodeString(string(h))
				wantOK := wantErr == nil && (anyCase || strings.ToLower(string(h)) == string(h))
				got := make([]byte, 4)
				if ok := Decode(got, h, anyCase); ok != wantOK || ok && !bytes.Equal(got, want) {
					t.Fatalf("Decode(%q, anyCase %v) = %x, %v; want %x, %v", h, anyCase, got, ok, want, wantOK)
				}
				if ok := Decode(got, string(h), anyCase); ok != wantOK {
					t.Fatalf("Decode(string %q, anyCase %v) = %v, want %v", h, anyCase, ok, wantOK)
				}
			}
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add("0123456789abcdef", false)
	f.Add("ABCDEF", true)
	f.Add("0g", true)
	f.Fuzz(func(t *testing.T, s string, anyCase bool) {
		if len(s)%2 != 0 {
			s = s[1:]
		}
		got := make([]byte, len(s)/2)
		want, err := hex.DecodeString(s)
		wantOK := err == nil && (anyCase || strings.ToLower(s) == s)
		if ok := Decode(got, s, anyCase); ok != wantOK || ok && !bytes.Equal(got, want) {
			t.Fatalf("Decode(%q, %v) = %x, %v; hex.DecodeString: %x, %v", s, anyCase, got, ok, want, err)
		}
	})
}
