package unpack

import (
	"os"
	"path/filepath"
	"testing"
)

// hashr-hash --delete removes a spool directory as its last file goes. A
// directory that vanishes so while the spool still means to write there
// (the window between a claim and the first file, or a cached parent) is
// made again, not a failed member.
func TestSpoolRecreatesVanishedDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "0123")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	sp := NewSpool(dir, false)
	f, name, err := sp.Create("a/b/one")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	// What hashr-hash --delete does once it has hashed the file.
	for _, p := range []string{name, filepath.Dir(name), filepath.Dir(filepath.Dir(name)), dir} {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"a/b/two", "top"} {
		f, name, err := sp.Create(p)
		if err != nil {
			t.Fatalf("creating %s after its directory went: %v", p, err)
		}
		f.Close()
		if want := filepath.Join(dir, filepath.FromSlash(p)); name != want {
			t.Errorf("spooled at %s, want %s", name, want)
		}
	}
}
