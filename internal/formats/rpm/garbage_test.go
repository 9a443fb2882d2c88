package rpm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/archive"
	"github.com/hashr-dev/hashr/internal/formats/archive/archivetest"
)

// headerIndexes returns where the index of the signature header and of
// the main header start in a package, and how many entries each has.
func headerIndexes(t *testing.T, data []byte) (starts, counts [2]int) {
	t.Helper()
	off := leadSize
	for i := range 2 {
		nindex := int(binary.BigEndian.Uint32(data[off+8:]))
		size := int(binary.BigEndian.Uint32(data[off+12:]))
		starts[i], counts[i] = off+16, nindex
		off += 16 + nindex*16 + size
		if i == 0 {
			off += -off & 7 // the signature header is padded to 8 bytes
		}
	}
	return starts, counts
}

// A package whose header index entries are all garbage (types, offsets
// and counts that point nowhere) is corrupt, as rpm -qp says; it was
// walked with 0 errors, its cpio payload read without its header.
func TestGarbageHeaderIndexIsCorrupt(t *testing.T) {
	data, err := os.ReadFile(archivetest.Fixture(t, "hello-gzip.rpm"))
	if err != nil {
		t.Fatal(err)
	}
	starts, counts := headerIndexes(t, data)
	for i, which := range []string{"signature", "main"} {
		garbled := bytes.Clone(data)
		rng := rand.New(rand.NewPCG(7, uint64(i)))
		for p := starts[i]; p < starts[i]+counts[i]*16; p++ {
			garbled[p] = byte(rng.Uint32())
		}
		if _, err := exec.LookPath("rpm"); err == nil {
			file := filepath.Join(t.TempDir(), which+".rpm")
			os.WriteFile(file, garbled, 0o644)
			if out, err := exec.Command("rpm", "-qp", "--nosignature", "--nodigest", file).CombinedOutput(); err == nil {
				t.Fatalf("%s header garbled: rpm -qp accepts it:\n%s", which, out)
			}
		}
		_, err := archivetest.WalkErr(NewWalker(bytes.NewReader(garbled), nil))
		var corrupt *archive.CorruptError
		if !errors.As(err, &corrupt) {
			t.Errorf("%s header garbled: %v, want a CorruptError", which, err)
		}
	}
	// The package as built still walks.
	if _, err := archivetest.WalkErr(NewWalker(bytes.NewReader(data), nil)); err != nil {
		t.Errorf("the package itself: %v", err)
	}
}
