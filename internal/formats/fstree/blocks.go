package fstree

import (
	"fmt"
	"io"

	"github.com/hashr-dev/hashr/internal/formats/archive"
)

// Hole is a Run's Offset when its blocks are stored nowhere: they read
// as zeros (a sparse file's hole, an unwritten extent).
const Hole = -1

// Run is Count blocks of a file from its logical block Logical on, stored
// from image offset Offset on (Hole: read as zeros). ToEnd marks a hole
// that runs to the end of the file, whatever its size.
type Run struct {
	Logical, Count uint64
	Offset         int64
	ToEnd          bool
}

func (r Run) holds(logical uint64) bool {
	return logical >= r.Logical && logical < r.Logical+r.Count
}

// BlockReader reads the Size bytes of a file whose blocks Find maps, a
// run of blocks at a time, holes as zeros: the file data of the readers
// whose files are block runs (ext4's extents and block maps, xfs's
// extents).
type BlockReader struct {
	Format    string // for errors
	BlockSize uint64
	Size      uint64
	Pos       uint64 // the offset in the file of the next byte read
	// Find returns the run that holds logical block n.
	Find func(n uint64) (Run, error)
	// ReadAt fills p from the image at off.
	ReadAt func(p []byte, off int64) error

	cur Run
}

func (r *BlockReader) Read(p []byte) (int, error) {
	if r.Pos >= r.Size {
		return 0, io.EOF
	}
	bs := r.BlockSize
	logical := r.Pos / bs
	if !r.cur.holds(logical) {
		var err error
		if r.cur, err = r.Find(logical); err != nil {
			r.cur = Run{} // found again, failing again, on the next Read
			return 0, err
		}
		if !r.cur.holds(logical) {
			return 0, archive.Corrupt(r.Format, -1, fmt.Sprintf("block map does not hold logical block %d", logical))
		}
	}
	end := r.Size
	if !r.cur.ToEnd {
		end = min(r.Size, (r.cur.Logical+r.cur.Count)*bs)
	}
	if end <= r.Pos { // a run's end past 2^64 bytes wraps around
		return 0, archive.Corrupt(r.Format, -1, fmt.Sprintf("run at logical block %d ends past any file's size", logical))
	}
	n := min(uint64(len(p)), end-r.Pos)
	if r.cur.Offset == Hole {
		clear(p[:n])
	} else if err := r.ReadAt(p[:n], r.cur.Offset+int64((logical-r.cur.Logical)*bs+r.Pos%bs)); err != nil {
		return 0, err
	}
	r.Pos += n
	return int(n), nil
}
