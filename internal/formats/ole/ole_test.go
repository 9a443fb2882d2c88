package ole

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"sort"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/archive"
	"github.com/hashr-dev/hashr/internal/formats/archive/archivetest"
	"github.com/hashr-dev/hashr/internal/formats/ole/oletest"
)

// realMSI builds an MSI of a few real files with wixl.
func realMSI(t *testing.T) string {
	src := archivetest.SourceTree(t)
	var files []string
	for p := range archivetest.TreeSums(t, src, "") {
		files = append(files, p)
	}
	sort.Strings(files)
	msi, _ := oletest.BuildMSI(t, src, files[:12], files[20])
	return msi
}

func walkSums(t *testing.T, data []byte) map[string]string {
	t.Helper()
	w, err := NewWalker(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for {
		e, err := w.Next()
		if err == io.EOF {
			return got
		}
		if err != nil {
			t.Fatal(err)
		}
		if e.Type != archive.Regular {
			continue
		}
		r, err := w.Open()
		if err != nil {
			t.Fatalf("%s: %v", e.Name, err)
		}
		h := sha256.New()
		n, err := io.Copy(h, r)
		if err != nil || n != e.Size {
			t.Fatalf("%s: %d bytes of %d: %v", e.Name, n, e.Size, err)
		}
		got[e.Name] = hex.EncodeToString(h.Sum(nil))
	}
}

// TestGroundTruth7Zip: every stream of an MSI made by wixl, under the
// names 7-Zip gives them (HashR unpacked updates with 7z), with the bytes
// 7-Zip extracts.
func TestGroundTruth7Zip(t *testing.T) {
	msi := realMSI(t)
	data, err := os.ReadFile(msi)
	if err != nil {
		t.Fatal(err)
	}
	got := walkSums(t, data)
	out := t.TempDir()
	archivetest.Run(t, "7zz", "x", "-tCompound", "-o"+out, msi)
	want := archivetest.TreeSums(t, out, "")
	archivetest.Compare(t, got, want)
	for _, name := range []string{"!File", "!Media", "[5]SummaryInformation", "product.cab", "Binary.Payload"} {
		if _, ok := got[name]; !ok {
			t.Errorf("no stream %q", name)
		}
	}
}

func TestCorrupt(t *testing.T) {
	data, err := os.ReadFile(realMSI(t))
	if err != nil {
		t.Fatal(err)
	}
	noticed := 0
	for _, cut := range []int{0, 8, 511, 512, 1024, len(data) / 2, len(data) - 1} {
		if exercise(data[:cut]) != nil {
			noticed++
		}
	}
	if noticed < 5 {
		t.Errorf("only %d of 7 truncated files were noticed", noticed)
	}
	for i := 0; i < 300; i++ {
		bad := bytes.Clone(data)
		// The header, the FAT and the directory hold the structure.
		pos := (i * 7919) % len(bad)
		if i%2 == 0 {
			pos = (i * 31) % 1024
		}
		bad[pos] ^= 0x41
		exercise(bad) // must not panic or hang
	}
}

func exercise(data []byte) error {
	w, err := NewWalker(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return err
	}
	var first error
	for range 1 << 20 {
		e, err := w.Next()
		if err == io.EOF {
			return first
		}
		if err != nil {
			return err
		}
		if e.Type != archive.Regular {
			continue
		}
		r, err := w.Open()
		if err == nil {
			_, err = io.Copy(io.Discard, io.LimitReader(r, 64<<20))
		}
		if err != nil && first == nil {
			first = err
		}
	}
	return nil
}
