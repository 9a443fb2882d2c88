package extract

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/archive/archivetest"
)

// sparseTarFormats are the ways GNU tar -S stores a sparse member.
var sparseTarFormats = map[string][]string{
	"gnu":     {"--format=gnu"},
	"pax-0.0": {"--format=posix", "--sparse-version=0.0"},
	"pax-0.1": {"--format=posix", "--sparse-version=0.1"},
	"pax-1.0": {"--format=posix", "--sparse-version=1.0"},
}

const sparseSize = 1 << 30

// sparseOffsets are where the sparse file holds 4 KiB of data.
var sparseOffsets = []int64{0, sparseSize / 2, sparseSize - 4096}

// sparseTars writes a 1 GiB file that is holes but for three blocks, and
// archives it with GNU tar -S in each of its sparse formats.
func sparseTars(t *testing.T) map[string]string {
	t.Helper()
	archivetest.NeedTool(t, "tar")
	dir := t.TempDir()
	file := filepath.Join(dir, "holes.bin")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, off := range sparseOffsets {
		if _, err := f.WriteAt(bytes.Repeat([]byte{0xa5}, 4096), off); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Truncate(sparseSize); err != nil {
		t.Fatal(err)
	}
	f.Close()
	tars := map[string]string{}
	for name, args := range sparseTarFormats {
		tarFile := filepath.Join(dir, name+".tar")
		archivetest.Run(t, "tar", append(args, "-S", "-C", dir, "-cf", tarFile, "holes.bin")...)
		if st, _ := os.Stat(tarFile); st.Size() > 64<<10 {
			t.Fatalf("%s: GNU tar wrote %d bytes: not sparse", name, st.Size())
		}
		tars[name] = tarFile
	}
	return tars
}

// diskUsage is the bytes the files under dir take on disk (st_blocks).
func diskUsage(t *testing.T, dir string) int64 {
	t.Helper()
	var used int64
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if st, err := os.Stat(p); err == nil {
				used += st.Sys().(*syscall.Stat_t).Blocks * 512
			}
		}
		return nil
	})
	return used
}

// A sparse tar member's holes are bytes it expands to: with the default
// --max-ratio, 1 GiB of holes from a few KiB of archive is refused as a
// decompression bomb, spooled or hashed, and the spool keeps nothing.
func TestSparseTarHolesCountTowardsTheRatio(t *testing.T) {
	for name, tarFile := range sparseTars(t) {
		for _, mode := range [][]string{{"--spool"}, {"--hash", "sha256"}} {
			spool := filepath.Join(t.TempDir(), "spool")
			args := append([]string{"--spool", spool}, mode[1:]...)
			if mode[0] == "--hash" {
				args = mode
			}
			o := extract(t, sourceLine(tarFile), args...)
			if o.status != 3 || !strings.Contains(o.errorPaths()[""], "--max-ratio") {
				t.Errorf("%s %v: want exit 3 and a --max-ratio error\n%s", name, mode, describe(o))
			}
			if used := diskUsage(t, spool); used > 1<<20 {
				t.Errorf("%s %v: the spool takes %d bytes on disk", name, mode, used)
			}
		}
	}
}

// Allowed by a high --max-ratio, a sparse member is spooled sparse: the
// holes stay holes, and the data is where it was.
func TestSparseTarMemberSpooledSparse(t *testing.T) {
	for name, tarFile := range sparseTars(t) {
		spool := filepath.Join(t.TempDir(), "spool")
		o := extract(t, sourceLine(tarFile), "--spool", spool, "--max-ratio", "10000000")
		f := o.files()["holes.bin"]
		if o.status != 0 || f == nil {
			t.Fatalf("%s: no holes.bin\n%s", name, describe(o))
		}
		st, err := os.Stat(f.Local)
		if err != nil || st.Size() != sparseSize || int64(*f.Size) != sparseSize {
			t.Fatalf("%s: spooled %v, %v; want %d bytes", name, st, err, sparseSize)
		}
		if used := diskUsage(t, spool); used > 1<<20 {
			t.Errorf("%s: the spooled copy takes %d bytes on disk: holes written as zeros", name, used)
		}
		local, _ := os.Open(f.Local)
		for _, off := range sparseOffsets {
			got := make([]byte, 4096)
			local.ReadAt(got, off)
			if !bytes.Equal(got, bytes.Repeat([]byte{0xa5}, 4096)) {
				t.Errorf("%s: data at %d not spooled", name, off)
			}
		}
		local.Close()
	}
}

// Holes are member bytes and source bytes like any other.
func TestSparseTarHolesCountTowardsByteLimits(t *testing.T) {
	tarFile := sparseTars(t)["pax-1.0"]
	for _, c := range []struct{ flag, path string }{{"--max-member-bytes", "holes.bin"}, {"--max-source-bytes", ""}} {
		for _, mode := range [][]string{{"--spool", filepath.Join(t.TempDir(), "spool")}, {"--hash", "sha256"}} {
			o := extract(t, sourceLine(tarFile), append(mode, "--max-ratio", "10000000", c.flag, "256M")...)
			if o.status != 3 || !strings.Contains(o.errorPaths()[c.path], c.flag) || len(o.files()) != 0 {
				t.Errorf("%s, %s: want exit 3, an error naming it for %q and no file\n%s", c.flag, mode[0], c.path, describe(o))
			}
			if mode[0] == "--spool" {
				if used := diskUsage(t, mode[1]); used > 1<<20 {
					t.Errorf("%s: the spool takes %d bytes on disk", c.flag, used)
				}
			}
		}
	}
}
