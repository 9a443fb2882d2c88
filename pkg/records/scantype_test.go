package records

import (
	"encoding/json"
	"testing"
)

// FuzzScanType checks the reader's fast path against the slow one: a line
// scanType accepts is one encoding/json decodes, with the same type.
// (scanType may refuse a line the slow way accepts; the reader then takes
// the slow way.)
func FuzzScanType(f *testing.F) {
	for _, seed := range []string{
		`{"type":"file","path":"a"}`,
		`{"type":"a","type":"b"}`,
		`{"type":"\u0066ile"}`,
		`{"typ\u0065":"x"}`,
		`{"type":""}`,
		`{"type":7}`,
		`{"type":"x","v":[1,{"type":"y"}]}`,
		"{\"type\":\"\xff\"}",
		` {"type" : "x" } `,
		`{"type":"x"}{}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		fast, ok := scanType(line, nil)
		if !ok {
			return
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(line, &fields); err != nil {
			t.Fatalf("scanType accepted %q (type %q), encoding/json does not: %v", line, fast, err)
		}
		slow, err := typeOf(fields)
		if err != nil || slow != fast {
			t.Fatalf("%q: scanType says type %q, the slow way %q, %v", line, fast, slow, err)
		}
	})
}
