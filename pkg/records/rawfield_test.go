package records

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

func TestStringField(t *testing.T) {
	sha := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		line, name, want string
		ok, fails        bool
	}{
		{`{"type":"file","sha256":"` + sha + `"}`, "sha256", sha, true, false},
		{`{"type":"file"}`, "sha256", "", false, false},
		// Names inside nested objects and inside strings are not members.
		{`{"x":{"sha256":"nested"},"y":["sha256","a"],"z":"\"sha256\":\"str\""}`, "sha256", "", false, false},
		{`{"x":{"sha256":"nested"},"sha256":"top"}`, "sha256", "top", true, false},
		// The last of several wins, as when decoding.
		{`{"sha256":"one","sha256":"two"}`, "sha256", "two", true, false},
		// Escaped names and values are unescaped.
		{`{"sha\u0032\u0035\u0036":"a\u00e9\"b"}`, "sha256", "aé\"b", true, false},
		{` { "type" : "file" } `, "type", "file", true, false},
		{`{"sha256":7}`, "sha256", "", false, true},
		{`{"sha256":"x"`, "sha256", "", false, true},
		{`{"sha256":"x"} {}`, "sha256", "", false, true},
		{`["sha256"]`, "sha256", "", false, true},
		{`{"a":[1,2,{"b":[]}],"c":tru}`, "a", "", false, true},
		{`{"a":01}`, "a", "", false, true},
		{`{"a":"\x"}`, "a", "", false, true},
		{"{\"a\":\"tab\there\"}", "a", "", false, true},
	} {
		got, ok, err := StringField([]byte(tc.line), tc.name)
		if (err != nil) != tc.fails || ok != tc.ok || got != tc.want {
			t.Errorf("StringField(%s, %q) = %q, %v, %v; want %q, %v, fails=%v", tc.line, tc.name, got, ok, err, tc.want, tc.ok, tc.fails)
		}
	}
}

func TestAppendWithField(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{`{"type":"file","path":"a"}`, `{"type":"file","path":"a","seen":true}`},
		{`{}`, `{"seen":true}`},
		{`{ }`, `{ "seen":true}`},
		{`{"type":"file","seen":false,"path":"a"}`, `{"type":"file","seen":true,"path":"a"}`},
		{`{"seen" : null , "x":{"seen":1}}`, `{"seen" : true , "x":{"seen":1}}`},
		{`{"x":{"seen":1},"y":"\"seen\":false"}`, `{"x":{"seen":1},"y":"\"seen\":false","seen":true}`},
		{`{"seen":1,"seen":2}`, `{"seen":1,"seen":true}`},
	} {
		got, err := AppendWithField([]byte("prefix:"), []byte(tc.line), "seen", []byte("true"))
		if err != nil || string(got) != "prefix:"+tc.want {
			t.Errorf("AppendWithField(%s) = %s, %v; want prefix:%s", tc.line, got, err, tc.want)
		}
	}
	if _, err := AppendWithField(nil, []byte(`{"a":1}`), "seen", []byte("tru")); err == nil {
		t.Error("an invalid value was accepted")
	}
	if _, err := AppendWithField(nil, []byte(`{"a":1`), "seen", []byte("true")); err == nil {
		t.Error("an invalid line was accepted")
	}
	raw := &Raw{Line: []byte(`{"type":"file"}`)}
	got, err := raw.WithField("a\"<b>", json.RawMessage(`"x"`))
	if err != nil || string(got) != `{"type":"file","a\"<b>":"x"}` {
		t.Errorf("WithField with a name to escape: %s, %v", got, err)
	}
}

