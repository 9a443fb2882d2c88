package export

import (
	"testing"
	"time"

	"github.com/hashr-dev/hashr/internal/db"
	"github.com/hashr-dev/hashr/pkg/records"
)

func TestPackageName(t *testing.T) {
	for _, tc := range [][3]string{
		{"bash_5.2.15-2+b7_amd64.deb", "bash", "5.2.15-2+b7"},
		{"file_1%3a5.44-3_amd64.deb", "file", "1%3a5.44-3"},
		{"openssl-libs-3.0.7-27.el9.x86_64.rpm", "openssl-libs", "3.0.7-27.el9"},
		{"install.wim", "install.wim", ""},
		{"", "", ""},
	} {
		if name, version := packageName(tc[0]); name != tc[1] || version != tc[2] {
			t.Errorf("packageName(%q) = %q, %q; want %q, %q", tc[0], name, version, tc[1], tc[2])
		}
	}
}

func TestParseTime(t *testing.T) {
	for in, want := range map[string]time.Time{
		"2026-11-24":                time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC),
		"2026-11-24T08:00:00+01:00": time.Date(2026, 11, 24, 7, 0, 0, 0, time.UTC),
	} {
		got, err := parseTime(in)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := parseTime("last week"); err == nil {
		t.Error("parseTime accepted \"last week\"")
	}
}

// A source's package names its PKG row; only a source without one has
// its ID read as a Debian or RPM file name.
func TestSourcePackagePrefersThePackage(t *testing.T) {
	pkg := &records.Package{Name: "bash", Version: "5.2.15-2+b2"}
	for _, tc := range []struct {
		src           db.SourceInfo
		name, version string
	}{
		{db.SourceInfo{IDs: []string{"renamed.deb"}, Package: pkg}, "bash", "5.2.15-2+b2"},
		{db.SourceInfo{IDs: []string{"dash_0.5.12-2_amd64.deb"}}, "dash", "0.5.12-2"},
		{db.SourceInfo{IDs: []string{"install.wim:1"}, Package: &records.Package{}}, "install.wim:1", ""},
	} {
		if name, version := sourcePackage(&tc.src, tc.src.IDs[0]); name != tc.name || version != tc.version {
			t.Errorf("sourcePackage(%v) = %q, %q; want %q, %q", tc.src.IDs, name, version, tc.name, tc.version)
		}
	}
}
