package extract

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/hashr-dev/hashr/internal/formats/ar"
	"github.com/hashr-dev/hashr/internal/formats/archive"
	"github.com/hashr-dev/hashr/internal/formats/bridge"
	"github.com/hashr-dev/hashr/internal/formats/cpio"
	"github.com/hashr-dev/hashr/internal/formats/deb"
	"github.com/hashr-dev/hashr/internal/formats/decompress"
	"github.com/hashr-dev/hashr/internal/formats/disk"
	"github.com/hashr-dev/hashr/internal/formats/iso9660"
	"github.com/hashr-dev/hashr/internal/formats/rpm"
	"github.com/hashr-dev/hashr/internal/formats/sevenzip"
	"github.com/hashr-dev/hashr/internal/formats/squashfs"
	"github.com/hashr-dev/hashr/internal/formats/tar"
	"github.com/hashr-dev/hashr/internal/formats/zip"
	"github.com/hashr-dev/hashr/internal/magic"
)

// container is one archive being walked.
type container struct {
	w      archive.Walker
	format string
	prefix string // path of the container plus "!/", "" for the source
	depth  int    // 0 for the source's own members
	// expands: reading members decompresses them (zip, 7z), so their
	// bytes count towards --max-ratio.
	expands bool
	// hardLinks: the format has hard links (tar, cpio and what holds
	// them), so regular files are remembered for links to them.
	hardLinks bool
}

// walkable says whether hashr-extract can walk what magic found.
func walkable(res magic.Result) bool {
	if res.Compression != "" {
		return true
	}
	switch res.Format {
	case magic.Tar, magic.DockerArchive, magic.OCI, magic.Cpio, magic.Ar, magic.Deb, magic.RPM,
		magic.Zip, magic.SevenZip, magic.ISO9660:
		return true
	case magic.Squashfs, magic.UDF:
		return true
	}
	return diskImage(res.Format) || walkableWindows(res.Format)
}

// diskImage says whether format is a disk or VM image (or a bare file
// system), which internal/formats/disk walks.
func diskImage(format string) bool {
	switch format {
	case magic.Disk, magic.QCOW2, magic.VMDK, magic.VHD, magic.VHDX:
		return true
	}
	return false
}

// randomAccess formats are read with ReadAt rather than as a stream.
func randomAccess(format string) bool {
	return format == magic.Zip || format == magic.SevenZip || format == magic.ISO9660 ||
		format == magic.Squashfs || format == magic.UDF || diskImage(format) || walkableWindows(format)
}

// detectHead tells the format of a stream from its first bytes.
func detectHead(head []byte) magic.Result {
	res, _ := magic.Detect(bytes.NewReader(head), -1)
	return withCompression(res, head)
}

// withCompression adds what magic leaves out: a compressed file whose
// content is of no container format (x.gz) is still a compressed single
// file to unwrap. Only magic numbers that cannot be mistaken count, which
// leaves out lzma's.
func withCompression(res magic.Result, head []byte) magic.Result {
	if res.Format != "" || res.Compression != "" {
		return res
	}
	if m := decompress.Detect(head); m != decompress.None && m != decompress.LZMA {
		res.Compression = string(m)
	}
	return res
}

// walkFile walks the container in the file f of size bytes; name is its
// file name, prefix the path its members' paths start with.
func (s *sourceRun) walkFile(f io.ReaderAt, size int64, name, prefix string, depth int) error {
	res, err := magic.Detect(f, size)
	if err != nil {
		return fmt.Errorf("telling the format: %w", err)
	}
	var head [decompress.HeadSize]byte
	n, _ := f.ReadAt(head[:], 0)
	res = withCompression(res, head[:n])
	if depth == 0 {
		s.top.wrapper = res.Format == magic.Tar || (res.Format == "" && res.Compression != "")
		format := res.Format
		if res.Compression != "" {
			format = res.Compression
		}
		if err := s.checkSelection(format); err != nil {
			return err
		}
	}
	if res.Compression == "" && randomAccess(res.Format) {
		return s.walkRandom(f, size, res.Format, prefix, depth)
	}
	if res.Compression == "" && isImage(res.Format) {
		return s.walkImage(f, size, res.Format, prefix, depth)
	}
	return s.walkStream(io.NewSectionReader(f, 0, size), &res, name, prefix, depth, 0)
}

