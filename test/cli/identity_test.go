package cli_test

import (
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hashr-dev/hashr/internal/extract"
	"github.com/hashr-dev/hashr/internal/scan"
	"github.com/hashr-dev/hashr/internal/verify/verifytest"
)

// TestHostileControlFilesStillExtract: .debs whose control file dpkg-deb
// --nocheck let through (no Package field, bad UTF-8, a 700 KB
// Description line) are scanned without a failure, their package absent
// or cut to 256 bytes of valid UTF-8, and hashr-extract walks each one's
// files with no error, handing the package on unchanged.
func TestHostileControlFilesStillExtract(t *testing.T) {
	verifytest.Need(t, "dpkg-deb")
	repo := t.TempDir()
	for name, control := range map[string]string{
		"noname":  "Version: 1\nArchitecture: all\n",
		"badutf8": "Package: badutf8\nVersion: 1\nMaintainer: M\xfcller \xff\n",
		"huge":    "Package: huge\nVersion: 1\nDescription: " + strings.Repeat("x", 700_000) + "\n",
	} {
		pkg := filepath.Join(t.TempDir(), name)
		verifytest.WriteFile(t, filepath.Join(pkg, "DEBIAN", "control"), control)
		verifytest.WriteFile(t, filepath.Join(pkg, "usr", "share", name, "README"), name+"\n")
		verifytest.Run(t, "", nil, "dpkg-deb", "--nocheck", "--root-owner-group", "--build", pkg, filepath.Join(repo, name+".deb"))
	}
	code, recs, stdout, stderr := runStage(t, scan.Main, "", "--plan=false", repo)
	if code != 0 || len(recs["source"]) != 3 {
		t.Fatalf("scan: exit %d, %d sources\n%s", code, len(recs["source"]), stderr)
	}
	want := map[string]map[string]any{
		"noname.deb":  nil,
		"badutf8.deb": {"name": "badutf8", "version": "1", "vendor": "M\uFFFDller \uFFFD"},
		"huge.deb":    {"name": "huge", "version": "1", "title": strings.Repeat("x", 256)},
	}
	for _, src := range recs["source"] {
		got, _ := src["package"].(map[string]any)
		if !equalFields(got, want[src["id"].(string)]) {
			t.Errorf("%s: package %v, want %v", src["id"], got, want[src["id"].(string)])
		}
	}
	code, recs, _, stderr = runStage(t, extract.Main, stdout, "--quiet", "--spool", t.TempDir())
	if code != 0 || len(recs["file"]) != 3 || len(recs["error"]) != 0 {
		t.Fatalf("extract: exit %d, %d files, errors %v\n%s", code, len(recs["file"]), recs["error"], stderr)
	}
	for _, src := range recs["source"] {
		got, _ := src["package"].(map[string]any)
		if !equalFields(got, want[src["id"].(string)]) {
			t.Errorf("after extract, %s: package %v", src["id"], got)
		}
	}
}

func equalFields(got, want map[string]any) bool {
	if len(got) != len(want) {
		return false
	}
	for k, v := range want {
		if s, _ := got[k].(string); s != v || !utf8.ValidString(s) {
			return false
		}
	}
	return true
}
