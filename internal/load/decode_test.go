package load

import (
	"bytes"
	"encoding/hex"
	"reflect"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/pkg/records"
	"github.com/hashr-dev/hashr/pkg/records/recordstest"
)

// decodeFile reads every field hashr-load uses as Raw.Decode does, and
// fails on the same lines with the same errors.
func TestDecodeFileAgreesWithDecode(t *testing.T) {
	lines := []string{
		`{"type":"file","source":"s","path":"usr/bin/x","size":12,"md5":"a","sha1":"b","sha256":"c","mime":"text/plain","seen":false,"local":"/spool/x"}`,
		`{"type":"file","path":"caf\u00e9 \"quoted\" \\ back\/slash","size":0,"seen":true,"extra":{"nested":[1,2]},"sha512":"d"}`,
		`{"type":"file","path":"dup","path":"last wins","crc32":"e","blake3":"f","ssdeep":"3:a:b","tlsh":"T1AB","mtime":"2024-01-01T00:00:00Z"}`,
		`{"type":"file","path":"p","size":null,"seen":null,"md5":null}`,
		`{"type":"file","path":"p","size":1e3}`,
		`{"type":"file","path":"p","size":"12"}`,
		`{"type":"file","path":"p","seen":"yes"}`,
		`{"type":"file","path":7}`,
		`{"type":"file","Path":"other case","path":"p"}`,
	}
	for _, line := range lines {
		raw := recordstest.Raw(t, line+"\n")
		fast, fastErr := decodeFile(raw)
		slow, slowErr := raw.Decode()
		if (fastErr == nil) != (slowErr == nil) || fastErr != nil && fastErr.Error() != slowErr.Error() {
			t.Fatalf("%s: decodeFile error %v, Decode error %v", line, fastErr, slowErr)
		}
		if fastErr != nil {
			continue
		}
		want := *slow.(*records.File)
		want.Extra, want.Mode, want.PathRaw = nil, "", "" // not read by decodeFile: hashr-load does not store them
		if got := *fast; !reflect.DeepEqual(got, want) {
			t.Fatalf("%s:\ndecodeFile %+v\nDecode     %+v", line, got, want)
		}
	}
}

// fileRow decodes every digest of a file record, each its own bytes
// though they share one allocation, and leaves absent ones nil.
func TestFileRowDecodesEveryDigest(t *testing.T) {
	f := &records.File{Path: "p", MD5: "00112233445566778899aabbccddeeff", SHA1: strings.Repeat("ab", 20),
		SHA256: strings.Repeat("0f", 32), SHA512: strings.Repeat("f0", 64), CRC32: "deadbeef"}
	row, err := fileRow(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []struct {
		hex string
		got []byte
	}{{f.MD5, row.MD5}, {f.SHA1, row.SHA1}, {f.SHA256, row.SHA256}, {f.SHA512, row.SHA512}, {f.CRC32, row.CRC32}} {
		if want, _ := hex.DecodeString(d.hex); !bytes.Equal(d.got, want) || cap(d.got) != len(want) {
			t.Errorf("%s decoded as %x (cap %d)", d.hex, d.got, cap(d.got))
		}
	}
	if row.BLAKE3 != nil {
		t.Errorf("absent blake3 decoded as %x", row.BLAKE3)
	}
}
