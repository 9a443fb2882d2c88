package scan

import (
	"bytes"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/pkg/records"
)

// Records held back for the plan come out after it, in order; past the
// limit they are written as they come, without a plan, still in order.
func TestPlannedOutput(t *testing.T) {
	sources := func(o *plannedOutput, n int) {
		for i := range n {
			if err := o.Write(&records.Source{URI: "/r/" + strings.Repeat("x", i), Size: records.Int64(int64(i))}); err != nil {
				t.Fatal(err)
			}
			if i == 1 {
				o.Write(&records.Error{Stage: "scan", Source: "/r/bad", Message: "unreadable"})
			}
		}
		if err := o.Finish(); err != nil {
			t.Fatal(err)
		}
	}
	var want strings.Builder
	for i := range 4 {
		line, _ := records.Marshal(&records.Source{URI: "/r/" + strings.Repeat("x", i), Size: records.Int64(int64(i))})
		want.Write(append(line, '\n'))
		if i == 1 {
			want.WriteString(`{"type":"error","stage":"scan","source":"/r/bad","message":"unreadable"}` + "\n")
		}
	}
	for _, tc := range []struct {
		name  string
		plan  bool
		limit int
		first string
	}{
		{"held", true, maxHeld, `{"type":"plan","sources":4,"bytes":6}` + "\n"},
		{"past the limit", true, 150, ""},
		{"--plan=false", false, maxHeld, ""},
	} {
		var out bytes.Buffer
		o := newPlannedOutput(cli.New("hashr-scan", nil, &out, &bytes.Buffer{}), tc.plan)
		o.limit = tc.limit
		sources(o, 4)
		if got := out.String(); got != tc.first+want.String() {
			t.Errorf("%s: got\n%s\nwant\n%s%s", tc.name, got, tc.first, want.String())
		}
	}
}
