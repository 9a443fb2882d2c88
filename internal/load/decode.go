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
	plain := true
	err := records.Members(raw.Line, func(name, value []byte) bool {
		// A switch, not a map of the fields: a map made per record was a
		// tenth of hashr-load's processor time per record.
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
