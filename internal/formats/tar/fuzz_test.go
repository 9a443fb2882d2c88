package tar

import (
	"bytes"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/archive/archivetest"
)

func FuzzWalker(f *testing.F) {
	archivetest.Seeds(f, 16<<10, "tree.tar", "tree-pax.tar", "sparse-gnu.tar", "sparse-pax.tar")
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = archivetest.Exercise(NewWalker(bytes.NewReader(data)), 64<<10, 1000)
	})
}
