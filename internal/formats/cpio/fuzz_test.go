package cpio

import (
	"bytes"
	"errors"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/archive"
	"github.com/hashr-dev/hashr/internal/formats/archive/archivetest"
)

func FuzzWalker(f *testing.F) {
	archivetest.Seeds(f, 8<<10, "tree.cpio", "tree-crc.cpio", "tree-odc.cpio", "tree-bin.cpio")
	f.Add(strippedArchive())
	f.Fuzz(func(t *testing.T, data []byte) {
		w := NewWalker(bytes.NewReader(data))
		w.SetStripped(func(i uint32) (*archive.Entry, int64, error) {
			// a small file table, with a set of hard links: 1 and 2 share 3's data
			switch i {
			case 0:
				return &archive.Entry{Name: "./a", Type: archive.Regular, Size: 5}, 5, nil
			case 1, 2:
				return &archive.Entry{Name: "./l", Type: archive.Hardlink, Linkname: "./c", Size: -1}, 0, nil
			case 3:
				return &archive.Entry{Name: "./c", Type: archive.Regular, Size: 3}, 3, nil
			}
			return nil, 0, errors.New("no such file")
		})
		_ = archivetest.Exercise(w, 64<<10, 1000)
	})
}
