package lookup

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/pkg/records"
)

// TestMarshalStringsAsEncodingJSON checks appendStrings against
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
		if got := appendStrings(nil, list); string(got) != string(want) {
			t.Errorf("appendStrings(%q) = %s, json.Marshal writes %s", list, got, want)
		}
	}
}

// A file record with its answer is written without records.Writer's map of
// extra fields (appendFields): byte for byte what writing it with the
// answer in f.Extra writes, for every field an answer may hold, in order.
func TestAppendFieldsAsRecordsMarshal(t *testing.T) {
	size := int64(4096)
	f := &records.File{Path: "usr/share/<man>/a&b \"q\".1.gz", Size: &size, MD5: strings.Repeat("ab", 16),
		SHA256: strings.Repeat("cd", 32), MIME: "text/troff"}
	full := answer{
		sources: []string{strings.Repeat("11", 32), strings.Repeat("22", 32)}, ids: []string{"x_1.0_amd64.deb", "<y>.rpm"},
		paths: []string{"usr/share/man/a.1.gz", "päth\x01"}, failedSources: []string{strings.Repeat("22", 32)},
		sourcesTotal: 250,
		packages:     map[string]*records.Package{strings.Repeat("11", 32): {Name: "x", Version: "1.0", Arch: "amd64"}},
		verified:     map[string]*records.Verified{strings.Repeat("11", 32): {OK: true, By: "apt-release", Signer: "A&B <k>"}},
	}
	for _, tc := range []struct {
		a     answer
		known bool
	}{{answer{}, false}, {answer{sources: full.sources[:1], ids: full.ids[:1], paths: full.paths[:1]}, true}, {full, true}} {
		fields, _, err := tc.a.appendFields(nil, []byte("stale"), tc.known)
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendFields([]byte("stale")[:0], f, fields)
		if err != nil {
			t.Fatal(err)
		}
		withExtra := *f
		withExtra.Extra = records.Extra{}
		for _, field := range fields {
			withExtra.Extra[field.name] = field.value
		}
		want, err := records.Marshal(&withExtra)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("appendFields wrote\n%s\nrecords.Marshal writes\n%s", got, want)
		}
	}
}
