package extract

import (
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/sandbox"
	"github.com/hashr-dev/hashr/internal/unpack"
	"github.com/hashr-dev/hashr/pkg/records"
)

// A sandbox child is given the same policy as its parent: the job
// carries it in the words of the flag.
func TestChildJobCarriesDepthPolicy(t *testing.T) {
	for _, words := range []string{"auto", "0", "3"} {
		var d unpack.Depth
		if err := d.Set(words); err != nil {
			t.Fatal(err)
		}
		x := &extractor{p: cli.New("hashr-extract", nil, io.Discard, io.Discard), opts: options{walk: unpack.Settings{MaxDepth: d, Limits: unpack.DefaultLimits}}}
		b, err := json.Marshal(x.childJob(t.TempDir()))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), `"max_depth":"`+d.String()+`"`) {
			t.Errorf("job %s: no max_depth %s", b, d)
		}
		var job sandbox.Job
		if err := json.Unmarshal(b, &job); err != nil || job.MaxDepth != d {
			t.Errorf("job read back: %+v, %v; want %+v", job.MaxDepth, err, d)
		}
	}
}

// nested.tar.gz (an archive of archives) gives its members alone by
// default, as with --max-depth 0, and HASHR_MAX_DEPTH sets the default.
func TestAutoDepthArchiveIsMembersOnly(t *testing.T) {
	paths := func(o *runOutput) string {
		var got []string
		for _, r := range o.records {
			if f, ok := r.(*records.File); ok {
				got = append(got, f.Path)
			}
		}
		return strings.Join(got, " ")
	}
	src := sourceLine(fixture(t, "nested.tar.gz"))
	if got := paths(extract(t, src, "--hash", "sha256")); got != "inner.tar.gz inner.zip top.txt" {
		t.Errorf("default: %s", got)
	}
	t.Setenv("HASHR_MAX_DEPTH", "1")
	if got := paths(extract(t, src, "--hash", "sha256")); !strings.Contains(got, "inner.zip!/lib.jar") || strings.Contains(got, "lib.jar!/") {
		t.Errorf("HASHR_MAX_DEPTH=1: %s", got)
	}
}
