package magic

import (
	"bytes"
	"compress/bzip2"
	"encoding/binary"
	"hash/crc32"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"

	"github.com/hashr-dev/hashr/internal/formats"
)

// A compressed file is a source when what it holds is: a tar (then maybe a
// docker archive or an OCI layout), a disk image, an ISO... Its decompressed
// head is checked like a plain file's; a compressed stream inside is not
// looked into.

// maxDictSize bounds the dictionary an xz or lzma decoder allocates (it
// allocates what the header asks for, up to 4 GiB): 8 MiB, what the default
// "xz -6" uses. The head never reaches further back than that; a tar walk
// past 8 MiB of a stream made with a bigger dictionary may fail, and the
// file is then just a tar.
const maxDictSize = 8 << 20

// maxZstdWindow is the largest zstd window decoded, the reference zstd
// tool's default limit.
const maxZstdWindow = 1 << 27

// MaxTarWalk bounds how many decompressed bytes of a compressed tar are
// read looking for a docker archive's manifest.json or an OCI layout's
// files; past it the tar is just a tar.
const MaxTarWalk = 64 << 20

// codec is one compression format.
type codec struct {
	name string
	// open returns a reader of the decompressed stream.
	open func(io.Reader) (io.ReadCloser, error)
}

// compressionOf returns the codec whose signature head starts with.
func compressionOf(head []byte) *codec {
	switch {
	case hasAt(head, 0, "\x1f\x8b\x08"):
		return &codec{Gzip, openGzip}
	case hasAt(head, 0, "BZh") && len(head) >= 10 && head[3] >= '1' && head[3] <= '9' &&
		(hasAt(head, 4, "\x31\x41\x59\x26\x53\x59") || hasAt(head, 4, "\x17\x72\x45\x38\x50\x90")):
		return &codec{Bzip2, openBzip2}
	case hasAt(head, 0, "\xfd7zXZ\x00"):
		return &codec{XZ, openXZ}
	case hasAt(head, 0, "\x28\xb5\x2f\xfd"), isZstdSkippable(head):
		return &codec{Zstd, openZstd}
	case hasAt(head, 0, "\x04\x22\x4d\x18"), hasAt(head, 0, "\x02\x21\x4c\x18"):
		return &codec{LZ4, openLZ4}
	case isLZMAHeader(head):
		return &codec{LZMA, openLZMA}
	}
	return nil
}

// detectCompressed decompresses the head of a compressed file and checks
// what is inside.
func detectCompressed(src io.ReaderAt, size int64, c *codec) (res Result) {
	defer func() {
		// The decoders are third-party code fed hostile bytes: a panic in
		// one means "not a format we know", not a crashed scan.
		if recover() != nil {
			res = Result{}
		}
	}()
	r, err := c.open(io.NewSectionReader(src, 0, sizeOrMax(size)))
	if err != nil {
		return Result{}
	}
	defer r.Close()
	buf := formats.GetHeadBuffer()
	defer formats.PutHeadBuffer(buf)
	head, err := readCompressedHead(r, *buf)
	if err != nil {
		return Result{}
	}
	f := detectPlain(formats.HeadOf(head))
	switch f {
	case "":
		return Result{}
	case Tar:
		rest := io.MultiReader(bytes.NewReader(head), r)
		f = classifyTar(io.LimitReader(rest, MaxTarWalk))
	}
	return Result{Format: f, Compression: c.name}
}

// textProbeSize is how much of a compressed stream is decompressed first.
const textProbeSize = 8 << 10

// readCompressedHead decompresses up to HeadSize bytes, but stops at
// textProbeSize when those hold no NUL byte: text then (a gzipped man page
// or changelog, the common case), and a format that needs more than 8 KiB
// to tell (an ISO's volume descriptors at 32 KiB) has NULs before that.
func readCompressedHead(r io.Reader, head []byte) ([]byte, error) {
	n, err := io.ReadFull(r, head[:textProbeSize])
	if err == nil && bytes.IndexByte(head[:n], 0) >= 0 {
		var more int
		more, err = io.ReadFull(r, head[n:])
		n += more
	}
	if n == 0 {
		return nil, err
	}
	return head[:n], nil
}

func isZstdSkippable(head []byte) bool {
	b := at(head, 0, 4)
	return b != nil && binary.LittleEndian.Uint32(b)&0xfffffff0 == 0x184d2a50
}

