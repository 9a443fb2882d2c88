package wim

import (
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// blob is one stored file content, named by its SHA-1.
type blob struct {
	res   *resource // holding it
	off   int64     // within res's uncompressed data
	usize int64
	group *solidGroup // for a blob of solid resources, instead of res
}

// solidGroup is a run of solid resources whose blobs are numbered by
// offsets into their concatenated data.
type solidGroup struct {
	resources []*resource
}

// Reader reads a WIM file's tables: its images, their names, its blobs.
type Reader struct {
	ra       io.ReaderAt
	size     int64
	hdr      *header
	comp     compression
	blobs    map[[20]byte]*blob
	metadata []*blob // one per image, in order
	Images   []ImageInfo
}

// NewReader reads the header, the blob table and the XML of the WIM in
// the size bytes of ra. An error wrapping ErrNeedsWimlib means the file
// is sound but needs Convert; one wrapping ErrSplit (a *SplitError), that
// it is one part of a split WIM: NewSplitReader reads all the parts.
func NewReader(ra io.ReaderAt, size int64) (*Reader, error) {
	p, err := openPart(Part{R: ra, Size: size})
	if err != nil {
		return nil, err
	}
	if p.hdr.split() {
		return nil, missingParts(p.hdr, []int{int(p.hdr.partNumber)})
	}
	return newReader([]*partFile{p})
}

// partFile is one file of a WIM: the whole WIM, or a part of a split one.
type partFile struct {
	Part
	hdr  *header
	comp compression
}

func openPart(part Part) (*partFile, error) {
	hdr, err := parseHeader(part.R, part.Size)
	if err != nil {
		return nil, err
	}
	comp, err := hdr.compression()
	if err != nil {
		return nil, err
	}
	return &partFile{Part: part, hdr: hdr, comp: comp}, nil
}

// newReader reads the tables of a WIM from its files: parts[0] is the
// whole WIM or part 1, the others the rest of a split WIM's parts.
func newReader(parts []*partFile) (*Reader, error) {
	first := parts[0]
	hdr, comp, ra, size := first.hdr, first.comp, first.R, first.Size
	r := &Reader{ra: ra, size: size, hdr: hdr, comp: comp, blobs: map[[20]byte]*blob{}}
	for _, p := range parts {
		if err := r.readBlobTable(p, len(parts) > 1); err != nil {
			if p.Name != "" {
				return nil, fmt.Errorf("%s: %w", p.Name, err)
			}
			return nil, err
		}
	}
	if len(r.metadata) != int(hdr.imageCount) {
		return nil, corrupt(hdr.blobTable.offset, fmt.Sprintf("%d images in the header, %d metadata resources in the blob table", hdr.imageCount, len(r.metadata)))
	}
	r.Images = make([]ImageInfo, hdr.imageCount)
	for i := range r.Images {
		r.Images[i].Index = i + 1
	}
	if hdr.xml.sizeInWIM > 0 {
		res, err := openResource(ra, hdr.xml, comp, hdr.chunkSize, size)
		if err != nil {
			return nil, fmt.Errorf("reading the XML: %w", err)
		}
		data, err := res.readAll(maxXMLSize, "XML data")
		if err != nil {
			return nil, fmt.Errorf("reading the XML: %w", err)
		}
		if err := parseXML(data, r.Images); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// readBlobTable reads the table of every blob and resource stored in the
// file p. Of a split WIM (split), it keeps only the entries that say they
// are in p's part, and metadata resources only from part 1, as wimlib
// does: each part's table may name blobs that other parts store.
func (r *Reader) readBlobTable(p *partFile, split bool) error {
	bt := p.hdr.blobTable
	if bt.sizeInWIM == 0 {
		return nil
	}
	res, err := openResource(p.R, bt, p.comp, p.hdr.chunkSize, p.Size)
	if err != nil {
		return fmt.Errorf("reading the blob table: %w", err)
	}
	table, err := res.readAll(maxBlobTableSize, "blob table")
	if err != nil {
		return fmt.Errorf("reading the blob table: %w", err)
	}
	var group *solidGroup
	prevWasSolid := false
	for off := 0; off+blobEntrySize <= len(table); off += blobEntrySize {
		e := table[off : off+blobEntrySize]
		h := parseReshdr(e[0:24])
		var hash [20]byte
		copy(hash[:], e[30:50])
		if h.flags&resFree != 0 {
			prevWasSolid = false
			continue
		}
		if split && binary.LittleEndian.Uint16(e[24:26]) != p.hdr.partNumber {
			prevWasSolid = false
			continue
		}
		if h.flags&resSolid != 0 && h.usize == solidMagicUsize {
			res, err := openSolid(p.R, h, p.Size)
			if err != nil {
				return err
			}
			if !prevWasSolid || group == nil {
				group = &solidGroup{}
			}
			group.resources = append(group.resources, res)
			prevWasSolid = true
			continue
		}
		prevWasSolid = false
		b := &blob{usize: h.usize}
		if h.flags&resSolid != 0 {
			if group == nil {
				return corrupt(bt.offset+int64(off), "blob in a solid resource before any solid resource")
			}
			// A blob of solid resources keeps its size where other
			// blobs keep their stored size.
			b.group, b.off, b.usize = group, h.offset, h.sizeInWIM
		} else {
			res, err := openResource(p.R, h, p.comp, p.hdr.chunkSize, p.Size)
			if err != nil {
				return err
			}
			if res.usize != h.usize {
				return corrupt(h.offset, "resource size mismatch")
			}
			b.res = res
		}
		if h.flags&resMetadata != 0 {
			if split && p.hdr.partNumber != 1 {
				continue
			}
			if len(r.metadata) >= maxImages {
				return corrupt(bt.offset+int64(off), "too many metadata resources")
			}
			r.metadata = append(r.metadata, b)
			continue
		}
		r.blobs[hash] = b
	}
	return nil
}

// open returns the bytes of a blob.
func (b *blob) open() (io.Reader, error) {
	if b.group == nil {
		return b.res.reader(b.off, b.usize)
	}
	// A blob may span the resources of its group.
	var parts []io.Reader
	off, left := b.off, b.usize
	for _, res := range b.group.resources {
		if left == 0 {
			break
		}
		if off >= res.usize {
			off -= res.usize
			continue
		}
		n := min(left, res.usize-off)
		rd, err := res.reader(off, n)
		if err != nil {
			return nil, err
		}
		parts = append(parts, rd)
		off, left = 0, left-n
	}
	if left != 0 {
		return nil, corrupt(-1, fmt.Sprintf("blob of %d bytes at %d runs past its solid resources", b.usize, b.off))
	}
	return io.MultiReader(parts...), nil
}

// readMetadata reads image i's (from 0) metadata resource.
func (r *Reader) readMetadata(i int) ([]byte, error) {
	b := r.metadata[i]
	if b.usize > maxMetadataSize {
		return nil, corrupt(-1, fmt.Sprintf("image %d: metadata of %d bytes: more than the %d this reader allows", i+1, b.usize, maxMetadataSize))
	}
	rd, err := b.open()
	if err != nil {
		return nil, err
	}
	buf := make([]byte, 0, min(b.usize, 1<<20))
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := rd.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if int64(len(buf)) > b.usize {
			break
		}
	}
	if int64(len(buf)) != b.usize {
		return nil, corrupt(-1, fmt.Sprintf("image %d: metadata decodes to %d bytes, not %d", i+1, len(buf), b.usize))
	}
	return buf, nil
}

// ReadImages reads only what a WIM says of its images (the header and
// the XML), whatever compression its resources use: hashr-scan describes
// a WIM with it without decoding any resource.
func ReadImages(ra io.ReaderAt, size int64) ([]ImageInfo, error) {
	hdr, err := parseHeader(ra, size)
	if err != nil {
		return nil, err
	}
	images := make([]ImageInfo, hdr.imageCount)
	for i := range images {
		images[i].Index = i + 1
	}
	if hdr.xml.sizeInWIM == 0 {
		return images, nil
	}
	comp, err := hdr.compression()
	if err != nil {
		return nil, err
	}
	// The XML is stored uncompressed by every writer; a compressed one in
	// a compression this package does not decode is an ErrNeedsWimlib.
	res, err := openResource(ra, hdr.xml, comp, hdr.chunkSize, size)
	if err != nil {
		return nil, fmt.Errorf("reading the XML: %w", err)
	}
	data, err := res.readAll(maxXMLSize, "XML data")
	if err != nil {
		return nil, fmt.Errorf("reading the XML: %w", err)
	}
	if err := parseXML(data, images); err != nil {
		return nil, err
	}
	return images, nil
}

// Describe says what images a WIM holds, for a source's description:
// "1: Windows 10 Home (Core); 2: Windows 10 Pro (Professional)".
func Describe(images []ImageInfo) string {
	var parts []string
	for _, im := range images {
		label := im.Label()
		if label == "" {
			label = "unnamed image"
		}
		parts = append(parts, strconv.Itoa(im.Index)+": "+label)
	}
	return strings.Join(parts, "; ")
}
