// Package decompress opens the compressed streams hashr meets around
// archives and inside packages (gzip, bzip2, xz, zstd, lz4, lzma), chosen
// by their magic bytes. xz, the bottleneck for Debian packages, is decoded
// by a program when one is on PATH (7-Zip's 7zz, else xz): they are two to
// three times as fast as pure Go and run on other cores; the output is the
// same either way.
package decompress

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math/bits"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"

	"compress/bzip2"
)

// Method is a compression method, named as users and file suffixes name it.
type Method string

const (
	None  Method = ""
	Gzip  Method = "gzip"
	Bzip2 Method = "bzip2"
	XZ    Method = "xz"
	Zstd  Method = "zstd"
	LZ4   Method = "lz4"
	LZMA  Method = "lzma"
)

// MaxDictSize bounds the dictionary (window) a stream may ask for, so a
// hostile header cannot make a decoder reserve gigabytes. Real software
// stays far below: xz -9 uses 64 MiB, zstd --ultra -22 128 MiB.
const MaxDictSize = 512 << 20

// DictTooLargeError is a stream whose header asks for a dictionary over
// MaxDictSize. It is refused before anything is decoded: the stream may
// be sound (xz decodes it, given the memory), so callers report it as
// what it is, not as corruption.
type DictTooLargeError struct {
	Method Method
	Size   int64 // bytes the stream asks for
}

func (e *DictTooLargeError) Error() string {
	return fmt.Sprintf("%s: the stream asks for a dictionary of %d MiB, over the limit of %d MiB: not decoded (a decoder would reserve that much memory)",
		e.Method, e.Size>>20, MaxDictSize>>20)
}

// HeadSize is how many leading bytes Detect needs.
const HeadSize = 16

var (
	gzipMagic  = []byte{0x1f, 0x8b}
	bzip2Magic = []byte("BZh")
	xzMagic    = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
	zstdMagic  = []byte{0x28, 0xb5, 0x2f, 0xfd}
	lz4Magic   = []byte{0x04, 0x22, 0x4d, 0x18}
	lz4Legacy  = []byte{0x02, 0x21, 0x4c, 0x18} // lz4 -l, the Linux kernel's
)

// Detect names the compression of a stream from its first bytes, or None.
// Legacy .lzma has no magic number; it is recognised by a plausible header
// (properties byte 0x5d, a power-of-two dictionary, an unknown or sane
// size), which is what lzma(1) writes.
func Detect(head []byte) Method {
	switch {
	case bytes.HasPrefix(head, gzipMagic) && len(head) > 2 && head[2] == 8:
		return Gzip
	case bytes.HasPrefix(head, bzip2Magic) && len(head) > 3 && '1' <= head[3] && head[3] <= '9':
		return Bzip2
	case bytes.HasPrefix(head, xzMagic):
		return XZ
	case bytes.HasPrefix(head, zstdMagic):
		return Zstd
	case bytes.HasPrefix(head, lz4Magic), bytes.HasPrefix(head, lz4Legacy):
		return LZ4
	case looksLikeLZMA(head):
		return LZMA
	}
	return None
}

func looksLikeLZMA(head []byte) bool {
	if len(head) < 13 || head[0] != 0x5d {
		return false
	}
	dict := binary.LittleEndian.Uint32(head[1:5])
	size := binary.LittleEndian.Uint64(head[5:13])
	return dict >= 1<<12 && bits.OnesCount32(dict) == 1 && (size == ^uint64(0) || size < 1<<48)
}

// ForSuffix names the method a file-name suffix stands for, for members
// such as a .deb's data.tar.xz whose name says what they hold.
func ForSuffix(suffix string) (Method, bool) {
	switch suffix {
	case "":
		return None, true
	case ".gz":
		return Gzip, true
	case ".bz2":
		return Bzip2, true
	case ".xz":
		return XZ, true
	case ".zst":
		return Zstd, true
	case ".lz4":
		return LZ4, true
	case ".lzma":
		return LZMA, true
	}
	return None, false
}

// Suffix is the usual file-name suffix of m (".gz"), "" for None.
func (m Method) Suffix() string {
	switch m {
	case Gzip:
		return ".gz"
	case Bzip2:
		return ".bz2"
	case XZ:
		return ".xz"
	case Zstd:
		return ".zst"
	case LZ4:
		return ".lz4"
	case LZMA:
		return ".lzma"
	}
	return ""
}

// NewReader returns the decompressed bytes of r. Close releases the
// decoder (and ends an xz process); it does not close r.
func NewReader(m Method, r io.Reader) (io.ReadCloser, error) {
	switch m {
	case None:
		return io.NopCloser(r), nil
	case Gzip:
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", eofIsTruncation(err))
		}
		return zr, nil
	case Bzip2:
		return io.NopCloser(bzip2.NewReader(r)), nil
	case XZ:
		if prog, path := findXZProgram(); prog != nil {
			return newXZProcess(prog, path, r)
		}
		return newXZReader(r)
	case Zstd:
		zr, err := zstd.NewReader(r,
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderMaxWindow(MaxDictSize),
			zstd.WithDecoderMaxMemory(1<<40), // output is bounded by the caller's limits, not here
			zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		return zstdCloser{zr}, nil
	case LZ4:
		return io.NopCloser(lz4.NewReader(r)), nil
	case LZMA:
		zr, err := lzma.ReaderConfig{DictCap: MaxDictSize}.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("lzma: %w", eofIsTruncation(err))
		}
		return io.NopCloser(zr), nil
	}
	return nil, fmt.Errorf("unknown compression method %q", string(m))
}

