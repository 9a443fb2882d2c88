package fetch

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/pkg/records"
)

func TestWorkName(t *testing.T) {
	for uri, wantBase := range map[string]string{
		"https://deb.debian.org/debian/pool/main/h/hello/hello_2.10-3_amd64.deb": "hello_2.10-3_amd64.deb",
		"http://h/../../etc/passwd":          "passwd",
		"http://h/%2e%2e":                    "download",
		"http://h/..%2f..%2fx":               "x",
		"http://h/a/%2E%2E/%2E%2E/":          "download",
		"http://h/.bashrc":                   "bashrc",
		"http://h/a%00b%0a%5c..%5cc":         "a_b__.._c",
		"http://h/":                          "download",
		"http://h":                           "download",
		"http://h/%E6%97%A5%E6%9C%AC.iso":    "__.iso",
		"http://h/x.iso?token=../../y#frag/": "x.iso",
		"/srv/mirror/a b.zip":                "a_b.zip",
	} {
		loc, err := records.Locate(uri)
		if err != nil {
			t.Fatalf("%s: %v", uri, err)
		}
		name := workName(uri, loc)
		prefix, base, _ := strings.Cut(name, "-")
		if len(prefix) != 16 || base != wantBase {
			t.Errorf("%s: name %q, want 16 hex digits, -, %q", uri, name, wantBase)
		}
		if filepath.Base(name) != name || filepath.Clean(name) != name {
			t.Errorf("%s: %q is not a single path element", uri, name)
		}
	}
	long := "http://h/" + strings.Repeat("a", 1000) + ".iso"
	loc, _ := records.Locate(long)
	if n := len(workName(long, loc)); n > 17+maxBaseName {
		t.Errorf("a long URL makes a %d-byte name", n)
	}
	a, _ := records.Locate("http://h/x/file")
	b, _ := records.Locate("http://h/y/file")
	if workName("http://h/x/file", a) == workName("http://h/y/file", b) {
		t.Error("two URLs with one base name share a work file")
	}
}

func TestParseContentRange(t *testing.T) {
	for h, want := range map[string]contentRange{
		"bytes 0-499/1234":  {first: 0, last: 499, size: 1234},
		"bytes 500-1233/*":  {first: 500, last: 1233, size: -1},
		"bytes */1234":      {size: 1234, unsatisfied: true},
		" bytes 7-7/8 ":     {first: 7, last: 7, size: 8},
		"bytes 9-1233/1234": {first: 9, last: 1233, size: 1234},
	} {
		got, err := parseContentRange(h)
		if err != nil || got != want {
			t.Errorf("%q: %+v, %v; want %+v", h, got, err, want)
		}
	}
	for _, h := range []string{"", "bytes", "bytes */*", "bytes 5-4/10", "bytes 0-10/10", "items 0-1/2", "bytes -1-2/3", "bytes 1-2", "bytes a-b/c"} {
		if got, err := parseContentRange(h); err == nil {
			t.Errorf("%q: parsed as %+v, want an error", h, got)
		}
	}
}
