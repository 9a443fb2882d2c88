package records

import (
	"strings"
	"testing"
)

// A plan record decodes, validates and encodes again as the same line,
// with the fields in contract order and extra fields kept.
func TestPlanRoundTrip(t *testing.T) {
	line := `{"type":"plan","sources":49,"bytes":2147483648,"x_note":"from cron"}`
	rec, err := Unmarshal([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	plan, ok := rec.(*Plan)
	if !ok {
		t.Fatalf("decoded a %T, want *Plan", rec)
	}
	if plan.Sources != 49 || plan.Bytes != 2147483648 {
		t.Fatalf("got %+v", plan)
	}
	if err := plan.Validate(); err != nil {
		t.Fatal(err)
	}
	out, err := Marshal(plan)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != line {
		t.Fatalf("got %s, want %s", out, line)
	}
	// Zero totals mean something (a scan that found nothing): written.
	if out, _ := Marshal(&Plan{}); string(out) != `{"type":"plan","sources":0,"bytes":0}` {
		t.Fatalf("empty plan: %s", out)
	}
}

func TestPlanValidate(t *testing.T) {
	for line, want := range map[string]string{
		`{"type":"plan","sources":-1,"bytes":0}`: "want counts",
		`{"type":"plan","sources":1,"bytes":-5}`: "want counts",
	} {
		rec, err := Unmarshal([]byte(line))
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if err := rec.(*Plan).Validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: Validate() = %v, want %q", line, err, want)
		}
	}
	if _, err := Unmarshal([]byte(`{"type":"plan","sources":"49"}`)); err == nil || !strings.Contains(err.Error(), `field "sources": want an integer`) {
		t.Errorf("a string count: %v", err)
	}
}
