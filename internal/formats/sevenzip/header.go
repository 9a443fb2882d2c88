package sevenzip

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/ulikunitz/xz/lzma"
)

// checkHeader reads a 7z archive's header before github.com/bodgit/sevenzip
// does, and refuses one whose counts could not be true. The library sizes
// its tables by the counts the header states (up to 4 294 967 295 files)
// before reading them, so a 41-byte archive claiming 4 billion files makes
// it allocate 480 GB and the Go runtime end the process: no error, no
// recovery. Every count here must fit in the bytes of the header that
// states it (a file takes at least one bit of it, anything else at least a
// byte), and a header holds at most maxFiles files.
//
// An encoded (compressed) header is decoded first when it is LZMA, LZMA2
// or stored, which is what 7-Zip writes; an encrypted one is left to the
// library, which fails on it without a password.
func checkHeader(r io.ReaderAt, size int64) error {
	var sig [32]byte
	if _, err := r.ReadAt(sig[:], 0); err != nil {
		return errors.New("truncated signature header")
	}
	if !bytes.Equal(sig[:6], Magic) {
		return errors.New("not a 7z archive")
	}
	offset := binary.LittleEndian.Uint64(sig[12:20])
	length := binary.LittleEndian.Uint64(sig[20:28])
	if length == 0 {
		return nil // an empty archive
	}
	if length > maxHeader || offset > uint64(size) || 32+offset+length > uint64(size) {
		return fmt.Errorf("next header of %d bytes at %d is outside the archive", length, offset)
	}
	hdr := make([]byte, length)
	if _, err := r.ReadAt(hdr, int64(32+offset)); err != nil {
		return errors.New("truncated header")
	}
	if crc32.ChecksumIEEE(hdr) != binary.LittleEndian.Uint32(sig[28:32]) {
		return errors.New("header checksum mismatch")
	}
	for range maxEncodings {
		p := &headerParser{b: hdr}
		id, err := p.byte()
		if err != nil {
			return err
		}
		switch id {
		case idHeader:
			return p.header()
		case idEncodedHeader:
			packed, err := p.encodedHeader(r, size)
			if err != nil || packed == nil {
				return err
			}
			hdr = packed
		default:
			return fmt.Errorf("header starts with property %#x", id)
		}
	}
	return errors.New("header encoded too many times")
}

const (
	maxHeader    = 64 << 20 // bytes of a (decoded) header
	maxFiles     = 1 << 20  // files in one archive
	maxEncodings = 4

	idEnd                   = 0x00
	idHeader                = 0x01
	idArchiveProperties     = 0x02
	idAdditionalStreamsInfo = 0x03
	idMainStreamsInfo       = 0x04
	idFilesInfo             = 0x05
	idPackInfo              = 0x06
	idUnpackInfo            = 0x07
	idSubStreamsInfo        = 0x08
	idSize                  = 0x09
	idCRC                   = 0x0a
	idFolder                = 0x0b
	idCodersUnpackSize      = 0x0c
	idNumUnpackStream       = 0x0d
	idEncodedHeader         = 0x17
)

// headerParser walks the bytes of a decoded header.
type headerParser struct {
	b   []byte
	pos int
}

var errShortHeader = errors.New("header ends early")

func (p *headerParser) byte() (byte, error) {
	if p.pos >= len(p.b) {
		return 0, errShortHeader
	}
	c := p.b[p.pos]
	p.pos++
	return c, nil
}

// number reads 7z's variable-length integer.
func (p *headerParser) number() (uint64, error) {
	first, err := p.byte()
	if err != nil {
		return 0, err
	}
	var v uint64
	mask := byte(0x80)
	for i := range 8 {
		if first&mask == 0 {
			high := uint64(first) & (uint64(mask) - 1)
			return v | high<<(8*i), nil
		}
		c, err := p.byte()
		if err != nil {
			return 0, err
		}
		v |= uint64(c) << (8 * i)
		mask >>= 1
	}
	return v, nil
}

// count reads a number of things that each take at least a byte of the
// header, or with bitsEach at least a bit (files: the empty-stream vector).
func (p *headerParser) count(what string, bitsEach bool) (int, error) {
	n, err := p.number()
	if err != nil {
		return 0, err
	}
	limit := uint64(len(p.b))
	if bitsEach {
		limit *= 8
	}
	if n > limit {
		return 0, fmt.Errorf("%d %s stated in a header of %d bytes", n, what, len(p.b))
	}
	return int(n), nil
}

func (p *headerParser) skip(n uint64) error {
	if n > uint64(len(p.b)-p.pos) {
		return errShortHeader
	}
	p.pos += int(n)
	return nil
}

func (p *headerParser) expect(id byte) error {
	c, err := p.byte()
	if err != nil {
		return err
	}
	if c != id {
		return fmt.Errorf("property %#x where %#x belongs", c, id)
	}
	return nil
}

