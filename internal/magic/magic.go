// Package magic tells what format a file is in from its bytes, never its
// name: hashr-scan uses it to find sources, hashr-extract to choose a
// reader. It reads little (the first 64 KiB and the last 512 bytes, plus a
// bounded walk of tar headers) and trusts nothing it reads: every check
// validates what it can (checksums, partition tables, version fields)
// rather than trusting a magic number alone.
package magic

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/hashr-dev/hashr/internal/formats"
)

// Formats, the values of a source record's "format" field: the names of
// package formats' table.
const (
	Deb           = formats.Deb
	RPM           = formats.RPM
	Zip           = formats.Zip
	Tar           = formats.Tar
	ISO9660       = formats.ISO9660
	UDF           = formats.UDF
	Disk          = formats.Disk
	QCOW2         = formats.QCOW2
	VMDK          = formats.VMDK
	VHD           = formats.VHD
	VHDX          = formats.VHDX
	WIM           = formats.WIM
	Cab           = formats.Cab
	Squashfs      = formats.Squashfs
	SevenZip      = formats.SevenZip
	Cpio          = formats.Cpio
	Ar            = formats.Ar
	DockerArchive = formats.DockerArchive
	OCI           = formats.OCI
	MSI           = formats.MSI
	OLE           = formats.OLE
)

// Compressions, the values of Result.Compression.
const (
	Gzip  = "gzip"
	Bzip2 = "bzip2"
	XZ    = "xz"
	Zstd  = "zstd"
	LZ4   = "lz4"
	LZMA  = "lzma"
)

// Formats lists every format Detect can return, in the table's order.
func Formats() []string { return formats.Names() }

// IsFormat reports whether name is one of Formats.
func IsFormat(name string) bool {
	for _, f := range Formats() {
		if f == name {
			return true
		}
	}
	return false
}

// Result is what Detect found.
type Result struct {
	// Format is one of the format constants, or "" when the bytes are of
	// no known format.
	Format string
	// Compression is the compression around Format ("" when none): a
	// gzipped tar is Format "tar", Compression "gzip".
	Compression string
}

// Known reports whether a format was recognised.
func (r Result) Known() bool { return r.Format != "" }

func (r Result) String() string {
	switch {
	case r.Format == "":
		return "unknown"
	case r.Compression == "":
		return r.Format
	default:
		return r.Format + "+" + r.Compression
	}
}

// HeadSize is how much of a file's start Detect reads: enough for the ISO
// 9660 and UDF volume descriptors at 32 KiB and after.
const HeadSize = formats.HeadSize

// Detect tells the format of the size bytes of r. It returns an error only
// when r fails to read; bytes of no known format give a Result with an
// empty Format. A size below zero means unknown (then the file's end is
// not looked at).
func Detect(r io.ReaderAt, size int64) (Result, error) {
	src := &errReaderAt{r: r}
	res := detect(src, size)
	if src.err != nil {
		return Result{}, fmt.Errorf("reading: %w", src.err)
	}
	return res, nil
}

// DetectBytes tells the format of data, a whole file held in memory.
func DetectBytes(data []byte) Result {
	res, _ := Detect(bytes.NewReader(data), int64(len(data)))
	return res
}

func detect(src *errReaderAt, size int64) Result {
	h := formats.ReadHead(src, size)
	defer h.Release()
	if f := detectPlain(h); f != "" {
		if f == Tar {
			f = classifyTar(io.NewSectionReader(src, 0, sizeOrMax(size)))
		}
		return Result{Format: f}
	}
	if c := compressionOf(h.Head); c != nil {
		return detectCompressed(src, size, c)
	}
	return Result{}
}

// detectPlain runs the table's detectors on uncompressed bytes.
func detectPlain(h *formats.Head) string {
	if f := formats.Detect(h); f != nil {
		return f.Name
	}
	return ""
}

// errReaderAt remembers the first read error that is not the end of the
// file, so a failing disk is reported rather than taken for "no format".
type errReaderAt struct {
	r   io.ReaderAt
	err error
}

func (e *errReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := e.r.ReadAt(p, off)
	if err != nil && !errors.Is(err, io.EOF) && e.err == nil {
		e.err = err
	}
	return n, err
}

func sizeOrMax(size int64) int64 {
	if size < 0 {
		return 1<<63 - 1
	}
	return size
}

// at returns the n bytes at off in b, or nil when b is too short.
func at(b []byte, off, n int) []byte { return formats.At(b, off, n) }

// hasAt reports whether b holds s at off.
func hasAt(b []byte, off int, s string) bool { return formats.HasAt(b, off, s) }
