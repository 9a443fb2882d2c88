package unpack

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/magic"
	"github.com/hashr-dev/hashr/pkg/records"
)

func newTestProgram() *cli.Program {
	return cli.New("hashr-extract", strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{})
}

// discard is a Sink that keeps nothing.
type discard struct{}

func (discard) Add(records.Record) error { return nil }

func TestCleanName(t *testing.T) {
	for in, want := range map[string]string{
		"./usr/bin/x": "usr/bin/x", "a//b/./c": "a/b/c", "a/../b": "b", "./": "", "/": "", "dir/": "dir",
		"../x": "!climb", "a/../../x": "!climb", "..": "!climb", "/etc/passwd": "!abs", "": "!empty",
	} {
		got, err := cleanName(in)
		switch {
		case strings.HasPrefix(want, "!"):
			if err == nil {
				t.Errorf("cleanName(%q) = %q, want an error", in, got)
			}
		case err != nil || got != want:
			t.Errorf("cleanName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestUnwrappedName(t *testing.T) {
	for in, want := range map[string]string{"x.gz": "x", "a/b.tar.xz": "b.tar", "c.tgz": "c.tar", "plain": "plain", ".gz": ".gz"} {
		if got := unwrappedName(in); got != want {
			t.Errorf("unwrappedName(%q) = %q", in, got)
		}
	}
}

func TestDepthPolicyParses(t *testing.T) {
	for in, want := range map[string]Depth{
		"auto": AutoDepth, " auto": AutoDepth, "0": {levels: 0}, "2": {levels: 2}, "64": {levels: 64},
	} {
		var d Depth
		if err := d.Set(in); err != nil || d != want {
			t.Errorf("Set(%q): %+v, %v; want %+v", in, d, err, want)
		}
	}
	for _, in := range []string{"", "deep", "-1", "65", "1.5", "AUTO2"} {
		var d Depth
		if err := d.Set(in); err == nil {
			t.Errorf("Set(%q): %+v, want an error", in, d)
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

// A nested archive with the sha256 of one it is inside is not walked
// again: what a zip quine would do forever.
func TestSelfContainingArchive(t *testing.T) {
	opts := Options{Settings: Settings{MaxDepth: Depth{levels: 5}, Limits: DefaultLimits}, Log: newTestProgram()}
	s := newUnpacker(context.Background(), &records.Source{ID: "t"}, opts, discard{})
	s.ancestors = []string{"aaaa", "bbbb"}
	tmp := filepath.Join(t.TempDir(), "copy")
	if err := os.WriteFile(tmp, []byte("PK\x05\x06"+strings.Repeat("\x00", 18)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.nested(&keptCopy{path: "a.zip!/b.zip", file: tmp, size: 22, sha256: "aaaa"}, 2); err != nil {
		t.Fatal(err)
	}
	if s.counts.Errors != 1 {
		t.Fatalf("%d errors", s.counts.Errors)
	}
}
