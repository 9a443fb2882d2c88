package dedup

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzParseLine checks the one-pass parse of a line and the record written
// back against a full decoding: a file record is recognised exactly when
// encoding/json sees one, its sha256 is read right, and the line written
// back is the same object with "seen" set.
func FuzzParseLine(f *testing.F) {
	d := digestHex(1)
	for _, seed := range []string{
		`{"type":"file","path":"a","sha256":"` + d + `"}`,
		`{"type":"file","sha256":"` + d + `","seen":false,"x":{"sha256":"n"}}`,
		`{"type":"fil\u0065","sha256":"` + d + `","seen":null}`,
		`{"type":"file","sha256":"ABC"}`,
		`{"type":"end","source":"s","files":1}`,
		`{"sha256":"` + d + `","type":"file","type":"x"}`,
		`{"type":"file"`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		text := bytes.TrimSpace(data)
		if len(text) == 0 {
			return
		}
		text = text[:len(text):len(text)]
		l := parseLine(text, "fuzz", 1)
		var fields map[string]json.RawMessage
		valid := json.Unmarshal(text, &fields) == nil && fields != nil
		var typ, sha string
		typeIsString := valid && json.Unmarshal(fields["type"], &typ) == nil && bytes.HasPrefix(fields["type"], []byte(`"`))
		shaOK := valid && json.Unmarshal(fields["sha256"], &sha) == nil && len(sha) == 64 && isLowerHex(sha)
		var want lineKind
		switch {
		case !valid || !typeIsString || typ == "":
			want = kindBad
		case typ == "file" && shaOK:
			want = kindFile
		case typ == "file":
			want = kindFileBad
		case typ == "end":
			want = kindEnd
		default:
			want = kindOther
		}
		if l.kind != want {
			t.Fatalf("%q: kind %d, want %d (encoding/json: valid=%v type=%q sha256=%q)", text, l.kind, want, valid, typ, sha)
		}
		if l.kind != kindFile {
			return
		}
		if hex.EncodeToString(l.key[:]) != sha {
			t.Fatalf("%q: sha256 read as %x, encoding/json says %s", text, l.key, sha)
		}
		out := appendWithSeen(nil, &l, true)
		var after map[string]json.RawMessage
		if err := json.Unmarshal(out, &after); err != nil {
			t.Fatalf("%q written back as invalid JSON %q: %v", text, out, err)
		}
		fields["seen"] = json.RawMessage("true")
		if !reflect.DeepEqual(after, fields) {
			t.Fatalf("%q written back as %q", text, out)
		}
	})
}

func isLowerHex(s string) bool {
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
