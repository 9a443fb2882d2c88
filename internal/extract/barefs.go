package extract

import (
	"io"

	"github.com/hashr-dev/hashr/internal/formats/archive"
	"github.com/hashr-dev/hashr/internal/formats/exfat"
	"github.com/hashr-dev/hashr/internal/formats/fat"
	"github.com/hashr-dev/hashr/internal/formats/ntfs"
)

// A bare file system (an NTFS, exFAT or FAT image without a partition
// table), which magic calls a disk, is walked here until the disk walker
// (volume systems, ext4, XFS, --system-files) takes disks over: that
// walker probes each volume's file system itself, and this dispatch then
// goes.

// bareFileSystem returns a walker over the file system in f, and its
// name, or nil when f holds none of these.
func bareFileSystem(f io.ReaderAt, size int64) (archive.Walker, string, error) {
	probes := []struct {
		name  string
		probe func(io.ReaderAt, int64) bool
		open  func(io.ReaderAt, int64) (archive.Walker, error)
	}{
		{"ntfs", ntfs.Probe, ntfs.NewWalker},
		{"exfat", exfat.Probe, exfat.NewWalker},
		{"fat", fat.Probe, fat.NewWalker},
	}
	for _, p := range probes {
		if p.probe(f, size) {
			w, err := p.open(f, size)
			if err != nil {
				return nil, p.name, err
			}
			return skipSystem{w}, p.name, nil
		}
	}
	return nil, "", nil
}

// skipSystem leaves out file-system bookkeeping (NTFS metafiles), which
// is no file of the image's software.
type skipSystem struct{ archive.Walker }

func (s skipSystem) Next() (*archive.Entry, error) {
	for {
		e, err := s.Walker.Next()
		if err != nil || !e.System {
			return e, err
		}
	}
}

func (s skipSystem) Close() error { return archive.Close(s.Walker) }