func (p *headerParser) header() error {
	id, err := p.byte()
	if err != nil {
		return err
	}
	if id == idArchiveProperties {
		for {
			t, err := p.byte()
			if err != nil {
				return err
			}
			if t == idEnd {
				break
			}
			n, err := p.number()
			if err != nil {
				return err
			}
			if err := p.skip(n); err != nil {
				return err
			}
		}
		if id, err = p.byte(); err != nil {
			return err
		}
	}
	if id == idAdditionalStreamsInfo {
		if _, err := p.streamsInfo(); err != nil {
			return err
		}
		if id, err = p.byte(); err != nil {
			return err
		}
	}
	if id == idMainStreamsInfo {
		if _, err := p.streamsInfo(); err != nil {
			return err
		}
		if id, err = p.byte(); err != nil {
			return err
		}
	}
	if id == idFilesInfo {
		n, err := p.count("files", true)
		if err != nil {
			return err
		}
		if n > maxFiles {
			return fmt.Errorf("%d files: more than the %d hashr reads from one 7z archive", n, maxFiles)
		}
		return nil // the file properties are sized by their own length fields
	}
	if id != idEnd {
		return fmt.Errorf("unexpected property %#x in the header", id)
	}
	return nil
}

// folder is what the check keeps of a folder: enough to decode an
// encoded header.
type folder struct {
	method   []byte
	props    []byte
	outputs  int
	unpacked []uint64
}

type streams struct {
	packPos   uint64
	packSizes []uint64
	folders   []*folder
}

func (p *headerParser) streamsInfo() (*streams, error) {
	s := &streams{}
	for {
		id, err := p.byte()
		if err != nil {
			return nil, err
		}
		switch id {
		case idEnd:
			return s, nil
		case idPackInfo:
			if err := p.packInfo(s); err != nil {
				return nil, err
			}
		case idUnpackInfo:
			if err := p.unpackInfo(s); err != nil {
				return nil, err
			}
		case idSubStreamsInfo:
			if err := p.subStreamsInfo(s); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("unexpected property %#x in streams info", id)
		}
	}
}

func (p *headerParser) packInfo(s *streams) error {
	var err error
	if s.packPos, err = p.number(); err != nil {
		return err
	}
	n, err := p.count("pack streams", false)
	if err != nil {
		return err
	}
	for {
		id, err := p.byte()
		if err != nil {
			return err
		}
		switch id {
		case idEnd:
			return nil
		case idSize:
			s.packSizes = make([]uint64, n)
			for i := range s.packSizes {
				if s.packSizes[i], err = p.number(); err != nil {
					return err
				}
			}
		case idCRC:
			if err := p.digests(n); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unexpected property %#x in pack info", id)
		}
	}
}

func (p *headerParser) digests(n int) error {
	all, err := p.byte()
	if err != nil {
		return err
	}
	defined := n
	if all == 0 {
		defined = 0
		for i := 0; i < n; i += 8 {
			b, err := p.byte()
			if err != nil {
				return err
			}
			for j := 0; j < 8 && i+j < n; j++ {
				if b&(0x80>>j) != 0 {
					defined++
				}
			}
		}
	}
	return p.skip(4 * uint64(defined))
}

func (p *headerParser) unpackInfo(s *streams) error {
	if err := p.expect(idFolder); err != nil {
		return err
	}
	n, err := p.count("folders", false)
	if err != nil {
		return err
	}
	if external, err := p.byte(); err != nil || external != 0 {
		if err == nil {
			err = errors.New("folders stored outside the header")
		}
		return err
	}
	s.folders = make([]*folder, n)
	for i := range s.folders {
		if s.folders[i], err = p.folder(); err != nil {
			return err
		}
	}
	if err := p.expect(idCodersUnpackSize); err != nil {
		return err
	}
	for _, f := range s.folders {
		f.unpacked = make([]uint64, f.outputs)
		for j := range f.unpacked {
			if f.unpacked[j], err = p.number(); err != nil {
				return err
			}
		}
	}
	for {
		id, err := p.byte()
		if err != nil {
			return err
		}
		switch id {
		case idEnd:
			return nil
		case idCRC:
			if err := p.digests(n); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unexpected property %#x in unpack info", id)
		}
	}
}

