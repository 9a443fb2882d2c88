package extract

import (
	"path/filepath"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/fstest"
)

// File-system images given as sources come out file by file: the
// (path, sha256) of every record is the directory's the image was built
// from. The readers' own tests cover each file system's variants; this
// checks the dispatch.
func TestFileSystemSources(t *testing.T) {
	cases := []struct {
		name  string
		tool  string
		opts  fstest.Options
		build func(t *testing.T, dir, img string)
	}{
		{"squashfs", "mksquashfs", fstest.Options{}, func(t *testing.T, dir, img string) {
			fstest.Run(t, "mksquashfs", dir, img, "-noappend", "-no-progress", "-quiet", "-comp", "zstd")
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fstest.NeedTool(t, c.tool)
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