// walkRandom walks a zip, 7z or ISO 9660 image.
func (s *sourceRun) walkRandom(f io.ReaderAt, size int64, format, prefix string, depth int) error {
	c := &container{format: format, prefix: prefix, depth: depth}
	var err error
	switch format {
	case magic.Zip:
		c.w, err = zip.NewWalker(f, size)
		c.expands = true
	case magic.SevenZip:
		c.w, err = sevenzip.NewWalker(f, size)
		c.expands = true
	case magic.ISO9660:
		c.w, err = iso9660.NewWalker(f, size)
	case magic.Squashfs:
		c.w, err = squashfs.NewWalker(f, size)
		c.expands, c.hardLinks = true, true
	case magic.UDF:
		// A bridge disc's UDF tree, or its ISO 9660 tree when the UDF
		// tree does not open (package bridge says why).
		var t *bridge.Tree
		if t, err = bridge.Open(f, size); err == nil {
			c.w, c.format, c.hardLinks = t.W, t.Format, t.Format == magic.UDF
			if t.UDFErr != nil {
				s.isoFallback(prefix, t.UDFErr)
			}
		}
	default:
		if !diskImage(format) {
			return s.walkWindows(f, size, format, prefix, depth)
		}
		c.w, err = disk.NewWalker(f, size)
		// Holes in sparse files and compressed clusters read as bytes the
		// image does not hold: they count towards --max-ratio, so that a
		// small image claiming a file of a terabyte of zeros is stopped
		// like any decompression bomb.
		c.hardLinks, c.expands = true, true
		defer s.describeDisk(c.w)
	}
	if err != nil {
		return err
	}
	return s.walk(c)
}

// isoFallback reports a UDF disc (the source, or the member that prefix
// names) whose UDF tree did not open, and whose ISO 9660 tree is walked
// instead: an error record, since that tree may hold fewer files than
// the disc (on Windows install media, a README alone), so that the
// source is not taken as done.
func (s *sourceRun) isoFallback(prefix string, err error) {
	err = fmt.Errorf("%w: walking the disc's ISO 9660 tree instead, which may hold fewer of its files (on Windows install media, only a README)", err)
	if prefix == "" {
		s.sourceError(err)
		return
	}
	s.memberError(displayPath("", strings.TrimSuffix(prefix, nestSep)), err)
}

