// Package rpm walks RPM packages: the lead and header structures, then
// the cpio payload (gzip, xz, zstd, bzip2, lzma or uncompressed),
// including the stripped cpio (07070X) RPM writes when a file is over
// 4 GiB, whose members are described by the header's file table.
//
// The headers are parsed here rather than with github.com/cavaliergopher/rpm:
// that library allocates by a tag's stated count before checking it
// against the header (a 150-byte file asks for 16 GiB and kills the
// process under a memory limit), and its file table panics on arrays of
// unequal length and ignores LONGFILESIZES.
package rpm

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hashr-dev/hashr/internal/formats/archive"
	"github.com/hashr-dev/hashr/internal/formats/cpio"
	"github.com/hashr-dev/hashr/internal/formats/decompress"
)

// Lead is the start of every RPM package.
var Lead = []byte{0xed, 0xab, 0xee, 0xdb}

const leadSize = 96

// Header tags used here.
const (
	tagFileSizes         = 1028
	tagFileModes         = 1030
	tagFileMtimes        = 1034
	tagFileLinkTos       = 1036
	tagOldFilenames      = 1027
	tagFileDevices       = 1095
	tagFileInodes        = 1096
	tagDirIndexes        = 1116
	tagBasenames         = 1117
	tagDirnames          = 1118
	tagPayloadFormat     = 1124
	tagPayloadCompressor = 1125
	tagLongFileSizes     = 5008
)

func corrupt(offset int64, reason string) error { return archive.Corrupt("rpm", offset, reason) }

// Walker walks the files of an RPM package.
type Walker struct {
	r       io.Reader
	started bool
	hdr     *header
	files   []fileInfo // the header's file table, read on first need
	last    []int      // per file, the index of its set's last hard link
	cpio    *cpio.Walker
	decoder io.Closer
	payload io.Reader
	drained bool
	meter   archive.Meter
}

// NewWalker walks the RPM package r. A non-nil meter counts the bytes of
// the decompressed payload.
func NewWalker(r io.Reader, meter archive.Meter) *Walker { return &Walker{r: r, meter: meter} }

// Next implements archive.Walker.
func (w *Walker) Next() (*archive.Entry, error) {
	if !w.started {
		w.started = true
		if err := w.start(); err != nil {
			return nil, err
		}
	}
	if w.cpio == nil {
		return nil, io.EOF
	}
	e, err := w.cpio.Next()
	if err == io.EOF && !w.drained {
		w.drained = true
		if err := archive.Drain(w.payload); err != nil {
			return nil, archive.Truncated("rpm", -1, err)
		}
	}
	return e, err
}

// Open implements archive.Walker.
func (w *Walker) Open() (io.Reader, error) {
	if w.cpio == nil {
		return nil, archive.ErrNotRegular
	}
	return w.cpio.Open()
}

// Close implements archive.Closer.
func (w *Walker) Close() error {
	if w.decoder != nil {
		_ = w.decoder.Close()
		w.decoder = nil
	}
	return nil
}

// start reads the lead and headers and opens the payload.
func (w *Walker) start() error {
	var offset int64
	if err := readLead(w.r, &offset); err != nil {
		return err
	}
	if _, err := readHeader(w.r, &offset, true); err != nil { // the signature
		return err
	}
	hdr, err := readHeader(w.r, &offset, false)
	if err != nil {
		return err
	}
	w.hdr = hdr
	if f := hdr.str(tagPayloadFormat); f != "" && f != "cpio" {
		return corrupt(offset, fmt.Sprintf("payload format %q is not supported", f))
	}
	br := bufio.NewReaderSize(w.r, 64<<10)
	head, _ := br.Peek(decompress.HeadSize)
	method := decompress.Detect(head)
	if method == decompress.None {
		switch c := hdr.str(tagPayloadCompressor); c {
		case "lzma":
			method = decompress.LZMA
		case "", "none", "identity":
		default:
			if len(head) >= 6 && string(head[:5]) != "07070" {
				return corrupt(offset, fmt.Sprintf("payload compressor %q: not recognised", c))
			}
		}
	}
	dr, err := decompress.NewReader(method, br)
	var dict *decompress.DictTooLargeError
	if errors.As(err, &dict) {
		return fmt.Errorf("payload: %w", err) // a limit, not corruption
	}
	if err != nil {
		return corrupt(offset, "payload: "+err.Error())
	}
	w.decoder = dr
	w.payload = archive.Metered(dr, w.meter)
	w.cpio = cpio.NewWalker(w.payload)
	w.cpio.SetStripped(w.lookup)
	return nil
}

// fileInfo is one row of the header's file table.
type fileInfo struct {
	name   string
	size   int64
	mode   int64
	mtime  int64
	linkto string
	dev    int64
	inode  int64
}

