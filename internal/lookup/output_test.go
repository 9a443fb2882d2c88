package lookup

import (
	"encoding/json"
	"testing"
)

// TestMarshalStringsAsEncodingJSON checks marshalStrings against
// json.Marshal, byte for byte, for plain strings and for those it leaves
// to encoding/json.
func TestMarshalStringsAsEncodingJSON(t *testing.T) {
	for _, list := range [][]string{
		nil, {}, {""}, {"usr/share/man/man1/ls.1.gz", "pkg_1.0_amd64.deb"},
		{`a"b`, `back\slash`, "tab\t", "ctl\x01", "del\x7f", "<script>&amp;</script>", "a&b", "a>b"},
		{"päth", "bad \xff utf-8", "line\u2028sep", "emoji 😀"},
	} {
		want, err := json.Marshal(list)
		if list == nil {
			want, err = json.Marshal([]string{})
		}
		if err != nil {
			t.Fatal(err)
		}
		if got := marshalStrings(list); string(got) != string(want) {
			t.Errorf("marshalStrings(%q) = %s, json.Marshal writes %s", list, got, want)
		}
	}
}