// walkStream walks a container read as a stream. res is what magic said
// of it, or nil to look at its head; wraps counts the compression layers
// already taken off.
func (s *sourceRun) walkStream(r io.Reader, res *magic.Result, name, prefix string, depth, wraps int) error {
	br := bufio.NewReaderSize(r, magic.HeadSize)
	if res == nil {
		head, err := br.Peek(magic.HeadSize)
		if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
			return err
		}
		found := detectHead(head)
		res = &found
	}
	if res.Compression != "" {
		if wraps >= maxWrappers {
			return &LimitError{What: fmt.Sprintf("compressed more than %d times over", maxWrappers), Limit: maxWrappers}
		}
		dr, err := decompress.NewReader(decompress.Method(res.Compression), br)
		var dict *decompress.DictTooLargeError
		if errors.As(err, &dict) {
			return err // it says what is over which limit
		}
		if err != nil {
			return archive.Corrupt(res.Compression, 0, err.Error())
		}
		defer dr.Close()
		inner := decodeErrors{archive.Metered(dr, &s.budget), res.Compression}
		if err := s.walkStream(inner, nil, unwrappedName(name), prefix, depth, wraps+1); err != nil {
			return err
		}
		// Read to the compressed stream's end, so that its checksum is
		// checked even when the archive inside ended earlier.
		return archive.Drain(inner)
	}
	c := &container{format: res.Format, prefix: prefix, depth: depth, hardLinks: true}
	switch res.Format {
	case magic.Tar:
		c.w = tar.NewMeteredWalker(br, &s.budget) // a sparse member's holes count as expanded
	case magic.Cpio:
		c.w = cpio.NewWalker(br)
	case magic.Deb:
		c.w = deb.NewWalker(br, deb.Options{Control: s.x.opts.debControl, Meter: &s.budget})
	case magic.RPM:
		c.w = rpm.NewWalker(br, &s.budget)
	case magic.Ar:
		c.w, c.hardLinks = ar.NewWalker(br), false
	case magic.Zip, magic.SevenZip, magic.ISO9660, magic.Squashfs, magic.UDF,
		magic.Disk, magic.QCOW2, magic.VMDK, magic.VHD, magic.VHDX,
		magic.WIM, magic.Cab, magic.MSI, magic.OLE:
		// Compressed around a format read at random: decompress it to a
		// temporary file first (its bytes are already counted as expanded).
		tmp, size, err := s.tempCopy(br)
		if err != nil {
			return err
		}
		defer func() { tmp.Close(); os.Remove(tmp.Name()) }()
		return s.walkRandom(tmp, size, res.Format, prefix, depth)
	case magic.DockerArchive, magic.OCI:
		// An image tar, compressed: its blobs are read at random too.
		tmp, size, err := s.tempCopy(br)
		if err != nil {
			return err
		}
		defer func() { tmp.Close(); os.Remove(tmp.Name()) }()
		return s.walkImage(tmp, size, res.Format, prefix, depth)
	case "":
		if wraps == 0 && depth > 0 {
			return nil // not a container after all
		}
		// A compressed single file, or a source of no container format: one
		// file.
		entry := &archive.Entry{Name: name, Type: archive.Regular, Size: -1}
		return s.member(&container{prefix: prefix, depth: depth, expands: false}, prefix+name, entry, br)
	default:
		return fmt.Errorf("format %s is not supported by hashr-extract", res.Format)
	}
	return s.walk(c)
}

// decodeErrors names the decompressor in errors that would otherwise be
// a bare "unexpected EOF".
type decodeErrors struct {
	r      io.Reader
	method string
}

func (d decodeErrors) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	if err == nil || err == io.EOF {
		return n, err
	}
	var limit *LimitError
	var corrupt *archive.CorruptError
	switch {
	case err == io.ErrUnexpectedEOF:
		err = archive.Corrupt(d.method, -1, "truncated")
	case errors.As(err, &limit), errors.As(err, &corrupt), errors.Is(err, context.Canceled):
	default:
		err = archive.Corrupt(d.method, -1, err.Error())
	}
	return n, err
}

// tempCopy writes r to a temporary file, within the limits.
func (s *sourceRun) tempCopy(r io.Reader) (*os.File, int64, error) {
	f, err := os.CreateTemp(s.x.tmpDir, "member-*")
	if err != nil {
		return nil, 0, fmt.Errorf("creating a temporary file: %w", err)
	}
	n, err := io.CopyBuffer(s.sparse(f), &limitedReader{r: r, s: s}, make([]byte, 256<<10))
	if err == nil {
		err = finishSparse(f, n)
	}
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, 0, err
	}
	return f, n, nil
}

// limitedReader counts bytes against the source's limits.
type limitedReader struct {
	r io.Reader
	s *sourceRun
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if err := l.s.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := l.r.Read(p)
	if n > 0 {
		if lerr := l.s.budget.addBytes(int64(n)); lerr != nil {
			return n, lerr
		}
	}
	return n, err
}
