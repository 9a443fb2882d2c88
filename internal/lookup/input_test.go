package lookup

import (
	"bytes"
	"encoding/hex"
	"testing"
)

func TestHashLine(t *testing.T) {
	o := &options{lookBy: []string{"sha256", "sha1", "md5"}}
	md5 := "d41d8cd98f00b204e9800998ecf8427e"
	for _, tc := range []struct{ line, by, path string }{
		{md5, "md5", ""},
		{"  " + md5 + "  ", "md5", ""},
		{md5 + "  some file.txt", "md5", "some file.txt"},
		{md5 + " *binary.exe", "md5", "binary.exe"},
		{`\` + md5 + `  a\nb\\c`, "md5", "a\nb\\c"},
		{"DA39A3EE5E6B4B0D3255BFEF95601890AFD80709", "sha1", ""},
		{"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\tname", "sha256", ""},
	} {
		q := hashLine(tc.line, "stdin:1", o)
		if q == nil || q.failure != nil || q.by != tc.by || q.hash.Path != tc.path {
			t.Errorf("hashLine(%q) = %+v; want a %s lookup with path %q", tc.line, q, tc.by, tc.path)
		}
	}
	for _, line := range []string{"", "   ", "# comment", "MD5", "SHA-1"} {
		if q := hashLine(line, "stdin:1", o); q != nil {
			t.Errorf("hashLine(%q) = %+v; want nothing", line, q)
		}
	}
	for _, line := range []string{"xyz", md5[:31], md5 + "0", "g" + md5[1:]} {
		if q := hashLine(line, "stdin:1", o); q == nil || q.failure == nil {
			t.Errorf("hashLine(%q) is not a failure", line)
		}
	}
	// A Bloom filter of sha256 digests cannot answer an md5.
	if q := hashLine(md5, "stdin:1", &options{lookBy: []string{"sha256"}}); q == nil || q.failure == nil {
		t.Errorf("an md5 against a sha256 filter is not a failure")
	}
}

// decodeHex takes what hex.DecodeString takes, of the key's length, and
// refuses the rest.
func TestDecodeHex(t *testing.T) {
	for _, s := range []string{"00ff", "A0b1", "c3D4", "0g00", "00f", "00ff00", "", " 0ff", "0x00", "ff\n0"} {
		want, err := hex.DecodeString(s)
		wantOK := err == nil && len(want) == 2
		key := make([]byte, 2)
		if ok := decodeHex(key, s); ok != wantOK || ok && !bytes.Equal(key, want) {
			t.Errorf("decodeHex(%q) = %x, %v; want %x, %v", s, key, ok, want, wantOK)
		}
	}
}