// isLZMAHeader recognises the 13-byte header of a .lzma file, which has no
// magic: a properties byte, a dictionary size that lzma would choose (2^n
// or 2^n+2^(n-1)), and an uncompressed size that is unknown (all ones) or
// plausible. Decompressing the head confirms it.
func isLZMAHeader(head []byte) bool {
	b := at(head, 0, 13)
	if b == nil || b[0] >= 9*5*5 {
		return false
	}
	dict := binary.LittleEndian.Uint32(b[1:])
	third := dict / 3
	if dict < 1<<12 || dict&(dict-1) != 0 && (dict%3 != 0 || third&(third-1) != 0) {
		return false
	}
	size := binary.LittleEndian.Uint64(b[5:])
	return size == ^uint64(0) || size < 1<<50
}

// gzipReaders recycles gzip readers (and their 32 KiB windows): there are
// many small .gz files about.
var gzipReaders sync.Pool

func openGzip(r io.Reader) (io.ReadCloser, error) {
	if zr, ok := gzipReaders.Get().(*gzip.Reader); ok {
		if err := zr.Reset(r); err != nil {
			return nil, err
		}
		return pooledGzip{zr}, nil
	}
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, err
	}
	return pooledGzip{zr}, nil
}

type pooledGzip struct{ *gzip.Reader }

func (p pooledGzip) Close() error {
	err := p.Reader.Close()
	gzipReaders.Put(p.Reader)
	return err
}

func openBzip2(r io.Reader) (io.ReadCloser, error) { return io.NopCloser(bzip2.NewReader(r)), nil }

func openLZ4(r io.Reader) (io.ReadCloser, error) { return io.NopCloser(lz4.NewReader(r)), nil }

func openZstd(r io.Reader) (io.ReadCloser, error) {
	d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(maxZstdWindow))
	if err != nil {
		return nil, err
	}
	return zstdCloser{d}, nil
}

type zstdCloser struct{ *zstd.Decoder }

func (z zstdCloser) Close() error { z.Decoder.Close(); return nil }

// openLZMA caps the dictionary size in the header at maxDictSize: the head
// and the bounded tar walk never reach further back than that.
func openLZMA(r io.Reader) (io.ReadCloser, error) {
	hdr := make([]byte, 13)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, err
	}
	if binary.LittleEndian.Uint32(hdr[1:]) > maxDictSize {
		binary.LittleEndian.PutUint32(hdr[1:], maxDictSize)
	}
	lr, err := lzma.ReaderConfig{DictCap: maxDictSize}.NewReader(io.MultiReader(bytes.NewReader(hdr), r))
	if err != nil {
		return nil, err
	}
	return io.NopCloser(lr), nil
}

// openXZ caps the dictionary size of the first block's LZMA2 filter at
// maxDictSize (fixing up the block header's CRC), since the decoder
// allocates whatever the header asks for.
func openXZ(r io.Reader) (io.ReadCloser, error) {
	// Stream header (12 bytes), then the first block header, at most 1024.
	start := make([]byte, 12+1024)
	n, err := io.ReadFull(r, start)
	if err != nil && err != io.ErrUnexpectedEOF {
		return nil, err
	}
	start = start[:n]
	capXZDict(start)
	xr, err := xz.NewReader(io.MultiReader(bytes.NewReader(start), r))
	if err != nil {
		return nil, err
	}
	return io.NopCloser(xr), nil
}

// maxXZDictByte encodes maxDictSize as an LZMA2 dictionary property.
const maxXZDictByte = 22 // 2^(22/2+12) = 8 MiB

func capXZDict(b []byte) {
	const blockStart = 12
	if len(b) <= blockStart || b[blockStart] == 0 { // 0: an index, no block
		return
	}
	size := (int(b[blockStart]) + 1) * 4
	blk := at(b, blockStart, size)
	if blk == nil {
		return
	}
	flags := blk[1]
	pos := 2
	skipVarint := func() bool {
		for pos < size-4 {
			c := blk[pos]
			pos++
			if c&0x80 == 0 {
				return true
			}
		}
		return false
	}
	readVarint := func() (uint64, bool) {
		var v uint64
		for shift := 0; pos < size-4 && shift < 63; shift += 7 {
			c := blk[pos]
			pos++
			v |= uint64(c&0x7f) << shift
			if c&0x80 == 0 {
				return v, true
			}
		}
		return 0, false
	}
	if flags&0x40 != 0 && !skipVarint() {
		return
	}
	if flags&0x80 != 0 && !skipVarint() {
		return
	}
	for range int(flags&3) + 1 {
		id, ok1 := readVarint()
		propSize, ok2 := readVarint()
		if !ok1 || !ok2 || propSize > uint64(size) {
			return
		}
		if id == 0x21 && propSize == 1 && pos < size-4 {
			if blk[pos] > maxXZDictByte && blk[pos] <= 40 {
				blk[pos] = maxXZDictByte
				binary.LittleEndian.PutUint32(blk[size-4:], crc32.ChecksumIEEE(blk[:size-4]))
			}
			return
		}
		pos += int(propSize)
	}
}
