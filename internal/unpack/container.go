package unpack

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/hashr-dev/hashr/internal/formats"
	"github.com/hashr-dev/hashr/internal/formats/archive"
	"github.com/hashr-dev/hashr/internal/formats/decompress"
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

// walkable says whether hashr-extract can walk what magic found: a
// compressed file, or a format the table has a reader of.
func walkable(res magic.Result) bool {
	return res.Compression != "" || traits(res.Format).IsSource()
}

// traits is the table's entry of format; the zero Format, which walks
// nothing, for "" or a name the table lacks.
func traits(format string) *formats.Format {
	if f := formats.Lookup(format); f != nil {
		return f
	}
	return &formats.Format{Name: format}
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
func (s *unpacker) walkFile(f io.ReaderAt, size int64, name, prefix string, depth int) error {
	res, err := magic.Detect(f, size)
	if err != nil {
		return fmt.Errorf("telling the format: %w", err)
	}
	var head [decompress.HeadSize]byte
	n, _ := f.ReadAt(head[:], 0)
	res = withCompression(res, head[:n])
	if depth == 0 {
		s.top.wrapper = traits(res.Format).Wrapper || (res.Format == "" && res.Compression != "")
		format := res.Format
		if res.Compression != "" {
			format = res.Compression
		}
		if err := s.checkSelection(format); err != nil {
			return err
		}
	}
	if res.Compression == "" && traits(res.Format).OpenAt != nil {
		return s.walkAt(f, size, res.Format, prefix, depth)
	}
	return s.walkStream(io.NewSectionReader(f, 0, size), &res, name, prefix, depth, 0)
}

// walkAt walks a container read at random (a zip, an ISO image, a disk
// image, a Windows container).
func (s *unpacker) walkAt(f io.ReaderAt, size int64, format, prefix string, depth int) error {
	if format == magic.WIM {
		return s.walkWIM(f, size, prefix, depth) // its parts and image selection
	}
	spec := traits(format)
	env := s.openEnv(f)
	fellBack := false
	env.Fallback = func(err error) {
		fellBack = true
		s.isoFallback(prefix, err)
	}
	w, err := spec.OpenAt(f, size, env)
	if err != nil {
		return err
	}
	if fellBack { // a UDF disc read through its ISO 9660 tree
		spec = traits(magic.ISO9660)
	}
	defer s.describe(w)
	return s.walk(newContainer(w, spec, prefix, depth))
}

// newContainer is a walk of w, of the format spec, with its traits.
func newContainer(w archive.Walker, spec *formats.Format, prefix string, depth int) *container {
	return &container{w: w, format: spec.Name, prefix: prefix, depth: depth,
		expands: spec.Expands, hardLinks: spec.HardLinks}
}

// openEnv is what the table's readers may need of this walk to open the
// container in f.
func (s *unpacker) openEnv(f any) *formats.Env {
	env := &formats.Env{Ctx: s.ctx, TempDir: s.opts.TempDir, Meter: &s.budget,
		MaxBytes: s.opts.Limits.SourceBytes - s.budget.bytes, DebControl: s.opts.DebControl,
		Image:    s.imageOptions(),
		Verbosef: func(format string, args ...any) { s.opts.Log.Verbosef(s.label+": "+format, args...) }}
	if of, ok := f.(*os.File); ok {
		env.Path = of.Name()
	}
	return env
}

// isoFallback reports a UDF disc (the source, or the member that prefix
// names) whose UDF tree did not open, and whose ISO 9660 tree is walked
// instead: an error record, since that tree may hold fewer files than
// the disc (on Windows install media, a README alone), so that the
// source is not taken as done.
func (s *unpacker) isoFallback(prefix string, err error) {
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
func (s *unpacker) walkStream(r io.Reader, res *magic.Result, name, prefix string, depth, wraps int) error {
	br := bufio.NewReaderSize(r, magic.HeadSize)
	if res == nil {
		head, err := br.Peek(magic.HeadSize)
		if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
			return err
		}
		found := detectHead(head)
		if found.Format == magic.Tar && wraps > 0 && magic.MayBeImageTar(head) {
			return s.walkWholeTar(br, prefix, depth)
		}
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
	spec := traits(res.Format)
	switch {
	case spec.OpenStream != nil:
		return s.walkOpened(spec, br, prefix, depth)
	case spec.OpenAt != nil:
		// Compressed around a format read at random: decompress it to a
		// temporary file first (its bytes are already counted as expanded).
		tmp, size, err := s.tempCopy(br)
		if err != nil {
			return err
		}
		defer func() { tmp.Close(); os.Remove(tmp.Name()) }()
		return s.walkAt(tmp, size, res.Format, prefix, depth)
	case res.Format == "":
		if wraps == 0 && depth > 0 {
			return nil // not a container after all
		}
		// A compressed single file, or a source of no container format: one
		// file.
		entry := &archive.Entry{Name: name, Type: archive.Regular, Size: -1}
		return s.member(&container{prefix: prefix, depth: depth, expands: false}, prefix+name, entry, br)
	}
	return fmt.Errorf("format %s is not supported by hashr-extract", res.Format)
}

// walkOpened walks r, a container of a format read front to back.
func (s *unpacker) walkOpened(spec *formats.Format, r io.Reader, prefix string, depth int) error {
	w, err := spec.OpenStream(r, s.openEnv(nil))
	if err != nil {
		return err
	}
	return s.walk(newContainer(w, spec, prefix, depth))
}

// walkWholeTar walks a decompressed tar whose start may be a container
// image's, whose telling files come after its layers (magic.MayBeImageTar):
// copied to a temporary file, as a compressed zip or disk image is, and
// told and walked as the uncompressed file is, so that a compressed
// docker save or OCI layout tar is the image, not its blobs.
func (s *unpacker) walkWholeTar(r io.Reader, prefix string, depth int) error {
	tmp, size, err := s.tempCopy(r)
	if err != nil {
		return err
	}
	defer func() { tmp.Close(); os.Remove(tmp.Name()) }()
	res, err := magic.Detect(tmp, size)
	if err != nil {
		return fmt.Errorf("telling the format of the decompressed tar: %w", err)
	}
	spec := traits(res.Format)
	if depth == 0 {
		s.top.wrapper = spec.Wrapper // an image is no wrapper, as its uncompressed tar is not
	}
	if spec.OpenAt != nil {
		return s.walkAt(tmp, size, res.Format, prefix, depth)
	}
	return s.walkOpened(spec, io.NewSectionReader(tmp, 0, size), prefix, depth)
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
func (s *unpacker) tempCopy(r io.Reader) (*os.File, int64, error) {
	f, err := os.CreateTemp(s.opts.TempDir, "member-*")
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
	s *unpacker
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
