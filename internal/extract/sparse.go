package extract

import (
	"bytes"
	"fmt"
	"io"
	"os"
)

// sparseBlock is the unit of zeros a temporary copy leaves as a hole.
const sparseBlock = 64 << 10

var zeroBlock [sparseBlock]byte

// sparseWriter writes a temporary copy of a member, leaving holes where
// blocks of zeros go by: a raw disk image (GCE's disk.raw in its
// .tar.gz) is mostly zeros, and its copy then takes the space of its data
// only. It checks the spool's free space as it goes.
type sparseWriter struct {
	f   *os.File
	off int64
	s   *sourceRun
}

// sparse returns a writer of f, from its start, for finishSparse.
func (s *sourceRun) sparse(f *os.File) io.Writer { return &sparseWriter{f: f, s: s} }

func (w *sparseWriter) Write(p []byte) (int, error) {
	w.s.sinceFreeCheck += int64(len(p))
	if w.s.sinceFreeCheck >= freeCheckEvery {
		if err := w.s.checkFree(); err != nil {
			return 0, err
		}
	}
	n := len(p)
	for len(p) > 0 {
		chunk := p[:min(len(p), sparseBlock)]
		if !bytes.Equal(chunk, zeroBlock[:len(chunk)]) {
			if _, err := w.f.WriteAt(chunk, w.off); err != nil {
				return 0, fmt.Errorf("writing a temporary copy: %w", err)
			}
		}
		w.off += int64(len(chunk))
		p = p[len(chunk):]
	}
	return n, nil
}

// finishSparse gives a copy written by a sparseWriter its full size,
// zeros at its end included.
func finishSparse(f *os.File, size int64) error {
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("writing a temporary copy: %w", err)
	}
	return nil
}
