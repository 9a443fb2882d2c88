package tar

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/archive/archivetest"
)

// sparseFormats are the ways GNU tar -S writes a sparse member: the old
// GNU header (type 'S'), and PAX with each of its sparse formats.
var sparseFormats = map[string][]string{
	"gnu":     {"--format=gnu"},
	"pax-0.0": {"--format=posix", "--sparse-version=0.0"},
	"pax-0.1": {"--format=posix", "--sparse-version=0.1"},
	"pax-1.0": {"--format=posix", "--sparse-version=1.0"},
}

// holeCounter is a Meter that adds up what it is told.
type holeCounter struct{ n int64 }

func (h *holeCounter) Expand(n int64) error { h.n += n; return nil }

// The bytes of a sparse member's holes, which the archive does not hold,
// are reported to the meter as expanded bytes, in every sparse format GNU
// tar writes: a 10 KiB archive of a 10 GiB file of holes is a
// decompression bomb like any other.
func TestSparseHolesAreMetered(t *testing.T) {
	archivetest.NeedTool(t, "tar")
	const size, data = 64 << 20, 3 * 4096
	dir := t.TempDir()
	file := filepath.Join(dir, "holes.bin")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(file, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, off := range []int64{0, size / 2, size - 4096} {
		if _, err := f.WriteAt(bytes.Repeat([]byte{0xa5}, 4096), off); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	for name, args := range sparseFormats {
		t.Run(name, func(t *testing.T) {
			archive := filepath.Join(dir, name+".tar")
			cmd := exec.Command("tar", append(args, "-S", "-C", dir, "-cf", archive, "holes.bin")...)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("tar: %v\n%s", err, out)
			}
			raw, err := os.ReadFile(archive)
			if err != nil {
				t.Fatal(err)
			}
			if len(raw) > 1<<20 {
				t.Fatalf("GNU tar wrote %d bytes: not sparse", len(raw))
			}
			var holes holeCounter
			w := NewMeteredWalker(bytes.NewReader(raw), &holes)
			e, err := w.Next()
			if err != nil {
				t.Fatal(err)
			}
			if e.Name != "holes.bin" || e.Size != size {
				t.Fatalf("entry %q of %d bytes, want holes.bin of %d", e.Name, e.Size, size)
			}
			r, err := w.Open()
			if err != nil {
				t.Fatal(err)
			}
			n, err := io.Copy(io.Discard, r)
			if err != nil || n != size {
				t.Fatalf("read %d bytes, %v; want %d", n, err, size)
			}
			if holes.n != size-data {
				t.Errorf("meter told of %d bytes of holes, want %d", holes.n, size-data)
			}
			if _, err := w.Next(); err != io.EOF {
				t.Errorf("after the member: %v, want EOF", err)
			}
		})
	}
}
