package load

import (
	"bytes"
	"encoding/hex"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/hashr-dev/hashr/pkg/records"
	"github.com/hashr-dev/hashr/pkg/records/recordstest"
)

// decoderLines are file records for comparing fileDecoder with
// Raw.Decode: escapes, unknown and repeated fields, nulls, and values of
// the wrong type, which Decode refuses.
var decoderLines = []string{
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

// fileDecoder reads every field hashr-load uses as Raw.Decode does, and
// fails on the same lines with the same errors.
func TestDecodeFileAgreesWithDecode(t *testing.T) {
	for _, line := range decoderLines {
		raw := recordstest.Raw(t, line+"\n")
		var d fileDecoder
		fast, fastErr := d.decode(raw)
		slow, slowErr := raw.Decode()
		if (fastErr == nil) != (slowErr == nil) || fastErr != nil && fastErr.Error() != slowErr.Error() {
			t.Fatalf("%s: fileDecoder error %v, Decode error %v", line, fastErr, slowErr)
		}
		if fastErr != nil {
			continue
		}
		want := *slow.(*records.File)
		want.Extra, want.Mode, want.PathRaw = nil, "", "" // not read by fileDecoder: hashr-load does not store them
		if got := *fast; !reflect.DeepEqual(got, want) {
			t.Fatalf("%s:\nfileDecoder %+v\nDecode     %+v", line, got, want)
		}
	}
}

// fileRow decodes every digest of a file record, each its own bytes
// though they share one allocation, and leaves absent ones nil.
func TestFileRowDecodesEveryDigest(t *testing.T) {
	f := &records.File{Path: "p", MD5: "00112233445566778899aabbccddeeff", SHA1: strings.Repeat("ab", 20),
		SHA256: strings.Repeat("0f", 32), SHA512: strings.Repeat("f0", 64), CRC32: "deadbeef"}
	row, err := fileRow(f, &byteSlab{})
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

// A row's strings are copies, not substrings of the record's line: a row
// waits in its batch until the commit, and one holding a substring kept
// the whole line alive with it.
func TestFileRowKeepsNoPartOfTheLine(t *testing.T) {
	raw := recordstest.Raw(t, `{"type":"file","path":"usr/bin/x","sha256":"`+strings.Repeat("0f", 32)+
		`","mime":"text/plain","ssdeep":"3:a:b","tlsh":"T1AB","local":"/spool/x"}`+"\n")
	var d fileDecoder
	f, err := d.decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	row, err := fileRow(f, &byteSlab{})
	if err != nil {
		t.Fatal(err)
	}
	line := uintptr(unsafe.Pointer(unsafe.SliceData(raw.Line)))
	for name, s := range map[string]string{"path": row.Path, "mime": row.MIME, "ssdeep": row.SSDEEP, "tlsh": row.TLSH, "local": row.Local} {
		if s == "" {
			t.Fatalf("%s not decoded", name)
		}
		if at := uintptr(unsafe.Pointer(unsafe.StringData(s))); at >= line && at < line+uintptr(len(raw.Line)) {
			t.Errorf("the row's %s %q lies in the record's line", name, s)
		}
	}
}

// FuzzFileDecoder checks fileDecoder against decodeFileBefore, the
// decoder it replaced (a string per field, a File per record): on any
// line the reader takes as a file record, both accept or both fail with
// the same error, and read the same fields. The decoder is reused, as
// hashr-load does, after a record with every field, so that nothing of
// one record stays in the next.
//
//	go test -run - -fuzz FileDecoder ./internal/load/
func FuzzFileDecoder(f *testing.F) {
	full := `{"type":"file","source":"s","path":"p","size":1,"mtime":"2024-01-01T00:00:00Z","local":"l","mime":"m","md5":"a","sha1":"b","sha256":"c","sha512":"d","crc32":"e","blake3":"f","ssdeep":"g","tlsh":"h","seen":true}`
	for _, seed := range slices.Concat([]string{full}, decoderLines, []string{
		`{"type":"file","path":"naïve ☃","mime":"x"}`,
		` { "type" : "file" , "path" : "spaced" , "size" : -3 } `,
		`{"type":"file","size":99999999999999999999}`}) {
		f.Add([]byte(seed))
	}
	fullRaw := recordstest.Raw(f, full+"\n")
	f.Fuzz(func(t *testing.T, line []byte) {
		raw, err := records.NewReader(bytes.NewReader(append(line, '\n')), "fuzz").Next()
		if err != nil || raw.Type != records.TypeFile {
			return
		}
		var d fileDecoder
		if _, err := d.decode(fullRaw); err != nil {
			t.Fatal(err)
		}
		got, gotErr := d.decode(raw)
		want, wantErr := decodeFileBefore(raw)
		if (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Error() != wantErr.Error() {
			t.Fatalf("%s: fileDecoder error %v, before %v", line, gotErr, wantErr)
		}
		if gotErr == nil && !reflect.DeepEqual(*got, *want) {
			t.Fatalf("%s:\nfileDecoder %+v\nbefore      %+v", line, *got, *want)
		}
	})
}

// decodeFileBefore is hashr-load's file record decoder before fileDecoder,
// kept as FuzzFileDecoder's reference.
func decodeFileBefore(raw *records.Raw) (*records.File, error) {
	var f records.File
	plain := true
	err := records.Members(raw.Line, func(name, value []byte) bool {
		if dst := fileTextField(&f, name); dst != nil {
			s, err := records.StringValue(value)
			*dst, plain = s, err == nil
			return plain
		}
		switch string(name) {
		case "size":
			n, err := strconv.ParseInt(string(value), 10, 64)
			f.Size, plain = &n, err == nil
		case "seen":
			switch string(value) {
			case "true":
				f.Seen = records.Bool(true)
			case "false":
				f.Seen = records.Bool(false)
			default:
				plain = false
			}
		}
		return plain
	})
	if err != nil || !plain {
		rec, err := raw.Decode()
		if err != nil {
			return nil, err
		}
		return rec.(*records.File), nil
	}
	return &f, nil
}

// FuzzFileRowChecksAsValidate checks fileRow, which checks the digests
// as it decodes them, against records.File.Validate and hex.DecodeString:
// it fails with Validate's error exactly when Validate fails, and
// otherwise holds each digest's bytes.
//
//	go test -run - -fuzz FileRowChecksAsValidate ./internal/load/
func FuzzFileRowChecksAsValidate(f *testing.F) {
	good := func(n int) string { return strings.Repeat("0a", n) }
	f.Add("p", good(16), good(20), good(32), good(64), good(4), good(32), "")
	f.Add("p", "", "", good(32), "", "", "", "")
	f.Add("", "", "", good(32), "", "", "", "")
	f.Add("p", "", "", "", "", "", "", "")
	f.Add("p", strings.ToUpper(good(16)), "", good(32), "", "", "", "")
	f.Add("p", good(16)+"0", "", good(32), "", "", "", "")
	f.Add("p", "", "", good(31)+"0g", "", "", "", "")
	f.Add("p", "", "", good(32), "", "0000000/", "", "")
	f.Add("p", "", "", good(32), "", "", good(32)[1:]+":", "")
	f.Add("p", "", "", good(32), "", "", "", "2024-01-01T00:00:00Z")
	f.Add("p", "", "", good(32), "", "", "", "yesterday")
	f.Fuzz(func(t *testing.T, path, md5, sha1, sha256, sha512, crc32, blake3, mtime string) {
		rec := &records.File{Path: path, MD5: md5, SHA1: sha1, SHA256: sha256, SHA512: sha512, CRC32: crc32, BLAKE3: blake3, Mtime: mtime}
		row, err := fileRow(rec, &byteSlab{})
		want := rec.Validate()
		if want == nil && sha256 == "" {
			want = errNoSHA256
		}
		if (err == nil) != (want == nil) || err != nil && err.Error() != want.Error() {
			t.Fatalf("%+v: fileRow error %v, Validate %v", rec, err, want)
		}
		if err != nil {
			return
		}
		for _, d := range []struct {
			hex string
			got []byte
		}{{md5, row.MD5}, {sha1, row.SHA1}, {sha256, row.SHA256}, {sha512, row.SHA512}, {crc32, row.CRC32}, {blake3, row.BLAKE3}} {
			want, _ := hex.DecodeString(d.hex)
			if d.hex == "" {
				want = nil
			}
			if !bytes.Equal(d.got, want) || (d.got == nil) != (want == nil) {
				t.Errorf("%q decoded as %x", d.hex, d.got)
			}
		}
	})
}
