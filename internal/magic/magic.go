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
	"sync"
)

// Formats, the values of a source record's "format" field.
const (
	Deb           = "deb"
	RPM           = "rpm"
	Zip           = "zip"
	Tar           = "tar"
	ISO9660       = "iso9660"
	UDF           = "udf"
	Disk          = "disk" // a raw disk image (MBR, GPT) or a bare file system
	QCOW2         = "qcow2"
	VMDK          = "vmdk"
	VHD           = "vhd"
	VHDX          = "vhdx"
	WIM           = "wim"
	Cab           = "cab"
	Squashfs      = "squashfs"
	SevenZip      = "7z"
	Cpio          = "cpio"
	Ar            = "ar"
	DockerArchive = "docker-archive"
	OCI           = "oci"
	MSI           = "msi" // Windows Installer package, patch or transform
	OLE           = "ole" // another OLE compound file (structured storage)
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

// Formats lists every format Detect can return, in a fixed order.
func Formats() []string {
	return []string{Deb, RPM, Zip, Tar, ISO9660, UDF, Disk, QCOW2, VMDK, VHD, VHDX,
		WIM, Cab, Squashfs, SevenZip, Cpio, Ar, DockerArchive, OCI, MSI, OLE}
}

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
const HeadSize = 64 << 10

// tailSize is how much of a file's end Detect reads: a VHD footer.
const tailSize = 512

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
	buf := getHeadBuffer()
	defer putHeadBuffer(buf)
	h := &header{size: size}
	h.head = readAtMost(src, 0, *buf, size)
	if size >= tailSize {
		h.tail = readAtMost(src, size-tailSize, make([]byte, tailSize), size)
	}
	if f := detectPlain(h); f != "" {
		if f == Tar {
			f = classifyTar(io.NewSectionReader(src, 0, sizeOrMax(size)))
		}
		return Result{Format: f}
	}
	if c := compressionOf(h.head); c != nil {
		return detectCompressed(src, size, c)
	}
	return Result{}
}

// header holds the bytes the checks look at.
type header struct {
	head []byte // the first HeadSize bytes, or fewer for a small file
	tail []byte // the last tailSize bytes; nil when the size is unknown
	size int64  // the file's size; below zero when unknown
}

// check is one format test.
type check struct {
	format string
	test   func(*header) bool
}

// checks runs in order; the first that matches wins. The order matters:
//   - UDF before ISO 9660: a UDF bridge disc also carries CD001.
//   - optical discs before disks: a hybrid ISO also carries an MBR.
//   - VHD (a footer after raw disk bytes) before disks.
//   - deb before ar: a deb is an ar archive.
//   - tar late: its only test is a header checksum.
var checks = []check{
	{UDF, isUDF},
	{ISO9660, isISO9660},
	{QCOW2, isQCOW2},
	{VHDX, isVHDX},
	{VMDK, isVMDK},
	{VHD, isVHD},
	{WIM, isWIM},
	{Cab, isCab},
	{MSI, isMSI},
	{OLE, isOLE},
	{Squashfs, isSquashfs},
	{SevenZip, is7z},
	{RPM, isRPM},
	{Deb, isDeb},
	{Ar, isAr},
	{Zip, isZip},
	{Cpio, isCpio},
	{Tar, isTar},
	{Disk, isDisk},
}

// detectPlain runs the checks on uncompressed bytes.
func detectPlain(h *header) string {
	for _, c := range checks {
		if c.test(h) {
			return c.format
		}
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

// readAtMost reads up to len(buf) bytes at off into buf, fewer at the end
// of the file, and returns what it read.
func readAtMost(r io.ReaderAt, off int64, buf []byte, size int64) []byte {
	if size >= 0 && off+int64(len(buf)) > size {
		buf = buf[:max(size-off, 0)]
	}
	got, _ := r.ReadAt(buf, off)
	return buf[:got]
}

// headBuffers recycles the HeadSize buffers: a scan detects the format of
// every file it walks, and most are not sources.
var headBuffers = sync.Pool{New: func() any { b := make([]byte, HeadSize); return &b }}

func getHeadBuffer() *[]byte { return headBuffers.Get().(*[]byte) }

func putHeadBuffer(b *[]byte) { headBuffers.Put(b) }

func sizeOrMax(size int64) int64 {
	if size < 0 {
		return 1<<63 - 1
	}
	return size
}

// at returns the n bytes at off in b, or nil when b is too short.
func at(b []byte, off, n int) []byte {
	if off < 0 || n < 0 || off+n > len(b) {
		return nil
	}
	return b[off : off+n]
}

// hasAt reports whether b holds s at off.
func hasAt(b []byte, off int, s string) bool {
	return string(at(b, off, len(s))) == s && len(s) > 0
}
