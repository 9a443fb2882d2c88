package magic

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDetect: whatever the bytes, Detect (and MayBeImageTar) returns without panicking or
// hanging and without an error (the reader never fails), and says the same
// thing twice. Seeds: the committed fixtures (their first 64 KiB, enough
// for every check but the VHD footer) and testdata/fuzz/FuzzDetect.
func FuzzDetect(f *testing.F) {
	dir := formatsDir(f)
	entries, err := os.ReadDir(dir)
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			f.Fatal(err)
		}
		if len(data) > HeadSize {
			data = data[:HeadSize]
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := Detect(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatalf("Detect: %v", err)
		}
		if res.Format != "" && !IsFormat(res.Format) {
			t.Fatalf("Detect returned an unlisted format %q", res.Format)
		}
		if res.Format == "" && res.Compression != "" {
			t.Fatalf("Detect returned a compression (%s) without a format", res.Compression)
		}
		if MayBeImageTar(data) != MayBeImageTar(bytes.Clone(data)) {
			t.Fatal("MayBeImageTar is not deterministic")
		}
		if again := DetectBytes(data); again != res {
			t.Fatalf("Detect is not deterministic: %v then %v", res, again)
		}
	})
}
