package decompress

import (
	"bytes"
	"io"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/archive/archivetest"
)

// FuzzGoDecoders feeds the pure-Go decoders (the xz program is not fuzzed
// here) whatever Detect recognises.
func FuzzGoDecoders(f *testing.F) {
	archivetest.Seeds(f, 4<<10, "tree.tar.gz", "tree.tar.bz2", "tree.tar.xz", "tree.tar.zst", "tree.tar.lz4", "tree.tar.lzma")
	f.Fuzz(func(t *testing.T, data []byte) {
		m := Detect(data)
		if m == None {
			return
		}
		var r io.ReadCloser
		var err error
		if m == XZ {
			r, err = newXZReader(bytes.NewReader(data))
		} else {
			r, err = NewReader(m, bytes.NewReader(data))
		}
		if err != nil {
			return
		}
		defer r.Close()
		_, _ = io.CopyN(io.Discard, r, 4<<20)
	})
}
