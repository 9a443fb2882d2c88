package extract

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/pkg/records"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"1000": 1000, "4K": 4096, "1M": 1 << 20, "2g": 2 << 30, "4T": 4 << 40, "1GiB": 1 << 30} {
		if got, err := cli.ParseSize(in); err != nil || got != want {
			t.Errorf("cli.ParseSize(%q) = %d, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "x", "-1", "1X", "99999999999P"} {
		if _, err := cli.ParseSize(in); err == nil {
			t.Errorf("cli.ParseSize(%q) accepted", in)
		}
	}
}

// A name the spool cannot mirror (twice in a tar, a file where a
// directory must go, too long) gets a flat name; nothing is overwritten.
func TestSpoolFallsBackToFlatNames(t *testing.T) {
	root := t.TempDir()
	state, _, err := openSpoolState(root)
	if err != nil {
		t.Fatal(err)
	}
	defer state.close()
	dirs := newSpoolDirs(root, state)
	s, err := dirs.open("abc", false)
	if err != nil {
		t.Fatal(err)
	}
	write := func(p, content string) string {
		f, name, err := s.Create(p)
		if err != nil {
			t.Fatalf("create %q: %v", p, err)
		}
		f.WriteString(content)
		f.Close()
		return name
	}
	a1 := write("a", "first")
	a2 := write("a", "second")
	ab := write("a/b", "under a file")
	long := write(strings.Repeat("x", 300)+"/y", "long")
	for name, want := range map[string]string{a1: "first", a2: "second", ab: "under a file", long: "long"} {
		if data, _ := os.ReadFile(name); string(data) != want {
			t.Errorf("%s holds %q, want %q", name, data, want)
		}
	}
	if a1 != filepath.Join(s.Dir, "a") || filepath.Dir(a2) != s.Dir || filepath.Dir(ab) != s.Dir {
		t.Errorf("names %s %s %s", a1, a2, ab)
	}
	// the same source again in one run gets its own directory
	s2, err := dirs.open("abc", false)
	if err != nil || s2.Dir == s.Dir {
		t.Fatalf("second directory %v %v", s2, err)
	}
}

func TestSpillKeepsOrderPastMemory(t *testing.T) {
	dir := t.TempDir()
	s := newSpill(dir)
	n := 3 * spillMemory / 100
	for i := range n {
		if err := s.Add(&records.File{Path: fmt.Sprintf("file-%08d-%s", i, strings.Repeat("x", 60))}); err != nil {
			t.Fatal(err)
		}
	}
	if s.file == nil {
		t.Fatal("nothing spilled to disk")
	}
	var out bytes.Buffer
	w := records.NewWriter(&out)
	if err := s.drain(w); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != n {
		t.Fatalf("%d lines, want %d", len(lines), n)
	}
	for i, l := range lines {
		if !strings.Contains(l, fmt.Sprintf("file-%08d-", i)) {
			t.Fatalf("line %d: %s", i, l)
		}
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("spill file left: %v", left)
	}
}
