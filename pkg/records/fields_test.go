package records

import (
	"encoding/base64"
	"io/fs"
	"testing"
)

func TestPathFields(t *testing.T) {
	if p, raw := PathFields("usr/bin/bash"); p != "usr/bin/bash" || raw != "" {
		t.Fatalf("UTF-8 name: %q %q", p, raw)
	}
	name := "a/caf\xe9.txt" // Latin-1, not UTF-8
	p, raw := PathFields(name)
	if p != "a/caf\uFFFD.txt" {
		t.Fatalf("path %q", p)
	}
	if b, err := base64.StdEncoding.DecodeString(raw); err != nil || string(b) != name {
		t.Fatalf("path_raw %q does not give back the name: %q, %v", raw, b, err)
	}
}

func TestMode(t *testing.T) {
	for mode, want := range map[fs.FileMode]string{
		0:                     "0000",
		0o644:                 "0644",
		0o755 | fs.ModeSetuid: "4755",
		0o750 | fs.ModeSetgid: "2750",
		0o777 | fs.ModeSticky: "1777",
		0o777 | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky: "7777",
	} {
		if got := Mode(mode); got != want {
			t.Errorf("Mode(%v) = %s, want %s", mode, got, want)
		}
	}
}

func TestPathFieldsOfAdjacentInvalidBytes(t *testing.T) {
	p, raw := PathFields("a/\xff\xfe.bin")
	if p != "a/\uFFFD.bin" || raw != "YS///i5iaW4=" {
		t.Errorf("%q %q", p, raw)
	}
	if p, raw := PathFields("café"); p != "café" || raw != "" {
		t.Errorf("%q %q", p, raw)
	}
}
