package rpm

import (
	"bytes"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/archive/archivetest"
)

func FuzzWalker(f *testing.F) {
	archivetest.Seeds(f, 32<<10, "hello-gzip.rpm", "hello-zstd.rpm", "hello-xz.rpm")
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = archivetest.Exercise(NewWalker(bytes.NewReader(data), nil), 64<<10, 1000)
	})
}
