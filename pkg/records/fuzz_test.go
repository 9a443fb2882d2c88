package records

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// FuzzReader feeds arbitrary bytes to the reader: it must never panic or
// loop, every record it returns must decode or fail cleanly, and a decoded
// record must encode to JSON that reads back as the same type.
func FuzzReader(f *testing.F) {
	for _, seed := range []string{
		`{"type":"file","path":"a","size":1}` + "\n",
		`{"type":"source","uri":"/x","size":-1,"extra":{"a":[1,2,{"b":null}]}}`,
		`{"type":"end","source":"s","ms":{"extract":1}}` + "\n\n" + `{"type":"zzz"}`,
		`{"type":"error","stage":"hash","message":"m","Path":"x"}`,
		"not json\n{\"type\":\"file\"",
		`{"type":"file","path":"\ud800"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data), "fuzz")
		for range len(data) + 1 {
			raw, err := r.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			var le *LineError
			if errors.As(err, &le) {
				continue
			}
			if err != nil {
				t.Fatalf("reader failed: %v", err)
			}
			checkRawMembers(t, raw)
			rec, err := raw.Decode()
			if err != nil {
				continue
			}
			out, err := Marshal(rec)
			if err != nil {
				continue // e.g. an extra field holding invalid JSON cannot happen, but a bad number can
			}
			back, err := Unmarshal(out)
			if err != nil {
				t.Fatalf("re-encoded record does not read back: %s: %v", out, err)
			}
			if back.RecordType() != rec.RecordType() {
				t.Fatalf("type changed: %s", out)
			}
		}
		if _, err := r.Next(); !errors.Is(err, io.EOF) {
			t.Fatalf("reader did not reach the end of %d bytes", len(data))
		}
	})
}

// checkRawMembers checks that the members a Raw gives from its index are
// those a scan of its line gives.
func checkRawMembers(t *testing.T, raw *Raw) {
	t.Helper()
	var want, got []string
	werr := Members(raw.Line, func(name, value []byte) bool {
		want = append(want, string(name)+"\x00"+string(value))
		return true
	})
	gerr := raw.Members(func(name, value []byte) bool {
		got = append(got, string(name)+"\x00"+string(value))
		return true
	})
	if (werr == nil) != (gerr == nil) || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("%s: Raw.Members gave %q (%v), Members %q (%v)", raw.Line, got, gerr, want, werr)
	}
}
