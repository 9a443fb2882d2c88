package fat

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/fstest"
)

// buildImage makes a FAT image of dir with mkfs.vfat and mcopy -s.
func buildImage(t testing.TB, dir string, bits string, sizeKiB int, args ...string) string {
	t.Helper()
	fstest.NeedTool(t, "mkfs.vfat", "mcopy")
	img := filepath.Join(t.TempDir(), "fat"+bits+".img")
	fstest.Run(t, "mkfs.vfat", append(append([]string{"-C", "-F", bits}, args...), img, strconv.Itoa(sizeKiB))...)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	cmd := []string{"-s", "-Q", "-i", img}
	for _, e := range entries {
		cmd = append(cmd, filepath.Join(dir, e.Name()))
	}
	c := exec.Command("mcopy", append(cmd, "::/")...)
	c.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("mcopy: %v\n%s", err, out)
	}
	return img
}

func walkImage(t *testing.T, img string) map[string]string {
	t.Helper()
	w, err := fstest.OpenImage(t, img, Probe, NewWalker)
	if err != nil {
		t.Fatal(err)
	}
	if got := w.(*Walker).v.bits; filepath.Base(img) != "fat"+strconv.Itoa(got)+".img" {
		t.Errorf("%s read as FAT%d", img, got)
	}
	got, _ := fstest.Walk(t, w)
	return got
}

// FAT12, FAT16 and FAT32 images of real files, long names included: the
// files walked are the directory's.
func TestGroundTruth(t *testing.T) {
	cases := []struct {
		bits string
		kiB  int
		args []string
		pkgs []string
	}{
		{"12", 15 << 10, []string{"-s", "8"}, []string{"gzip_", "sed_"}},
		{"16", 48 << 10, nil, nil},
		{"32", 80 << 10, []string{"-s", "1"}, nil},
	}
	for _, c := range cases {
		t.Run("FAT"+c.bits, func(t *testing.T) {
			dir := fstest.Tree(t, fstest.Options{NoSymlinks: true, Packages: c.pkgs})
			img := buildImage(t, dir, c.bits, c.kiB, c.args...)
			fstest.Equal(t, walkImage(t, img), fstest.Sums(t, dir))
		})
	}
}

func seeds(t testing.TB) []string { return fstest.Seeds(t, "*.img") }

func TestHostile(t *testing.T) {
	for _, name := range seeds(t) {
		img, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		fstest.Hostile(t, img, NewWalker)
		// Truncated: the last bytes the walk needs are missing.
		fstest.MustFail(t, name, img, fstest.LastData(img)-1, NewWalker)
		z := bytes.Clone(img)
		clear(z[:512])
		if _, err := NewWalker(bytes.NewReader(z), int64(len(z))); err == nil {
			t.Errorf("%s: zeroed boot sector accepted", name)
		}
	}
}

// A subdirectory whose entry points at its parent's cluster is a loop.
func TestLoop(t *testing.T) {
	img, err := os.ReadFile(filepath.Join("testdata", "tree-fat16.img"))
	if err != nil {
		t.Fatal(err)
	}
	wk, err := NewWalker(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	w := wk.(*Walker)
	// Find "DIR" in the root and "SUB" inside it; make SUB point at DIR.
	root := img[w.v.rootOffset : w.v.rootOffset+w.v.rootSize]
	dirCluster := uint32(0)
	for i := 0; i+32 <= len(root); i += 32 {
		if string(root[i:i+11]) == "DIR        " {
			dirCluster = uint32(root[i+26]) | uint32(root[i+27])<<8
		}
	}
	off, _ := w.clusterOffset(dirCluster)
	patched := false
	for i := off; i < off+w.v.clusterSize; i += 32 {
		if string(img[i:i+11]) == "SUB        " {
			img[i+26], img[i+27] = byte(dirCluster), byte(dirCluster>>8)
			patched = true
		}
	}
	if !patched {
		t.Fatal("no SUB entry in DIR")
	}
	wk, err = NewWalker(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	fstest.WalkToCorrupt(t, wk)
}

func FuzzWalker(f *testing.F) { fstest.FuzzWalker(f, seeds(f), NewWalker) }