func (p *headerParser) folder() (*folder, error) {
	coders, err := p.count("coders", false)
	if err != nil {
		return nil, err
	}
	if coders == 0 || coders > 64 {
		return nil, fmt.Errorf("folder of %d coders", coders)
	}
	f := &folder{}
	var ins, outs int
	for range coders {
		flags, err := p.byte()
		if err != nil {
			return nil, err
		}
		if flags&0x80 != 0 {
			return nil, errors.New("alternative coder methods are not supported")
		}
		idSize := uint64(flags & 0x0f)
		if idSize > uint64(len(p.b)-p.pos) {
			return nil, errShortHeader
		}
		method := p.b[p.pos : p.pos+int(idSize)]
		p.pos += int(idSize)
		in, out := 1, 1
		if flags&0x10 != 0 {
			if in, err = p.count("coder inputs", false); err != nil {
				return nil, err
			}
			if out, err = p.count("coder outputs", false); err != nil {
				return nil, err
			}
		}
		var props []byte
		if flags&0x20 != 0 {
			n, err := p.number()
			if err != nil {
				return nil, err
			}
			if n > uint64(len(p.b)-p.pos) {
				return nil, errShortHeader
			}
			props = p.b[p.pos : p.pos+int(n)]
			p.pos += int(n)
		}
		if coders == 1 {
			f.method, f.props = method, props
		}
		ins += in
		outs += out
	}
	if outs == 0 || outs > len(p.b) || ins > len(p.b) {
		return nil, fmt.Errorf("folder with %d inputs and %d outputs", ins, outs)
	}
	f.outputs = outs
	for range outs - 1 { // bind pairs
		if _, err := p.number(); err != nil {
			return nil, err
		}
		if _, err := p.number(); err != nil {
			return nil, err
		}
	}
	if packed := ins - (outs - 1); packed > 1 {
		for range packed {
			if _, err := p.number(); err != nil {
				return nil, err
			}
		}
	}
	return f, nil
}

func (p *headerParser) subStreamsInfo(s *streams) error {
	streams := make([]uint64, len(s.folders))
	for i := range streams {
		streams[i] = 1
	}
	id, err := p.byte()
	if err != nil {
		return err
	}
	var total uint64
	if id == idNumUnpackStream {
		for i := range streams {
			n, err := p.count("streams", true)
			if err != nil {
				return err
			}
			streams[i] = uint64(n)
		}
		if id, err = p.byte(); err != nil {
			return err
		}
	}
	for _, n := range streams {
		total += n
		if total > uint64(len(p.b))*8 {
			return fmt.Errorf("%d streams stated in a header of %d bytes", total, len(p.b))
		}
	}
	if id == idSize {
		for _, n := range streams {
			for j := uint64(1); j < n; j++ {
				if _, err := p.number(); err != nil {
					return err
				}
			}
		}
		if id, err = p.byte(); err != nil {
			return err
		}
	}
	for id != idEnd {
		if id != idCRC {
			return fmt.Errorf("unexpected property %#x in substreams info", id)
		}
		// The count of digests depends on which folders have one; every
		// digest takes 4 bytes: the bound is the header itself.
		if err := p.digests(int(min(total, uint64(len(p.b))))); err != nil {
			return err
		}
		if id, err = p.byte(); err != nil {
			return err
		}
	}
	return nil
}

// encodedHeader decodes the real header that an encoded header describes.
// It returns nil (and no error) for an encoding it does not decode, such as
// an encrypted header, which it leaves to the library.
func (p *headerParser) encodedHeader(r io.ReaderAt, size int64) ([]byte, error) {
	s, err := p.streamsInfo()
	if err != nil {
		return nil, err
	}
	if len(s.folders) != 1 || len(s.packSizes) != 1 || len(s.folders[0].unpacked) != 1 {
		return nil, errors.New("encoded header is not one stream")
	}
	f := s.folders[0]
	unpacked, packed := f.unpacked[0], s.packSizes[0]
	if unpacked > maxHeader {
		return nil, fmt.Errorf("encoded header of %d bytes", unpacked)
	}
	start := 32 + s.packPos
	if s.packPos > uint64(size) || packed > uint64(size) || start+packed > uint64(size) {
		return nil, errors.New("encoded header outside the archive")
	}
	src := io.NewSectionReader(r, int64(start), int64(packed))
	var dec io.Reader
	switch string(f.method) {
	case "\x00": // stored
		dec = src
	case "\x03\x01\x01": // LZMA: 5 bytes of properties, then the stream
		if len(f.props) != 5 {
			return nil, errors.New("bad LZMA properties")
		}
		var classic [13]byte
		copy(classic[:5], f.props)
		binary.LittleEndian.PutUint64(classic[5:], unpacked)
		zr, err := lzma.ReaderConfig{DictCap: maxHeader}.NewReader(io.MultiReader(bytes.NewReader(classic[:]), src))
		if err != nil {
			return nil, fmt.Errorf("encoded header: %w", err)
		}
		dec = zr
	case "\x21": // LZMA2: a byte of dictionary size
		if len(f.props) != 1 {
			return nil, errors.New("bad LZMA2 properties")
		}
		dict, err := lzma.DecodeDictCap(f.props[0])
		if err != nil || dict > maxHeader {
			dict = maxHeader
		}
		zr, err := lzma.Reader2Config{DictCap: int(max(dict, lzma.MinDictCap))}.NewReader2(src)
		if err != nil {
			return nil, fmt.Errorf("encoded header: %w", err)
		}
		dec = zr
	default:
		return nil, nil // encrypted, or a method left to the library
	}
	hdr := make([]byte, unpacked)
	if _, err := io.ReadFull(dec, hdr); err != nil {
		return nil, fmt.Errorf("decoding the encoded header: %w", err)
	}
	return hdr, nil
}
