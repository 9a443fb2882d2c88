package ar

import (
	"bytes"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/archive/archivetest"
)

func FuzzWalker(f *testing.F) {
	archivetest.Seeds(f, 8<<10, "tree.a", "hello-none.deb")
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = archivetest.Exercise(NewWalker(bytes.NewReader(data)), 64<<10, 1000)
	})
}
