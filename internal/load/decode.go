package load

import (
	"bytes"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/hashr-dev/hashr/pkg/records"
)

// fileDecoder reads the fields of a file record that hashr-load stores in
// one walk of its members (Raw.Members), into one File it reuses: the
// File, its size and seen, and a string per field were most of
// hashr-load's allocations per record. A line with anything this reader
// does not take as it is (a null, a number that is not an integer, a
// string with escapes it cannot take from the line) is decoded by
// Raw.Decode, whose errors name the field.
type fileDecoder struct {
	f    records.File
	size int64
}

// seen's two values, which every record's Seen points to.
var seenTrue, seenFalse = true, false

// decode returns the file record of raw: the decoder's own File, valid
// until the next call, or, the slow way, one of its own. Its strings are
// substrings of raw.Line, which must not be written afterwards (fileRow
// copies those a row keeps, so the line is not kept with the row).
func (d *fileDecoder) decode(raw *records.Raw) (*records.File, error) {
	d.f = records.File{}
	f := &d.f
	// The line as a string without a copy (a copy was hashr-load's
	// largest allocation per record, a quarter of its bytes): the
	// records.Reader gives each Raw a Line of its own, which nothing
	// writes once it is read, so the strings cut from it stay as they
	// were read.
	line := unsafe.String(unsafe.SliceData(raw.Line), len(raw.Line))
	plain := true
	// raw.Members, not records.Members: the Reader found the members
	// when it read the line's type, and a second scan of the line was a
	// tenth of hashr-load's instructions per record.
	err := raw.Members(func(name, value []byte) bool {
		// A switch, not a map of the fields: a map made per record was a
		// tenth of hashr-load's processor time per record.
		if dst := fileTextField(f, name); dst != nil {
			*dst, plain = stringIn(line, raw.Line, value)
			return plain
		}
		switch string(name) {
		case "size":
			n, err := strconv.ParseInt(string(value), 10, 64)
			d.size, f.Size, plain = n, &d.size, err == nil
		case "seen":
			switch string(value) {
			case "true":
				f.Seen = &seenTrue
			case "false":
				f.Seen = &seenFalse
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
	return f, nil
}

// stringIn is the JSON string value (a slice of lineBytes, which line
// holds as a string) as a substring of line, with no copy; or, when it has
// escapes or is not UTF-8, decoded on its own. ok is false for a value
// that is not a string.
func stringIn(line string, lineBytes, value []byte) (s string, ok bool) {
	if len(value) < 2 || value[0] != '"' {
		return "", false
	}
	inner := value[1 : len(value)-1]
	// Members' values are slices of its line: the offset is where the
	// line's capacity and the value's part.
	start := cap(lineBytes) - cap(inner)
	if !meansItsBytes(inner) || start < 0 || start+len(inner) > len(line) || line[start:start+len(inner)] != string(inner) {
		s, err := records.StringValue(value)
		return s, err == nil
	}
	return line[start : start+len(inner)], true
}

// meansItsBytes says whether b, inside a JSON string, means exactly its
// bytes: UTF-8 with no backslash (encoding/json replaces only bytes that
// are not UTF-8). Both checks run over words, not a byte at a time as the
// check for plain ASCII did: it was a twentieth of hashr-load's
// instructions per record.
func meansItsBytes(b []byte) bool {
	return bytes.IndexByte(b, '\\') < 0 && utf8.Valid(b)
}

// fileTextField is the string field of f that the member name sets, or
// nil for a member that is not one.
func fileTextField(f *records.File, name []byte) *string {
	switch string(name) {
	case "source":
		return &f.Source
	case "path":
		return &f.Path
	case "mtime":
		return &f.Mtime
	case "local":
		return &f.Local
	case "mime":
		return &f.MIME
	case "md5":
		return &f.MD5
	case "sha1":
		return &f.SHA1
	case "sha256":
		return &f.SHA256
	case "sha512":
		return &f.SHA512
	case "crc32":
		return &f.CRC32
	case "blake3":
		return &f.BLAKE3
	case "ssdeep":
		return &f.SSDEEP
	case "tlsh":
		return &f.TLSH
	}
	return nil
}
