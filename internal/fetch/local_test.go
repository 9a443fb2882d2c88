package fetch

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashr-dev/hashr/pkg/records"
)

func TestLocalSourceIsHashedWhereItIs(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a b#c%20.bin") // characters a URL would read otherwise
	data := randomBytes(t, 3<<20+17)
	writeFile(t, path, data)
	work := filepath.Join(dir, "work")

	for _, uri := range []string{path, (&url.URL{Scheme: "file", Path: path}).String()} {
		r := fetchMain(t, sourceLine(t, records.Source{ID: "a", URI: uri, Size: records.Int64(int64(len(data)))}), "--work", work)
		src := one[*records.Source](t, r)
		if r.status != 0 {
			t.Fatalf("%s: status %d, stderr %s", uri, r.status, r.stderr)
		}
		if src.Local != path {
			t.Errorf("%s: local %q, want the file itself %q", uri, src.Local, path)
		}
		if want := sha256sum(t, path); src.SHA256 != want {
			t.Errorf("%s: sha256 %s, sha256sum says %s", uri, src.SHA256, want)
		}
	}
	if names := dirNames(t, work); names != nil {
		t.Errorf("a local source without --copy always wrote into the work directory: %v", names)
	}
}

func TestCopyAlwaysCopiesIntoWork(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "disk.img")
	data := randomBytes(t, 5<<20+3)
	writeFile(t, path, data)
	work := filepath.Join(dir, "work")

	r := fetchMain(t, sourceLine(t, records.Source{URI: path}), "--work", work, "--copy", "always")
	src := one[*records.Source](t, r)
	if r.status != 0 {
		t.Fatalf("status %d, stderr %s", r.status, r.stderr)
	}
	if !inside(src.Local, work) || !strings.HasSuffix(src.Local, "-disk.img") {
		t.Fatalf("local %q is not a copy in %s", src.Local, work)
	}
	got, err := os.ReadFile(src.Local)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("the copy differs from the source")
	}
	if want := sha256sum(t, path); src.SHA256 != want || sha256sum(t, src.Local) != want {
		t.Fatalf("sha256 %s, sha256sum of source and copy %s, %s", src.SHA256, want, sha256sum(t, src.Local))
	}
	if src.Size == nil || *src.Size != int64(len(data)) {
		t.Errorf("size %v, want %d", src.Size, len(data))
	}
	if names := dirNames(t, work); len(names) != 1 {
		t.Errorf("work holds %v, want only the copy", names)
	}
}

func TestLocalMismatchesFail(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.bin")
	writeFile(t, path, []byte("hello\n"))
	work := filepath.Join(dir, "work")
	for name, src := range map[string]records.Source{
		"size":   {URI: path, Size: records.Int64(7)},
		"sha256": {URI: path, SHA256: strings.Repeat("0", 64)},
	} {
		for _, mode := range []string{"auto", "always"} {
			r := fetchMain(t, sourceLine(t, src), "--work", work, "--copy", mode)
			e := one[*records.Error](t, r)
			if r.status != 3 || e.Stage != "fetch" || e.URI != path || e.Source != path || !strings.Contains(e.Message, name) {
				t.Errorf("%s, --copy %s: status %d, error record %+v", name, mode, r.status, e)
			}
			if _, err := os.Stat(path); err != nil {
				t.Fatalf("the user's file is gone after a mismatch: %v", err)
			}
			if names := dirNames(t, work); len(names) != 0 {
				t.Errorf("%s, --copy %s: work holds %v after a failed copy", name, mode, names)
			}
		}
	}
}

