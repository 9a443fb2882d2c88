package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// The committed man pages are the ones the commands generate today: a flag
// added without `make man` fails here.
func TestManPagesAreCurrent(t *testing.T) {
	dir := t.TempDir()
	if err := Generate(dir); err != nil {
		t.Fatal(err)
	}
	fresh, _ := filepath.Glob(filepath.Join(dir, "*.1"))
	committed, _ := filepath.Glob("../../man/*.1")
	if len(fresh) == 0 || len(fresh) != len(committed) {
		t.Fatalf("generated %d pages, man/ holds %d: run make man", len(fresh), len(committed))
	}
	for _, page := range fresh {
		want, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join("../../man", filepath.Base(page)))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("man/%s is out of date (%v): run make man", filepath.Base(page), err)
		}
	}
}