// NewSmallReader is NewReader for a stream known to be small (a .deb's
// control member): xz is decoded in this process, where starting an xz
// program costs more than the decoding (hashr-scan took 5.5 times the
// CPU of a scan that read no control member, bench/identity.sh).
//
// Its xz dictionary is at most smallDict: the decoder allocates and
// clears what the stream's header asks for (8 to 64 MiB for dpkg-deb's
// presets) though a control member is a few KiB, and a match can never
// reach further back than the bytes decoded so far. A stream that does
// reach further than smallDict fails (the decoder checks every
// distance), it is never decoded wrong.
func NewSmallReader(m Method, r io.Reader) (io.ReadCloser, error) {
	if m == XZ {
		return newXZReaderDict(r, smallDict)
	}
	return NewReader(m, r)
}

// smallDict is the dictionary NewSmallReader decodes xz with, and
// smallDictCode its LZMA2 property byte (2 << (16/2 + 11) = 1 MiB).
const (
	smallDict     = 1 << 20
	smallDictCode = 16
)

type zstdCloser struct{ *zstd.Decoder }

func (z zstdCloser) Close() error { z.Decoder.Close(); return nil }

func eofIsTruncation(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// newXZReader is the pure-Go xz decoder, after a check of the first
// block's dictionary size (the library would allocate whatever it says).
func newXZReader(r io.Reader) (io.ReadCloser, error) { return newXZReaderDict(r, 0) }

// newXZReaderDict is newXZReader with the first block's dictionary cut to
// maxDict (smallDict) when it is larger; 0 keeps it.
func newXZReaderDict(r io.Reader, maxDict int64) (io.ReadCloser, error) {
	r, err := checkXZDict(r, maxDict)
	if err != nil {
		return nil, err
	}
	zr, err := xz.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("xz: %w", eofIsTruncation(err))
	}
	return io.NopCloser(zr), nil
}

// checkXZDict refuses an xz stream whose first block asks for a dictionary
// over MaxDictSize, and returns the stream again, whole; with shrinkTo
// (smallDict) a larger dictionary is cut to it, in the block header and
// its CRC32.
func checkXZDict(r io.Reader, shrinkTo int64) (io.Reader, error) {
	var head [12 + 1024]byte
	n, err := io.ReadFull(r, head[:12+1])
	if err != nil {
		return nil, fmt.Errorf("xz: %w", eofIsTruncation(err))
	}
	// The block header's size byte follows the 12-byte stream header.
	hsize := int(head[12])*4 + 4
	if head[12] != 0 {
		m, err := io.ReadFull(r, head[n:12+hsize])
		n += m
		if err != nil {
			return nil, fmt.Errorf("xz: %w", eofIsTruncation(err))
		}
		dict, at, ok := lzma2Dict(head[12 : 12+hsize])
		if ok && dict > MaxDictSize {
			return nil, &DictTooLargeError{Method: XZ, Size: dict}
		}
		if ok && shrinkTo == smallDict && dict > smallDict {
			block := head[12 : 12+hsize]
			block[at] = smallDictCode
			binary.LittleEndian.PutUint32(block[hsize-4:], crc32.ChecksumIEEE(block[:hsize-4]))
		}
	}
	return io.MultiReader(bytes.NewReader(head[:n]), r), nil
}

// lzma2Dict finds the LZMA2 filter's dictionary size in an xz block
// header, and where its property byte is.
func lzma2Dict(h []byte) (size int64, at int, ok bool) {
	if len(h) < 2 {
		return 0, 0, false
	}
	flags := h[1]
	p := 2
	uvarint := func() (uint64, bool) {
		v, n := binary.Uvarint(h[p:])
		if n <= 0 {
			return 0, false
		}
		p += n
		return v, true
	}
	if flags&0x40 != 0 {
		if _, ok := uvarint(); !ok {
			return 0, 0, false
		}
	}
	if flags&0x80 != 0 {
		if _, ok := uvarint(); !ok {
			return 0, 0, false
		}
	}
	for range int(flags&3) + 1 {
		id, ok := uvarint()
		if !ok {
			return 0, 0, false
		}
		size, ok := uvarint()
		if !ok || uint64(len(h)-p) < size {
			return 0, 0, false
		}
		if id == 0x21 && size == 1 {
			b := h[p] & 0x3f
			if b > 40 {
				return 1 << 40, p, true
			}
			if b == 40 {
				return 1<<32 - 1, p, true
			}
			return int64(2|b&1) << (b/2 + 11), p, true
		}
		p += int(size)
	}
	return 0, 0, false
}