func TestLocalFileProblems(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ uri, message string }{
		{filepath.Join(dir, "missing"), "no such file or directory"},
		{dir, "is a directory"},
		{"file://otherhost/etc/passwd", `names host "otherhost"`},
		{"relative/path", "neither an absolute path nor a URL"},
	} {
		r := fetchMain(t, sourceLine(t, records.Source{ID: "x", URI: tc.uri}), "--work", filepath.Join(dir, "work"))
		e := one[*records.Error](t, r)
		if r.status != 3 || e.ID != "x" || e.URI != tc.uri || !strings.Contains(e.Message, tc.message) {
			t.Errorf("%s: status %d, error record %+v; want %q", tc.uri, r.status, e, tc.message)
		}
		if !strings.Contains(r.stderr, "hashr-fetch: error: x: ") {
			t.Errorf("%s: stderr %q", tc.uri, r.stderr)
		}
	}
}

// slowReader gives a byte at a time, slowly, like a stalled network share.
type slowReader struct{}

func (slowReader) Read(p []byte) (int, error) {
	time.Sleep(5 * time.Millisecond)
	p[0] = 'x'
	return 1, nil
}

// An interrupted copy leaves no temporary file behind.
func TestInterruptedCopyRemovesItsTemporaryFile(t *testing.T) {
	work := t.TempDir()
	temps := newTempFiles()
	l := &localFetcher{copy: true, workDir: work, temps: temps}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		// Cancel once the copy has started writing.
		for len(dirNames(t, work)) == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	_, err := l.copyInto(ctx, io.MultiReader(slowReader{}), "/slow", expected{uri: "/slow"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("copy ended with %v, want context.Canceled", err)
	}
	if names := dirNames(t, work); len(names) != 0 {
		t.Fatalf("work holds %v after an interrupted copy", names)
	}
	temps.removeAll()
}

// A split WIM's other parts are made local as its part 1 is: read where
// they are, or copied into --work and named by their copies; a part that
// cannot be read fails the source.
func TestSplitWIMParts(t *testing.T) {
	dir := t.TempDir()
	first, second, third := filepath.Join(dir, "install.swm"), filepath.Join(dir, "install2.swm"), filepath.Join(dir, "install3.swm")
	data := map[string][]byte{first: randomBytes(t, 1000), second: randomBytes(t, 2000), third: randomBytes(t, 3000)}
	for p, b := range data {
		writeFile(t, p, b)
	}
	line := sourceLine(t, records.Source{URI: first, Parts: []string{second, third}})
	work := filepath.Join(dir, "work")

	r := fetchMain(t, line, "--work", work)
	src := one[*records.Source](t, r)
	if r.status != 0 || src.Local != first || !slices.Equal(src.Parts, []string{second, third}) {
		t.Fatalf("status %d, local %q, parts %v\n%s", r.status, src.Local, src.Parts, r.stderr)
	}

	r = fetchMain(t, line, "--work", work, "--copy", "always")
	src = one[*records.Source](t, r)
	if r.status != 0 || len(src.Parts) != 2 {
		t.Fatalf("--copy always: status %d, parts %v\n%s", r.status, src.Parts, r.stderr)
	}
	for i, orig := range []string{first, second, third} {
		copied := src.Local
		if i > 0 {
			copied = src.Parts[i-1]
		}
		got, err := os.ReadFile(copied)
		if !inside(copied, work) || err != nil || !bytes.Equal(got, data[orig]) {
			t.Errorf("--copy always: %s is not a copy of %s in %s (%v)", copied, orig, work, err)
		}
	}

	for _, tc := range []struct {
		parts []string
		want  string
	}{
		{[]string{second, filepath.Join(dir, "install4.swm")}, `fetching the split WIM's part "` + filepath.Join(dir, "install4.swm") + `": opening`},
		{[]string{"https://example.invalid/install2.swm"}, "it is not a local path"},
	} {
		r := fetchMain(t, sourceLine(t, records.Source{URI: first, Parts: tc.parts}), "--work", work)
		e := one[*records.Error](t, r)
		if r.status != 3 || !strings.Contains(e.Message, tc.want) {
			t.Errorf("parts %v: status %d, error %q; want 3 and %q", tc.parts, r.status, e.Message, tc.want)
		}
	}
}
