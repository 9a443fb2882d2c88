package deb

import (
	"bytes"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/archive/archivetest"
)

func FuzzWalker(f *testing.F) {
	archivetest.Seeds(f, 32<<10, "hello-none.deb", "hello-gzip.deb", "hello-zstd.deb", "hello-lzma.deb")
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = archivetest.Exercise(NewWalker(bytes.NewReader(data), Options{Control: true}), 64<<10, 1000)
	})
}
