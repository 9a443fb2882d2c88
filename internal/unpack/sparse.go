package unpack

import (
	"bytes"
	"fmt"
	"io"
	"os"
)

// sparseBlock is the unit of zeros a sparseWriter leaves as a hole.
const sparseBlock = 64 << 10

var zeroBlock [sparseBlock]byte

// sparseWriter writes a spooled member or a temporary copy of one,
// leaving holes where blocks of zeros go by: a raw disk image (GCE's
// disk.raw in its .tar.gz) or a sparse tar member is mostly zeros, and
// its copy then takes the space of its data only. It checks the spool's
// free space as it goes.
type sparseWriter struct {
	f    *os.File
	off  int64
	s    *unpacker
	what string // what a failed write was doing, for its error
}

// sparse returns a writer of the temporary copy f, from its start, for
// finishSparse.
func (s *unpacker) sparse(f *os.File) io.Writer {
	return &sparseWriter{f: f, s: s, what: "writing a temporary copy"}
}

// sparseSpool returns a writer of the spooled member f, from its start;
// f.Truncate gives it its full size.
func (s *unpacker) sparseSpool(f *os.File) io.Writer {
	return &sparseWriter{f: f, s: s, what: "spooling"}
}

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
				return 0, fmt.Errorf("%s: %w", w.what, err)
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
