// Package bridge chooses which tree of a UDF disc to read: hashr-extract
// walks it and hashr-scan --split-images looks in it for the install
// image, and both must read the same one.
//
// A bridge disc carries a UDF tree and an ISO 9660 tree. The UDF tree is
// what operating systems read when a disc has one (Windows, macOS, and
// Linux's blkid and mount take such a disc as UDF), and on Microsoft's
// install media it is the only tree with the files: the ISO 9660 tree
// holds one README.TXT saying the disc needs UDF. hashr once walked the
// ISO 9660 tree of every bridge disc, only because it had no UDF reader
// then (no other reason is recorded); on a disc made by genisoimage -udf
// both trees hold the same files, so the UDF tree loses nothing there.
// The ISO 9660 tree is read only when the UDF tree does not open.
package bridge

import (
	"fmt"
	"io"

	"github.com/hashr-dev/hashr/internal/formats/archive"
	"github.com/hashr-dev/hashr/internal/formats/iso9660"
	"github.com/hashr-dev/hashr/internal/formats/udf"
)

// Tree is the tree chosen of a UDF disc.
type Tree struct {
	W      archive.Walker
	Format string // "udf" or "iso9660", as package formats names them
	// UDFErr is why the UDF tree was not read, when the ISO 9660 tree is
	// read instead: that tree may hold less than the disc (on Windows
	// media, a README alone), so callers must not take the walk as
	// whole without saying so.
	UDFErr error
}

// Open opens the tree to read of the disc in the size bytes of r, which
// magic took as UDF. It fails when neither tree opens, with the UDF
// tree's error.
func Open(r io.ReaderAt, size int64) (*Tree, error) {
	w, err := udf.NewWalker(r, size)
	if err == nil {
		return &Tree{W: w, Format: "udf"}, nil
	}
	iw, ierr := iso9660.NewWalker(r, size)
	if ierr != nil {
		return nil, err
	}
	return &Tree{W: iw, Format: "iso9660", UDFErr: fmt.Errorf("reading the UDF tree: %w", err)}, nil
}