func TestMembersRejectsTooDeepNesting(t *testing.T) {
	deep := `{"a":` + strings.Repeat("[", maxNestingDepth) + strings.Repeat("]", maxNestingDepth) + `}`
	if json.Valid([]byte(deep)) {
		t.Fatal("encoding/json accepts the line: the test is wrong")
	}
	if err := Members([]byte(deep), func(_, _ []byte) bool { return true }); err == nil {
		t.Fatal("accepted nesting deeper than encoding/json does")
	}
	ok := `{"a":` + strings.Repeat("[", maxNestingDepth-1) + strings.Repeat("]", maxNestingDepth-1) + `}`
	if err := Members([]byte(ok), func(_, _ []byte) bool { return true }); err != nil || !json.Valid([]byte(ok)) {
		t.Fatalf("nesting at the limit: %v", err)
	}
}

// Random records, valid and damaged, checked against encoding/json.
func TestRawFieldAgainstDecoding(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 20000 {
		obj := map[string]any{}
		for range r.IntN(6) {
			obj[[]string{"sha256", "seen", "type", "s\u00e9en", randomName(r)}[r.IntN(5)]] = randomJSON(r, 3)
		}
		line := mustJSON(t, obj)
		if i%2 == 0 && len(line) > 0 {
			// Damage it: drop, duplicate or change one byte.
			j := r.IntN(len(line))
			switch r.IntN(3) {
			case 0:
				line = append(line[:j:j], line[j+1:]...)
			case 1:
				line = append(line[:j+1:j+1], line[j:]...)
			default:
				const damage = "{}[]\",:\\ 0e-tn"
				line[j] = damage[r.IntN(len(damage))]
			}
		}
		checkRawField(t, line)
	}
}

