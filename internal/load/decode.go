package load

import (
	"strconv"

	"github.com/hashr-dev/hashr/pkg/records"
)

// decodeFile reads the fields of a file record that hashr-load stores in
// one scan of its line (records.Members): decoding whole records was a
// third of hashr-load's own processor time. A line with anything this
// reader does not take as it is (a null, a number that is not an integer)
// is decoded by Raw.Decode, whose errors name the field.
func decodeFile(raw *records.Raw) (*records.File, error) {
	var f records.File
	textFields := map[string]*string{
		"source": &f.Source, "path": &f.Path, "mtime": &f.Mtime, "local": &f.Local, "mime": &f.MIME,
		"md5": &f.MD5, "sha1": &f.SHA1, "sha256": &f.SHA256, "sha512": &f.SHA512, "crc32": &f.CRC32,
		"blake3": &f.BLAKE3, "ssdeep": &f.SSDEEP, "tlsh": &f.TLSH,
	}
	plain := true
	err := records.Members(raw.Line, func(name, value []byte) bool {
		if dst, ok := textFields[string(name)]; ok {
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
