package fat

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestProbeChecksJumpAndMedia: Probe is the one FAT check that hashr-scan
// (through the format table) and the disk reader both use, so it must
// refuse a boot sector whose jump instruction or media byte no FAT
// volume has, as hashr-scan's own check did before the table.
func TestProbeChecksJumpAndMedia(t *testing.T) {
	img, err := os.ReadFile(filepath.Join("testdata", "tree-fat16.img"))
	if err != nil {
		t.Fatal(err)
	}
	if !Probe(bytes.NewReader(img), int64(len(img))) {
		t.Fatal("Probe refuses a FAT16 image made by mkfs.fat")
	}
	for _, c := range []struct {
		name string
		off  int
		b    byte
	}{
		{"short jump without NOP", 2, 0x00},
		{"no jump at all", 0, 0x00},
		{"media byte 0x12", 21, 0x12},
		{"media byte 0xf1", 21, 0xf1},
	} {
		bad := bytes.Clone(img)
		bad[c.off] = c.b
		if Probe(bytes.NewReader(bad), int64(len(bad))) {
			t.Errorf("%s: Probe accepts it", c.name)
		}
	}
}
