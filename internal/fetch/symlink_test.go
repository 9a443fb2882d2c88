package fetch

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/hashr-dev/hashr/internal/formats/oci/ocitest"
	"github.com/hashr-dev/hashr/internal/objstore/objstoretest"
	"github.com/hashr-dev/hashr/pkg/records"
)

// victim is a file outside --work that a link planted in --work points
// at; unchanged says whether anything wrote, truncated, chmodded or
// renamed it.
type victim struct {
	path  string
	data  []byte
	mode  os.FileMode
	mtime time.Time
}

func newVictim(t *testing.T) *victim {
	t.Helper()
	v := &victim{path: filepath.Join(t.TempDir(), "precious"), data: []byte("not to be touched\n"),
		mode: 0o600, mtime: time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)}
	if err := os.WriteFile(v.path, v.data, v.mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(v.path, v.mtime, v.mtime); err != nil {
		t.Fatal(err)
	}
	return v
}

func (v *victim) unchanged(t *testing.T) {
	t.Helper()
	info, err := os.Lstat(v.path)
	if err != nil {
		t.Fatalf("the file outside --work: %v", err)
	}
	got, _ := os.ReadFile(v.path)
	if !bytes.Equal(got, v.data) || info.Mode() != v.mode || !info.ModTime().Equal(v.mtime) {
		t.Errorf("the file outside --work changed: %q, mode %v, mtime %v", got, info.Mode(), info.ModTime())
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// refusedLink checks that a run found a link planted in --work and made
// an error record naming it, instead of following it.
func refusedLink(t *testing.T, r result, link string) {
	t.Helper()
	e := one[*records.Error](t, r)
	if r.status != 3 || !strings.Contains(e.Message, link) || !strings.Contains(e.Message, "symbolic link") {
		t.Errorf("status %d, record %+v: want an error naming the symbolic link %s", r.status, e, link)
	}
	if info, err := os.Lstat(link); err != nil || info.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the planted link %s is gone or replaced: %v", link, err)
	}
}

// A link planted at any name hashr-fetch writes in --work (a download's
// NAME.part, its final NAME, a copy's final NAME) is an error record
// naming it; the file it points at, outside --work, is never written,
// truncated, chmodded, renamed nor read as the source.
func TestLinksInWorkAreNotFollowed(t *testing.T) {
	data := randomBytes(t, 100_000)
	s := newServer(t, serveBytes(data))
	local := filepath.Join(t.TempDir(), "disk.img")
	writeFile(t, local, data)
	for _, c := range []struct {
		name   string
		uri    string
		suffix string // after the work name
		args   []string
	}{
		{name: "download NAME.part", uri: s.URL + "/pool/a.deb", suffix: ".part"},
		{name: "download final NAME", uri: s.URL + "/pool/a.deb"},
		{name: "copy final NAME", uri: local, args: []string{"--copy", "always"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := newVictim(t)
			work := t.TempDir()
			link := workFile(t, work, c.uri) + c.suffix
			symlink(t, v.path, link)
			r := fetchMain(t, sourceLine(t, records.Source{ID: "x", URI: c.uri}), append([]string{"--work", work}, c.args...)...)
			refusedLink(t, r, link)
			v.unchanged(t)
		})
	}
}

// An image's layout directory is written and reused without following a
// link planted at NAME.part, at NAME, or at a blob's .part inside a
// NAME.part an interrupted run left.
func TestLinksInImageLayoutAreNotFollowed(t *testing.T) {
	reg := objstoretest.Registry(t)
	host := strings.TrimPrefix(reg.URL, "http://")
	img := ocitest.Image(t, "amd64")
	ref, err := name.ParseReference(host + "/test/img:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	layer := ocitest.LayerDigests(t, img)[0]
	uri := "oci://" + host + "/test/img:1"
	for _, c := range []struct {
		name  string
		plant func(t *testing.T, final, outside string) string // returns the link
	}{
		{"NAME.part", func(t *testing.T, final, outside string) string {
			symlink(t, outside, final+".part")
			return final + ".part"
		}},
		{"NAME", func(t *testing.T, final, outside string) string {
			writeFile(t, filepath.Join(outside, "index.json"), []byte(`{"schemaVersion":2,"manifests":[]}`))
			writeFile(t, filepath.Join(outside, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`))
			symlink(t, outside, final)
			return final
		}},
		{"index.json in NAME.part", func(t *testing.T, final, outside string) string {
			link := filepath.Join(final+".part", "index.json")
			os.MkdirAll(filepath.Dir(link), 0o755)
			symlink(t, filepath.Join(outside, "precious"), link)
			return link
		}},
		{"a blob's .part in NAME.part", func(t *testing.T, final, outside string) string {
			link := filepath.Join(final+".part", "blobs", "sha256", strings.TrimPrefix(layer, "sha256:")+".part")
			os.MkdirAll(filepath.Dir(link), 0o755)
			symlink(t, filepath.Join(outside, "precious"), link)
			return link
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := newVictim(t)
			outside := filepath.Dir(v.path)
			work := t.TempDir()
			link := c.plant(t, filepath.Join(work, imageWorkName(uri, ref)), outside)
			before := dirNames(t, outside)
			r := fetchMain(t, sourceLine(t, records.Source{ID: "img", URI: uri}), "--work", work)
			e := one[*records.Error](t, r)
			if r.status != 3 || !strings.Contains(e.Message, link) || !strings.Contains(e.Message, "symbolic link") {
				t.Errorf("status %d, record %+v: want an error naming the symbolic link %s", r.status, e, link)
			}
			v.unchanged(t)
			if after := dirNames(t, outside); len(after) != len(before) {
				t.Errorf("the directory outside --work held %v, now %v", before, after)
			}
		})
	}
}

// A hard link to a file outside --work planted at NAME.part is refused
// too: writing the .part would write that file.
func TestHardLinkedPartIsRefused(t *testing.T) {
	data := randomBytes(t, 10_000)
	s := newServer(t, serveBytes(data))
	v := newVictim(t)
	work := t.TempDir()
	uri := s.URL + "/a.deb"
	part := workFile(t, work, uri) + ".part"
	if err := os.Link(v.path, part); err != nil {
		t.Skipf("hard link across %s and %s: %v", v.path, work, err)
	}
	r := fetchMain(t, sourceLine(t, records.Source{ID: "x", URI: uri}), "--work", work)
	e := one[*records.Error](t, r)
	if r.status != 3 || !strings.Contains(e.Message, part) || !strings.Contains(e.Message, "other hard links") {
		t.Errorf("status %d, record %+v", r.status, e)
	}
	v.unchanged(t)
}
