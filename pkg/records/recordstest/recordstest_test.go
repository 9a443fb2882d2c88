package recordstest

import (
	"testing"

	"github.com/hashr-dev/hashr/pkg/records"
)

func TestLinesDecodeRoundTrip(t *testing.T) {
	in := []records.Record{
		&records.Source{ID: "a", URI: "/r/a.deb"},
		&records.File{Source: "s", Path: "p", Size: records.Int64(3)},
		&records.Source{ID: "b", URI: "/r/b.deb"},
	}
	got := Decode(t, "\n"+Lines(t, in...)+"\n")
	if len(got) != 3 {
		t.Fatalf("decoded %d records, want 3", len(got))
	}
	if srcs := Of[*records.Source](got); len(srcs) != 2 || srcs[0].ID != "a" || srcs[1].ID != "b" {
		t.Errorf("Of sources = %+v", srcs)
	}
	if files := Only[*records.File](t, got[1:2]); files[0].Path != "p" || *files[0].Size != 3 {
		t.Errorf("Only files = %+v", files[0])
	}
	if raw := Raw(t, Lines(t, in[1])); raw.Type != records.TypeFile || raw.Where != "stream:1" {
		t.Errorf("Raw = %+v", raw)
	}
}