// lookup describes file index of the header, for stripped cpio headers.
func (w *Walker) lookup(index uint32) (*archive.Entry, int64, error) {
	if w.files == nil {
		files, err := w.fileTable()
		if err != nil {
			return nil, 0, err
		}
		w.files, w.last = files, linkSets(files)
	}
	if int(index) >= len(w.files) {
		return nil, 0, fmt.Errorf("file index %d beyond the %d files of the header", index, len(w.files))
	}
	f := w.files[index]
	e := &archive.Entry{
		Name:      "." + f.name,
		Size:      f.size,
		Mode:      archive.UnixMode(uint64(f.mode)),
		ModeKnown: true,
		ModTime:   time.Unix(f.mtime, 0),
	}
	switch f.mode & 0o170000 {
	case 0o100000:
		e.Type = archive.Regular
		if last := w.last[index]; last != int(index) {
			// Only the last name of a set of hard links carries the data.
			e.Type, e.Linkname, e.Size = archive.Hardlink, "."+w.files[last].name, -1
			return e, 0, nil
		}
		return e, f.size, nil
	case 0o040000:
		e.Type, e.Size = archive.Dir, 0
	case 0o120000:
		e.Type, e.Linkname, e.Size = archive.Symlink, f.linkto, 0
		return e, int64(len(f.linkto)), nil
	default:
		e.Type, e.Size = archive.Other, 0
	}
	return e, 0, nil
}

// linkSets finds, for every regular file, the index of the last name of
// its set of hard links (same device and inode): the one whose data the
// archive holds.
func linkSets(files []fileInfo) []int {
	type key struct{ dev, inode int64 }
	lastOf := map[key]int{}
	for i, f := range files {
		if f.mode&0o170000 == 0o100000 && (f.dev != 0 || f.inode != 0) {
			lastOf[key{f.dev, f.inode}] = i
		}
	}
	last := make([]int, len(files))
	for i, f := range files {
		last[i] = i
		if j, ok := lastOf[key{f.dev, f.inode}]; ok && f.mode&0o170000 == 0o100000 {
			last[i] = j
		}
	}
	return last
}

// fileTable decodes the header's file table.
func (w *Walker) fileTable() ([]fileInfo, error) {
	h := w.hdr
	var names []string
	if base, ok, err := h.strings(tagBasenames); ok || err != nil {
		if err != nil {
			return nil, err
		}
		dirs, _, err := h.strings(tagDirnames)
		if err != nil {
			return nil, err
		}
		idx, _, err := h.ints(tagDirIndexes)
		if err != nil {
			return nil, err
		}
		if len(idx) != len(base) {
			return nil, fmt.Errorf("header has %d base names but %d directory indexes", len(base), len(idx))
		}
		names = make([]string, len(base))
		for i, b := range base {
			if idx[i] < 0 || idx[i] >= int64(len(dirs)) {
				return nil, fmt.Errorf("file %d: directory index %d out of range", i, idx[i])
			}
			names[i] = dirs[idx[i]] + b
		}
	} else {
		old, _, err := h.strings(tagOldFilenames)
		if err != nil {
			return nil, err
		}
		names = old
	}
	n := len(names)
	column := func(tags ...uint32) ([]int64, error) {
		for _, tag := range tags {
			v, ok, err := h.ints(tag)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
			if len(v) != n {
				return nil, fmt.Errorf("header has %d files but %d values of tag %d", n, len(v), tag)
			}
			return v, nil
		}
		return make([]int64, n), nil
	}
	sizes, err := column(tagLongFileSizes, tagFileSizes)
	if err != nil {
		return nil, err
	}
	modes, err := column(tagFileModes)
	if err != nil {
		return nil, err
	}
	mtimes, err := column(tagFileMtimes)
	if err != nil {
		return nil, err
	}
	devs, err := column(tagFileDevices)
	if err != nil {
		return nil, err
	}
	inodes, err := column(tagFileInodes)
	if err != nil {
		return nil, err
	}
	links, _, err := h.strings(tagFileLinkTos)
	if err != nil {
		return nil, err
	}
	if links != nil && len(links) != n {
		return nil, fmt.Errorf("header has %d files but %d link targets", n, len(links))
	}
	files := make([]fileInfo, n)
	for i := range files {
		files[i] = fileInfo{name: names[i], size: sizes[i], mode: modes[i], mtime: mtimes[i], dev: devs[i], inode: inodes[i]}
		if links != nil {
			files[i].linkto = links[i]
		}
		if files[i].size < 0 {
			return nil, fmt.Errorf("file %d: negative size", i)
		}
	}
	return files, nil
}
