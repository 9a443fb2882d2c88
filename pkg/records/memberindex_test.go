package records

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// visited is every (name, value) Members or Raw.Members gives, in order.
func visited(t *testing.T, walk func(func(name, value []byte) bool) error) []string {
	t.Helper()
	var got []string
	if err := walk(func(name, value []byte) bool {
		got = append(got, string(name)+"="+string(value))
		return true
	}); err != nil {
		t.Fatalf("walking the members: %v", err)
	}
	return got
}

// manyMembers is a record with n members besides its type.
func manyMembers(n int) string {
	var b strings.Builder
	b.WriteString(`{"type":"file"`)
	for i := range n {
		fmt.Fprintf(&b, `,"f%d":%d`, i, i)
	}
	return b.String() + "}"
}

// TestRawMembers checks the members a Reader's Raw gives without a second
// scan against a scan of its line, for lines it indexes and lines it
// cannot (escaped names, more members than it holds), and that it says
// when it used the index.
func TestRawMembers(t *testing.T) {
	for _, tc := range []struct {
		line    string
		indexed bool
	}{
		{`{"type":"file","path":"a/b","size":12,"seen":true}`, true},
		{` { "type" : "file" , "x" : [1, {"y": "z", "w":[]}], "e":{} ,"s":"q\"\\u00e9"} `, true},
		{`{"type":"file","path":"a","path":"b"}`, true},
		{`{"type":"file","pa\u0074h":"a","size":1}`, false},
		{`{"type":"file","né":"x"}`, true},
		{manyMembers(maxIndexedMembers - 1), true},
		{manyMembers(maxIndexedMembers), false},
		{`{"type":"file","path":"` + strings.Repeat("a", 1<<16) + `"}`, false},
		{`{"type":"file","path":"` + strings.Repeat("a", 1<<16-30) + `"}`, true},
	} {
		r := NewReader(strings.NewReader(tc.line+"\n"), "test")
		raw, err := r.Next()
		if err != nil {
			t.Fatalf("%s: %v", tc.line, err)
		}
		if got := raw.index.of(raw.Line); got != tc.indexed {
			t.Errorf("%s: indexed %v, want %v", tc.line, got, tc.indexed)
		}
		want := visited(t, func(v func(name, value []byte) bool) error { return Members(raw.Line, v) })
		got := visited(t, raw.Members)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: Raw.Members gave\n%q\nwant\n%q", tc.line, got, want)
		}
	}
}

// TestRawMembersStops checks that visit returning false ends the walk.
func TestRawMembersStops(t *testing.T) {
	raw, err := NewReader(strings.NewReader(`{"type":"file","a":1,"b":2}`), "test").Next()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	if err := raw.Members(func(name, _ []byte) bool {
		names = append(names, string(name))
		return string(name) != "a"
	}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(names, ","); got != "type,a" {
		t.Errorf("visited %s, want type,a", got)
	}
}

// TestRawMembersOfAnotherLine checks that a Raw whose Line was replaced,
// or that no Reader made, is scanned, not walked by an index of another
// line.
func TestRawMembersOfAnotherLine(t *testing.T) {
	raw, err := NewReader(strings.NewReader(`{"type":"file","path":"a"}`), "test").Next()
	if err != nil {
		t.Fatal(err)
	}
	whole := raw.Line
	// The same bytes, shorter: no longer an object, which only a scan sees.
	raw.Line = whole[:len(whole)-1]
	if err := raw.Members(func(_, _ []byte) bool { return true }); err == nil {
		t.Errorf("Raw.Members of %s (its Line cut short) gave no error", raw.Line)
	}
	other := []byte(`{"type":"file","path":"bb","size":3}`)
	raw.Line = other
	got := visited(t, raw.Members)
	want := visited(t, func(v func(name, value []byte) bool) error { return Members(other, v) })
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Raw.Members of another line gave %q, want %q", got, want)
	}
	made := &Raw{Type: TypeFile, Line: bytes.Clone(other)}
	if got := visited(t, made.Members); len(got) != 3 {
		t.Errorf("a Raw made by hand gave %q, want its 3 members", got)
	}
}