// FuzzRawField checks Members, Field, StringField and AppendWithField
// against a full decoding by encoding/json.
func FuzzRawField(f *testing.F) {
	for _, seed := range []string{
		`{"type":"file","sha256":"` + strings.Repeat("0", 64) + `","path":"a"}`,
		`{"x":{"sha256":"n"},"sha256":"t","sha256":"u"}`,
		`{"sha\u0032\u0035\u0036":"\u00e9", "seen" :false }`,
		`{"a":[1,-2.5e+3,true,null,{"b":[]}],"c":"\"seen\":1"}`,
		`{}`,
		` {"a":1} x`,
		`{"a":01}`,
		"{\"\xff\":\"\xfe\"}",
		`[{"seen":1}]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		checkRawField(t, line)
	})
}

func checkRawField(t *testing.T, line []byte) {
	t.Helper()
	var want map[string]json.RawMessage
	decodeErr := json.Unmarshal(line, &want)
	isObject := decodeErr == nil && want != nil // "null" decodes to a nil map
	var names []string
	got := map[string][]byte{}
	err := Members(line, func(name, value []byte) bool {
		names = append(names, string(name))
		got[string(name)] = bytes.Clone(value)
		return true
	})
	if (err == nil) != isObject {
		t.Fatalf("Members(%q): error %v, but encoding/json: %v", line, err, decodeErr)
	}
	if err != nil {
		if _, err := AppendWithField(nil, line, "seen", []byte("true")); err == nil {
			t.Fatalf("AppendWithField accepted %q", line)
		}
		return
	}
	if len(got) != len(want) {
		t.Fatalf("Members(%q) found members %q, encoding/json %d", line, names, len(want))
	}
	for name, value := range want {
		if !bytes.Equal(got[name], value) {
			t.Fatalf("Members(%q): %q = %s, encoding/json: %s", line, name, got[name], value)
		}
		v, ok, err := Field(line, name)
		if err != nil || !ok || !bytes.Equal(v, value) {
			t.Fatalf("Field(%q, %q) = %s, %v, %v", line, name, v, ok, err)
		}
		var wantStr string
		strErr := json.Unmarshal(value, &wantStr)
		if value[0] == 'n' {
			strErr = errors.New("null is not a string") // though encoding/json leaves a string alone for it
		}
		s, ok, err := StringField(line, name)
		if strErr == nil && (err != nil || !ok || s != wantStr) {
			t.Fatalf("StringField(%q, %q) = %q, %v, %v; want %q", line, name, s, ok, err, wantStr)
		}
		if strErr != nil && err == nil {
			t.Fatalf("StringField(%q, %q) = %q for a %s", line, name, s, value)
		}
	}
	checkAppendWithField(t, line, want)
}

// checkAppendWithField checks that AppendWithField adds or replaces a
// member of line, whose members are want, leaving the others as they are.
func checkAppendWithField(t *testing.T, line []byte, want map[string]json.RawMessage) {
	t.Helper()
	for _, name := range []string{"seen", "type", "sé\"en"} {
		out, err := AppendWithField(nil, line, name, []byte(`{"v":[1]}`))
		if err != nil {
			t.Fatalf("AppendWithField(%q, %q): %v", line, name, err)
		}
		var after map[string]json.RawMessage
		if err := json.Unmarshal(out, &after); err != nil {
			t.Fatalf("AppendWithField(%q, %q) wrote invalid JSON %q: %v", line, name, out, err)
		}
		expected := map[string]json.RawMessage{}
		for k, v := range want {
			expected[k] = v
		}
		expected[name] = json.RawMessage(`{"v":[1]}`)
		if !reflect.DeepEqual(after, expected) {
			t.Fatalf("AppendWithField(%q, %q) = %q: members %v, want %v", line, name, out, after, expected)
		}
	}
}

func BenchmarkStringField(b *testing.B) {
	line := []byte(`{"type":"file","source":"` + strings.Repeat("c", 64) + `","path":"usr/share/doc/libfoo/changelog.Debian.gz","size":12345,"sha256":"` + strings.Repeat("a", 64) + `"}`)
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		if _, ok, err := StringField(line, "sha256"); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

// The cost StringField saves: the Reader decodes every line into a map.
func BenchmarkReaderFullDecode(b *testing.B) {
	line := []byte(`{"type":"file","source":"` + strings.Repeat("c", 64) + `","path":"usr/share/doc/libfoo/changelog.Debian.gz","size":12345,"sha256":"` + strings.Repeat("a", 64) + `"}` + "\n")
	input := bytes.Repeat(line, 10000)
	b.SetBytes(int64(len(input)))
	for b.Loop() {
		r := NewReader(bytes.NewReader(input), "b")
		for range 10000 {
			if _, err := r.Next(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// hasStrSpecial finds a special byte (strSpecial) in any of a word's
// eight places, among any other bytes, and reports none where there is
// none.
func TestHasStrSpecialEveryByteEveryPlace(t *testing.T) {
	for _, fill := range []byte{'a', 0x20, 0x21, 0x7f, 0x80, 0xff, '[', ']', '#'} {
		for c := range 256 {
			for at := range 8 {
				w := bytes.Repeat([]byte{fill}, 8)
				w[at] = byte(c)
				want := strSpecial[c] || strSpecial[fill]
				if got := hasStrSpecial(binary.LittleEndian.Uint64(w)); got != want {
					t.Fatalf("%q: hasStrSpecial %v, want %v", w, got, want)
				}
			}
		}
	}
}

// hasStrSpecial agrees with strSpecial, byte by byte, on random words
// whose bytes are drawn from near the special ones.
func TestHasStrSpecialRandomWords(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	near := []byte{0x00, 0x1f, 0x20, 0x21, '"', '"' + 1, '"' - 1, '\\', '\\' + 1, '\\' - 1, 0x7f, 0x80, 0x9f, 0xa0, 0xdc, 0xff, 'a'}
	for range 200_000 {
		var w [8]byte
		want := false
		for i := range w {
			w[i] = near[r.IntN(len(near))]
			if r.IntN(4) == 0 {
				w[i] = byte(r.Uint32())
			}
			want = want || strSpecial[w[i]]
		}
		if got := hasStrSpecial(binary.LittleEndian.Uint64(w[:])); got != want {
			t.Fatalf("%q: hasStrSpecial %v, want %v", w, got, want)
		}
	}
}
