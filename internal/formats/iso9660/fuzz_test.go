package iso9660

import (
	"bytes"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/archive/archivetest"
)

func FuzzWalker(f *testing.F) {
	archivetest.Seeds(f, 1<<20, "tree.iso", "tree-joliet.iso", "tree-plain.iso", "tree-xorriso.iso")
	f.Fuzz(func(t *testing.T, data []byte) {
		w, err := NewWalker(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		_ = archivetest.Exercise(w, 64<<10, 1000)
	})
}
