package export

import (
	"slices"
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

// The catalogue makes packages' os their operating systems, made by the
// first vendor naming each; the repository only for a source whose
// package names none; RDS 2.x codes that two operating systems would
// share are told apart.
func TestCatalogueOperatingSystems(t *testing.T) {
	c := &catalogue{osOf: map[int64]int64{}, osCodes: map[string]int64{}, mfgCodes: map[string]int64{}, rds2Codes: map[string]bool{}}
	for _, s := range []db.SourceInfo{
		{Code: 1, Repo: "deb", Package: &records.Package{Name: "bash", OS: "Debian 12", Vendor: "Bash Maintainers"}},
		{Code: 2, Repo: "deb", Package: &records.Package{Name: "dash", OS: "Debian 12", Vendor: "Dash Maintainers"}},
		{Code: 3, Repo: "Debian 12", IDs: []string{"tree.tar"}},
		{Code: 4, IDs: []string{"x.zip"}},
		{Code: 5, Repo: "rpm", Package: &records.Package{Name: "curl", OS: "linux"}},
	} {
		c.add(&s)
	}
	want := []opSystem{
		{code: 1, mfgCode: 1, name: "Debian", version: "12", rds2Code: "Debian 12"},
		{code: 2, mfgCode: 3, name: "Debian 12", rds2Code: "Debian 12 #2"},
		{code: 3, mfgCode: 4, name: "unknown", rds2Code: ""},
		{code: 4, mfgCode: 4, name: "linux", rds2Code: "linux"},
	}
	if !slices.Equal(c.systems, want) {
		t.Errorf("systems %+v\nwant    %+v", c.systems, want)
	}
	if want := []string{"Bash Maintainers", "Dash Maintainers", "Debian 12", "unknown"}; !slices.Equal(c.makers, want) {
		t.Errorf("manufacturers %q, want %q", c.makers, want)
	}
	var mfgs []int64
	for _, p := range c.products {
		mfgs = append(mfgs, p.mfgCode)
	}
	if want := []int64{1, 2, 3, 4, 4}; !slices.Equal(mfgs, want) {
		t.Errorf("products' manufacturers %v, want %v (the vendor, else the OS's)", mfgs, want)
	}
	if got := c.rds2OSCode(3); got != "Debian 12 #2" {
		t.Errorf("the repository's OpSystemCode %q", got)
	}
}
