package extract

import (
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/magic"
	"github.com/hashr-dev/hashr/pkg/records"
)

func TestDepthPolicyParses(t *testing.T) {
	for in, want := range map[string]depthPolicy{
		"auto": autoDepth, " auto": autoDepth, "0": {levels: 0}, "2": {levels: 2}, "64": {levels: 64},
	} {
		var d depthPolicy
		if err := d.Set(in); err != nil || d != want {
			t.Errorf("Set(%q): %+v, %v; want %+v", in, d, err, want)
		}
	}
	for _, in := range []string{"", "deep", "-1", "65", "1.5", "AUTO2"} {
		var d depthPolicy
		if err := d.Set(in); err == nil {
			t.Errorf("Set(%q): %+v, want an error", in, d)
		}
	}
}

// A sandbox child is given the same policy as its parent: the job
// carries it in the words of the flag.
func TestChildJobCarriesDepthPolicy(t *testing.T) {
	for _, d := range []depthPolicy{autoDepth, {levels: 0}, {levels: 3}} {
		x := &extractor{p: cli.New("hashr-extract", nil, io.Discard, io.Discard), opts: options{maxDepth: d, limits: defaultLimits}}
		b, err := json.Marshal(x.childJob(t.TempDir()))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), `"max_depth":"`+d.String()+`"`) {
			t.Errorf("job %s: no max_depth %s", b, d)
		}
		var job childJob
		if err := json.Unmarshal(b, &job); err != nil || job.MaxDepth != d {
			t.Errorf("job read back: %+v, %v; want %+v", job.MaxDepth, err, d)
		}
	}
}

// What --max-depth auto walks inside each kind of container.
func TestAutoDescendsByKind(t *testing.T) {
	cab, msi, wimFile := magic.Result{Format: magic.Cab}, magic.Result{Format: magic.MSI}, magic.Result{Format: magic.WIM}
	zip, gz := magic.Result{Format: magic.Zip}, magic.Result{Compression: "gzip"}
	for _, c := range []struct {
		update       bool
		format, name string
		kind         magic.Result
		want         bool
	}{
		{true, magic.Cab, "inner.cab", cab, true},
		{true, magic.Cab, "x.msp", msi, true},
		{true, magic.Cab, "big.msp", magic.Result{Format: magic.OLE}, true},
		{true, magic.MSI, "PATCH_CAB", cab, true},
		{true, magic.Cab, "update.wim", wimFile, true},
		{true, magic.Cab, "tools.zip", zip, false},
		{true, magic.Cab, "x.gz", gz, false},
		{false, magic.UDF, "sources/install.wim", wimFile, true},
		{false, magic.ISO9660, "SOURCES/INSTALL.ESD", wimFile, true},
		{false, magic.UDF, "sources/boot.wim", wimFile, false},
		{false, magic.UDF, "sources/install.wim", cab, false},
		{false, magic.Deb, "usr/share/java/x.jar", zip, false},
		{false, magic.Zip, "inner.cab", cab, false},
		{false, magic.WIM, "1/Windows/x.cab", cab, false},
		{false, magic.Tar, "inner.tar.gz", gz, false},
	} {
		if got := autoDescends(c.update, c.format, c.name, c.kind); got != c.want {
			t.Errorf("in a %s (update %v), %s of kind %+v: %v, want %v", c.format, c.update, c.name, c.kind, got, c.want)
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
