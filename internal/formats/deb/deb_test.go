package deb

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/archive"
	"github.com/hashr-dev/hashr/internal/formats/archive/archivetest"
)

// The packages hold files of the tree (scripts/fixtures-extract.sh), one
// package per data.tar compression.
func packageFiles(t *testing.T) map[string]string {
	tree := archivetest.Tree(t)
	return map[string]string{
		"usr/share/hello/hello.txt":    tree["hello.txt"],
		"usr/share/hello/hardlink.txt": tree["hello.txt"],
		"usr/share/hello/numbers.txt":  tree["doc/deep/deeper/numbers.txt"],
		"usr/bin/tool":                 tree["bin/tool"],
	}
}

func TestEveryDataCompression(t *testing.T) {
	want := packageFiles(t)
	for _, z := range []string{"xz", "gzip", "zstd", "none", "bzip2", "lzma"} {
		t.Run(z, func(t *testing.T) {
			f, _ := archivetest.Open(t, "hello-"+z+".deb")
			got := archivetest.Walk(t, NewWalker(f, Options{}))
			archivetest.Equal(t, z, got.Resolved(), want)
			if got.Symlinks["usr/share/hello/symlink.txt"] != "hello.txt" {
				t.Errorf("symlink %v", got.Symlinks)
			}
		})
	}
}

// With Control, the control members come too, and md5sums (written by
// md5sum) matches the files.
func TestControlMembers(t *testing.T) {
	f, _ := archivetest.Open(t, "hello-xz.deb")
	w := NewWalker(f, Options{Control: true})
	md5s := map[string]string{}
	links := map[string]string{}
	var sums string
	for {
		e, err := w.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if e.Type == archive.Hardlink {
			links[archivetest.Clean(e.Name)] = archivetest.Clean(e.Linkname)
		}
		if e.Type != archive.Regular {
			continue
		}
		r, err := w.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		name := archivetest.Clean(e.Name)
		if name == "control!/md5sums" {
			sums = string(data)
		}
		h := md5.Sum(data)
		md5s[name] = hex.EncodeToString(h[:])
	}
	if _, ok := md5s["control!/control"]; !ok {
		t.Errorf("no control!/control in %v", md5s)
	}
	for name, target := range links {
		md5s[name] = md5s[target]
	}
	lines := strings.Split(strings.TrimSpace(sums), "\n")
	if len(lines) != 4 {
		t.Fatalf("md5sums: %q", sums)
	}
	for _, line := range lines {
		sum, name, _ := strings.Cut(line, "  ")
		if md5s[name] != sum {
			t.Errorf("%s: md5 %s, md5sums says %s", name, md5s[name], sum)
		}
	}
}

func TestTruncated(t *testing.T) {
	data, err := os.ReadFile(archivetest.Fixture(t, "hello-gzip.deb"))
	if err != nil {
		t.Fatal(err)
	}
	for _, cut := range []int{10, 100, 1000, len(data) / 2, len(data) - 10} {
		_, err := archivetest.WalkErr(NewWalker(bytes.NewReader(data[:cut]), Options{}))
		if err == nil {
			t.Errorf("cut at %d: no error", cut)
		}
	}
	_, err = archivetest.WalkErr(NewWalker(strings.NewReader("!<arch>\n"), Options{}))
	var corrupt *archive.CorruptError
	if !errors.As(err, &corrupt) || !strings.Contains(err.Error(), "no data.tar") {
		t.Errorf("empty ar: %v", err)
	}
}
