package squashfs

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

// Compressor ids of the superblock.
const (
	compGzip = 1 + iota
	compLZMA
	compLZO
	compXZ
	compLZ4
	compZstd
)

// decompressor decodes one block into out, whose length is the most the
// block may decode to, and returns how many bytes it wrote.
type decompressor interface {
	decode(out, in []byte) (int, error)
}

func newDecompressor(id uint16) (decompressor, error) {
	switch id {
	case compGzip:
		return &streamDecoder{open: func(r io.Reader) (io.Reader, error) { return zlib.NewReader(r) }}, nil
	case compLZMA:
		return &streamDecoder{open: func(r io.Reader) (io.Reader, error) { return lzma.NewReader(r) }}, nil
	case compXZ:
		return &streamDecoder{open: func(r io.Reader) (io.Reader, error) {
			return xz.ReaderConfig{SingleStream: true}.NewReader(r)
		}}, nil
	case compLZO:
		return lzoDecoder{}, nil
	case compLZ4:
		return lz4Decoder{}, nil
	case compZstd:
		d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(4<<20))
		if err != nil {
			return nil, err
		}
		return &zstdDecoder{d: d}, nil
	}
	return nil, fmt.Errorf("squashfs: compressor %d: %w", id, errUnknownCompressor)
}

var errUnknownCompressor = errors.New("unknown compressor id (1 gzip, 2 lzma, 3 lzo, 4 xz, 5 lz4, 6 zstd)")

var errTooBig = errors.New("block decodes to more than the block size")

// streamDecoder decodes with a stream decompressor; a block that decodes
// past len(out) is corrupt.
type streamDecoder struct {
	open func(io.Reader) (io.Reader, error)
}

func (d *streamDecoder) decode(out, in []byte) (int, error) {
	r, err := d.open(bytes.NewReader(in))
	if err != nil {
		return 0, err
	}
	n, err := io.ReadFull(r, out)
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		return n, nil
	}
	if err != nil {
		return n, err
	}
	var one [1]byte
	if m, _ := r.Read(one[:]); m > 0 {
		return n, errTooBig
	}
	return n, nil
}

type lz4Decoder struct{}

func (lz4Decoder) decode(out, in []byte) (int, error) {
	return lz4.UncompressBlock(in, out)
}

type zstdDecoder struct{ d *zstd.Decoder }

func (z *zstdDecoder) decode(out, in []byte) (int, error) {
	res, err := z.d.DecodeAll(in, out[:0])
	if err != nil {
		return 0, err
	}
	if len(res) > len(out) {
		return 0, errTooBig
	}
	if len(res) > 0 && &res[0] != &out[0] {
		copy(out, res)
	}
	return len(res), nil
}
