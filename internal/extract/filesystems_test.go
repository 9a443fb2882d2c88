package extract

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/fstest"
)

// File-system images given as sources come out file by file: the
// (path, sha256) of every record is the directory's the image was built
// from, NTFS's metafiles left out. The readers' own tests cover each file
// system's variants; this checks the dispatch.
func TestFileSystemSources(t *testing.T) {
	sized := func(t *testing.T, img string, mib int64) {
		f, err := os.Create(img)
		if err != nil {
			t.Fatal(err)
		}
		f.Truncate(mib << 20)
		f.Close()
	}
	cases := []struct {
		name  string
		tools []string
		opts  fstest.Options
		build func(t *testing.T, dir, img string)
	}{
		{"squashfs", []string{"mksquashfs"}, fstest.Options{}, func(t *testing.T, dir, img string) {
			fstest.Run(t, "mksquashfs", dir, img, "-noappend", "-no-progress", "-quiet", "-comp", "zstd")
		}},
		{"ntfs", []string{"mkntfs", "wimcapture", "wimapply"}, fstest.Options{}, func(t *testing.T, dir, img string) {
			sized(t, img, 48)
			fstest.Run(t, "mkntfs", "-q", "-F", "-f", img)
			wim := img + ".wim"
			fstest.Run(t, "wimcapture", dir, wim, "--compress=none")
			fstest.Run(t, "wimapply", wim, "1", img)
		}},
		{"fat32", []string{"mkfs.vfat", "mcopy"}, fstest.Options{NoSymlinks: true}, func(t *testing.T, dir, img string) {
			fstest.Run(t, "mkfs.vfat", "-C", "-F", "32", "-s", "1", img, "81920")
			t.Setenv("MTOOLS_SKIP_CHECK", "1")
			entries, _ := os.ReadDir(dir)
			args := []string{"-s", "-Q", "-i", img}
			for _, e := range entries {
				args = append(args, filepath.Join(dir, e.Name()))
			}
			fstest.Run(t, "mcopy", append(args, "::/")...)
		}},
		{"udf-bridge", []string{"genisoimage"}, fstest.Options{NoSymlinks: true, NoHardlinks: true}, func(t *testing.T, dir, img string) {
			fstest.Run(t, "genisoimage", "-quiet", "-udf", "-R", "-o", img, dir)
		}},
		{"udf-only", []string{"genisoimage"}, fstest.Options{NoSymlinks: true, NoHardlinks: true}, func(t *testing.T, dir, img string) {
			fstest.Run(t, "genisoimage", "-quiet", "-udf", "-R", "-o", img, dir)
			fstest.StripISOBridge(t, img)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fstest.NeedTool(t, c.tools...)
			dir := fstest.Tree(t, c.opts)
			img := filepath.Join(t.TempDir(), "image."+c.name)
			c.build(t, dir, img)
			o := extract(t, sourceLine(img), "--hash", "sha256")
			if o.status != 0 {
				t.Fatalf("status %d:\n%s", o.status, o.stderr)
			}
			fstest.Equal(t, o.sums(t), fstest.Sums(t, dir))
		})
	}
}
