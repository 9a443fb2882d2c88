package tar

import (
	"bytes"
	"errors"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/archive/archivetest"
)

// cappedMeter fails once told of more than max bytes, as extract's
// budget does at --max-ratio.
type cappedMeter struct{ n, max int64 }

func (m *cappedMeter) Expand(n int64) error {
	if m.n += n; m.n > m.max {
		return errors.New("over the limit")
	}
	return nil
}

func FuzzWalker(f *testing.F) {
	archivetest.Seeds(f, 16<<10, "tree.tar", "tree-pax.tar", "sparse-gnu.tar", "sparse-pax.tar")
	f.Fuzz(func(t *testing.T, data []byte) {
		// A sparse member's holes are metered: reading them must stop at
		// the meter's limit, whatever the sparse map claims.
		w := NewMeteredWalker(bytes.NewReader(data), &cappedMeter{max: 1 << 20})
		_ = archivetest.Exercise(w, 64<<10, 1000)
	})
}
