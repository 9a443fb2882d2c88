package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// The committed man pages are the ones the commands and docs/records.md
// generate today: a flag added, or the contract changed, without
// `make man` fails here.
func TestManPagesAreCurrent(t *testing.T) {
	dir := t.TempDir()
	if err := Generate(dir, "../../docs/records.md"); err != nil {
		t.Fatal(err)
	}
	fresh, _ := filepath.Glob(filepath.Join(dir, "*.[17]"))
	committed, _ := filepath.Glob("../../man/*.[17]")
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
