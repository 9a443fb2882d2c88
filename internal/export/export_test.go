package export

import (
	"testing"
	"time"
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
