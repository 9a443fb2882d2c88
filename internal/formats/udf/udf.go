// Package udf walks UDF file systems (DVD and Blu-ray images, UDF hard
// disk images; revisions 1.02 to 2.60) read at random through an
// io.ReaderAt: physical, sparable (taken as their physical partition,
// without spared packets) and metadata partitions (UDF 2.50+), File and
// Extended File Entries, short, long, extended and embedded allocation
// descriptors, sparse extents, hard links and symlinks. Virtual (VAT)
// partitions, which only CD-R/DVD-R sessions use, are refused with an
// error saying so.
//
// Why not a library: no Go library reads UDF: go-diskfs (v1.7.0) has
// readers for FAT32, ISO 9660, squashfs and ext4 only, and
// kdomanski/iso9660 reads ISO 9660 only; Windows install media keep
// their files only in the UDF tree (package bridge).
package udf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/hashr-dev/hashr/internal/formats/archive"
	"github.com/hashr-dev/hashr/internal/formats/fstree"
)

const (
	maxDirBytes   = 64 << 20
	maxDepth      = 256
	maxEntries    = 1 << 24
	maxExtents    = 1 << 20 // allocation descriptors of one file
	maxVDS        = 64      // descriptors of a volume descriptor sequence
	maxIndirect   = 8
	anchorSector  = 256
	symlinkMaxLen = 4096
)

// Descriptor tags.
const (
	tagPVD       = 1
	tagAnchor    = 2
	tagPartition = 5
	tagLVD       = 6
	tagTerm      = 8
	tagFSD       = 256
	tagFID       = 257
	tagAED       = 258
	tagIndirect  = 259
	tagFE        = 261
	tagEFE       = 266
)

// File types of an ICB tag.
const (
	ftDir     = 4
	ftFile    = 5
	ftSymlink = 12
)

func corrupt(offset int64, reason string) error { return archive.Corrupt("udf", offset, reason) }

// ErrNoVAT is a virtual partition whose allocation table is not found:
// an image of an unfinished write-once session, or cut short.
var ErrNoVAT = errors.New("udf: a virtual partition without its Virtual Allocation Table (the last recorded sector is no VAT file entry)")

// maxVATScan bounds the zeros the search for the VAT reads backwards.
const maxVATScan = 256 << 20

// lbAddr is a logical block address: a block of a partition map.
type lbAddr struct {
	block uint32
	part  uint16
}

type partMap struct {
	physical int   // index into physNums
	meta     []run // metadata partition: its file's extents, in physical blocks
	isMeta   bool
	vat      []uint32 // virtual partition: virtual block → physical block
	isVAT    bool
}

type run struct {
	first, blocks uint32 // metadata blocks first.. map to physical start..
	start         uint32
}

// Walker walks a UDF file system depth first.
type Walker struct {
	r        io.ReaderAt
	size     int64
	bs       int64            // block size
	parts    map[uint16]int64 // partition number → first sector
	partLen  map[uint16]int64 // partition number → sectors
	maps     []partMap
	physNums []uint16
	root     lbAddr // the root directory's file entry
	tree     *fstree.Walker[lbAddr, lbAddr, *fileEntry]
	cur      *fileEntry // the regular file Next returned last
}

// fid is a file identifier: a name and where its file entry is.
type fid = fstree.Dirent[lbAddr]

// Probe says whether r holds a UDF anchor volume descriptor.
func Probe(r io.ReaderAt, size int64) bool {
	_, _, err := findAnchor(r, size)
	return err == nil
}

// findAnchor finds the anchor at sector 256 (or the last sector) for
// each block size UDF allows on disk images.
func findAnchor(r io.ReaderAt, size int64) (int64, []byte, error) {
	for _, bs := range []int64{2048, 512, 4096, 1024} {
		for _, sector := range []int64{anchorSector, size/bs - 1, size/bs - 257} {
			if sector <= 0 {
				continue
			}
			b := make([]byte, 512)
			if _, err := r.ReadAt(b, sector*bs); err != nil {
				continue
			}
			if id, ok := checkTag(b, uint32(sector)); ok && id == tagAnchor {
				return bs, b, nil
			}
		}
	}
	return 0, nil, errors.New("udf: not a UDF volume (no anchor volume descriptor at sector 256)")
}

// checkTag checks a descriptor tag's checksum and location and returns
// its identifier.
func checkTag(b []byte, location uint32) (uint16, bool) {
	if len(b) < 16 {
		return 0, false
	}
	var sum byte
	for i := 0; i < 16; i++ {
		if i != 4 {
			sum += b[i]
		}
	}
	le := binary.LittleEndian
	if sum != b[4] || le.Uint32(b[12:]) != location {
		return 0, false
	}
	return le.Uint16(b[0:]), true
}

// NewWalker reads the volume descriptors, the file set descriptor and
// the root directory.
func NewWalker(r io.ReaderAt, size int64) (archive.Walker, error) {
	bs, anchor, err := findAnchor(r, size)
	if err != nil {
		return nil, err
	}
	w := &Walker{r: r, size: size, bs: bs, parts: map[uint16]int64{}, partLen: map[uint16]int64{}}
	le := binary.LittleEndian
	vdsLen, vdsLoc := int64(le.Uint32(anchor[16:])), int64(le.Uint32(anchor[20:]))
	resLen, resLoc := int64(le.Uint32(anchor[24:])), int64(le.Uint32(anchor[28:]))
	lvd, err := w.readVDS(vdsLoc, vdsLen)
	if err != nil {
		if lvd, err = w.readVDS(resLoc, resLen); err != nil {
			return nil, err
		}
	}
	if lb := int64(le.Uint32(lvd[212:])); lb != bs {
		return nil, corrupt(-1, fmt.Sprintf("logical block size %d differs from the sector size %d", lb, bs))
	}
	if err := w.readPartitionMaps(lvd); err != nil {
		return nil, err
	}
	// A partition past the image's end is a truncated image; only a
	// write-once medium's (virtual) partition may be recorded in part.
	for _, m := range w.maps {
		num := w.physNums[m.physical]
		if end := (w.parts[num] + w.partLen[num]) * bs; !m.isVAT && end > size {
			return nil, corrupt(size, fmt.Sprintf("partition %d ends at byte %d, past the image's %d: truncated", num, end, size))
		}
	}
	fsdLoc := lbAddr{block: le.Uint32(lvd[252:]), part: le.Uint16(lvd[256:])}
	fsd, err := w.readBlock(fsdLoc)
	if err != nil {
		return nil, fmt.Errorf("udf: reading the file set descriptor: %w", err)
	}
	if id, ok := checkTag(fsd, fsdLoc.block); !ok || id != tagFSD {
		return nil, corrupt(-1, "no file set descriptor where the logical volume descriptor says")
	}
	root := lbAddr{block: le.Uint32(fsd[404:]), part: le.Uint16(fsd[408:])}
	fe, err := w.readEntry(root)
	if err != nil {
		return nil, fmt.Errorf("udf: reading the root directory: %w", err)
	}
	if fe.fileType != ftDir {
		return nil, corrupt(-1, "the root is not a directory")
	}
	entries, err := w.readDir(fe)
	if err != nil {
		return nil, fmt.Errorf("udf: reading the root directory: %w", err)
	}
	w.root = root
	cfg := fstree.Config{Format: "udf", IDName: "with its file entry at", MaxDepth: maxDepth, MaxEntries: maxEntries}
	w.tree = fstree.New(cfg, fstree.FS[lbAddr, lbAddr, *fileEntry]((*fileEntries)(w)), root, entries)
	return w, nil
}

// readVDS reads a volume descriptor sequence; it returns the logical
// volume descriptor and records the partitions.
func (w *Walker) readVDS(loc, length int64) ([]byte, error) {
	var lvd []byte
	n := min(length/w.bs, maxVDS)
	for i := int64(0); i < n; i++ {
		b := make([]byte, w.bs)
		off := (loc + i) * w.bs
		if _, err := w.r.ReadAt(b, off); err != nil {
			return nil, archive.Truncated("udf", off, err)
		}
		id, ok := checkTag(b, uint32(loc+i))
		if !ok {
			break
		}
		switch id {
		case tagPartition:
			num := binary.LittleEndian.Uint16(b[22:])
			w.parts[num] = int64(binary.LittleEndian.Uint32(b[188:]))
			w.partLen[num] = int64(binary.LittleEndian.Uint32(b[192:]))
		case tagLVD:
			lvd = b
		}
		if id == tagTerm {
			break
		}
	}
	if lvd == nil || len(w.parts) == 0 {
		return nil, corrupt(loc*w.bs, "no logical volume or partition descriptor in the volume descriptor sequence")
	}
	return lvd, nil
}

// readPartitionMaps decodes the logical volume's partition maps.
func (w *Walker) readPartitionMaps(lvd []byte) error {
	le := binary.LittleEndian
	tableLen, count := int(le.Uint32(lvd[264:])), int(le.Uint32(lvd[268:]))
	if 440+tableLen > len(lvd) || count > 64 {
		return corrupt(-1, "partition map table outside its descriptor")
	}
	table := lvd[440 : 440+tableLen]
	var metaMaps, vatMaps []int
	for off, i := 0, 0; i < count; i++ {
		if off+2 > len(table) {
			return corrupt(-1, "partition maps end early")
		}
		typ, n := table[off], int(table[off+1])
		if n < 6 || off+n > len(table) {
			return corrupt(-1, "bad partition map length")
		}
		m := table[off : off+n]
		switch {
		case typ == 1:
			w.maps = append(w.maps, partMap{physical: w.physical(le.Uint16(m[4:]))})
		case typ == 2 && n >= 64:
			ident := strings.TrimRight(string(m[5:28]), "\x00")
			num := le.Uint16(m[38:])
			switch ident {
			case "*UDF Virtual Partition":
				w.maps = append(w.maps, partMap{physical: w.physical(num), isVAT: true})
				vatMaps = append(vatMaps, len(w.maps)-1)
			case "*UDF Metadata Partition":
				w.maps = append(w.maps, partMap{physical: w.physical(num), isMeta: true,
					meta: []run{{first: le.Uint32(m[40:])}}}) // metadata file location, resolved below
				metaMaps = append(metaMaps, len(w.maps)-1)
			default: // "*UDF Sparable Partition": read as its physical partition
				w.maps = append(w.maps, partMap{physical: w.physical(num)})
			}
		default:
			return corrupt(-1, fmt.Sprintf("partition map of type %d", typ))
		}
		off += n
	}
	for _, i := range vatMaps {
		if err := w.loadVAT(i); err != nil {
			return err
		}
	}
	for _, i := range metaMaps {
		if err := w.loadMetadata(i); err != nil {
			return fmt.Errorf("udf: reading the metadata file: %w", err)
		}
	}
	return nil
}

func (w *Walker) physical(num uint16) int {
	for i, n := range w.physNums {
		if n == num {
			return i
		}
	}
	w.physNums = append(w.physNums, num)
	return len(w.physNums) - 1
}

// loadMetadata reads the metadata file of a metadata partition: its
// extents map the partition's blocks onto the physical partition.
func (w *Walker) loadMetadata(i int) error {
	m := &w.maps[i]
	loc := m.meta[0].first
	m.meta = nil
	// The metadata file is in the physical partition: address it through
	// a temporary type 1 map.
	w.maps = append(w.maps, partMap{physical: m.physical})
	tmp := uint16(len(w.maps) - 1)
	defer func() { w.maps = w.maps[:len(w.maps)-1] }()
	fe, err := w.readEntry(lbAddr{block: loc, part: tmp})
	if err != nil {
		return err
	}
	var next uint32
	for _, e := range fe.extents {
		if e.kind != 0 || e.length%w.bs != 0 {
			return corrupt(-1, "metadata file extent not recorded or not whole blocks")
		}
		n := uint32(e.length / w.bs)
		m = &w.maps[i]
		m.meta = append(m.meta, run{first: next, blocks: n, start: e.loc.block})
		next += n
	}
	return nil
}

// loadVAT finds the Virtual Allocation Table of a virtual partition: the
// file entry in the last recorded sector (trailing zeros of an image
// file skipped), of file type 248 (UDF 2.00+) or with the 1.50 trailer.
func (w *Walker) loadVAT(i int) error {
	m := &w.maps[i]
	start, ok := w.parts[w.physNums[m.physical]]
	if !ok {
		return corrupt(-1, "a virtual partition without its partition descriptor")
	}
	last := w.size/w.bs - 1
	buf := make([]byte, w.bs)
	for scanned := int64(0); last > start; last-- {
		if _, err := w.r.ReadAt(buf, last*w.bs); err != nil {
			return archive.Truncated("udf", last*w.bs, err)
		}
		if !allZero(buf) {
			break
		}
		if scanned += w.bs; scanned > maxVATScan {
			return ErrNoVAT
		}
	}
	// Read the VAT file through a temporary physical map.
	w.maps = append(w.maps, partMap{physical: m.physical})
	tmp := uint16(len(w.maps) - 1)
	defer func() { w.maps = w.maps[:len(w.maps)-1] }()
	fe, err := w.readEntry(lbAddr{block: uint32(last - start), part: tmp})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNoVAT, err)
	}
	if fe.size > 64<<20 || fe.size < 36 {
		return corrupt(-1, fmt.Sprintf("a VAT of %d bytes", fe.size))
	}
	data := make([]byte, fe.size)
	if _, err := io.ReadFull(w.dataReader(fe), data); err != nil {
		return fmt.Errorf("udf: reading the VAT: %w", err)
	}
	var table []byte
	switch {
	case fe.fileType == 248:
		hdr := int(binary.LittleEndian.Uint16(data[0:]))
		if hdr > len(data) {
			return corrupt(-1, "VAT header longer than the VAT")
		}
		table = data[hdr:]
	case strings.HasPrefix(string(data[len(data)-36+1:]), "*UDF Virtual Alloc Tbl"):
		table = data[:len(data)-36]
	default:
		return ErrNoVAT
	}
	m = &w.maps[i]
	m.vat = make([]uint32, len(table)/4)
	for k := range m.vat {
		m.vat[k] = binary.LittleEndian.Uint32(table[4*k:])
	}
	return nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// sector returns the absolute sector of a logical block.
func (w *Walker) sector(a lbAddr) (int64, error) {
	if int(a.part) >= len(w.maps) {
		return 0, corrupt(-1, fmt.Sprintf("partition reference %d of %d", a.part, len(w.maps)))
	}
	m := w.maps[a.part]
	start, ok := w.parts[w.physNums[m.physical]]
	if !ok {
		return 0, corrupt(-1, fmt.Sprintf("no partition descriptor for partition %d", w.physNums[m.physical]))
	}
	block := a.block
	if m.isVAT {
		if int64(block) >= int64(len(m.vat)) || m.vat[block] == 0xffffffff {
			return 0, corrupt(-1, fmt.Sprintf("virtual block %d is not in the allocation table", block))
		}
		block = m.vat[block]
	}
	if m.isMeta {
		found := false
		for _, r := range m.meta {
			if block >= r.first && block-r.first < r.blocks {
				block, found = r.start+(block-r.first), true
				break
			}
		}
		if !found {
			return 0, corrupt(-1, fmt.Sprintf("metadata block %d is not mapped", a.block))
		}
	}
	s := start + int64(block)
	if s*w.bs >= w.size {
		return 0, corrupt(s*w.bs, "block outside the image: truncated")
	}
	return s, nil
}

func (w *Walker) readBlock(a lbAddr) ([]byte, error) {
	s, err := w.sector(a)
	if err != nil {
		return nil, err
	}
	b := make([]byte, w.bs)
	if _, err := w.r.ReadAt(b, s*w.bs); err != nil {
		return nil, archive.Truncated("udf", s*w.bs, err)
	}
	return b, nil
}

// extent is one allocation descriptor: kind 0 recorded, 1 allocated but
// not recorded, 2 not allocated (both read as zeros).
type extent struct {
	loc    lbAddr
	length int64
	kind   uint32
}

type fileEntry struct {
	fileType byte
	links    uint16
	perm     uint32
	size     int64
	mtime    time.Time
	embedded []byte
	extents  []extent
}

// readEntry reads a (Extended) File Entry and its allocation descriptors.
func (w *Walker) readEntry(a lbAddr) (*fileEntry, error) {
	le := binary.LittleEndian
	for hop := 0; ; hop++ {
		b, err := w.readBlock(a)
		if err != nil {
			return nil, err
		}
		id, ok := checkTag(b, a.block)
		if !ok {
			return nil, corrupt(-1, fmt.Sprintf("no valid descriptor at block %d of partition %d", a.block, a.part))
		}
		if id == tagIndirect && hop < maxIndirect {
			a = lbAddr{block: le.Uint32(b[40:]), part: le.Uint16(b[44:])}
			continue
		}
		var eaLen, adLen, adStart int
		fe := &fileEntry{fileType: b[27], links: le.Uint16(b[48:]), perm: le.Uint32(b[44:]), size: int64(le.Uint64(b[56:]))}
		switch id {
		case tagFE:
			fe.mtime = timestamp(b[84:96])
			eaLen, adLen, adStart = int(le.Uint32(b[168:])), int(le.Uint32(b[172:])), 176
		case tagEFE:
			fe.mtime = timestamp(b[92:104])
			eaLen, adLen, adStart = int(le.Uint32(b[208:])), int(le.Uint32(b[212:])), 216
		default:
			return nil, corrupt(-1, fmt.Sprintf("descriptor %d where a file entry should be", id))
		}
		if eaLen < 0 || adLen < 0 || adStart+eaLen+adLen > len(b) || fe.size < 0 {
			return nil, corrupt(-1, "file entry's extended attributes or allocation descriptors overrun its block")
		}
		ads := b[adStart+eaLen : adStart+eaLen+adLen]
		flags := le.Uint16(b[34:])
		if err := w.decodeADs(fe, ads, flags&7, a.part); err != nil {
			return nil, err
		}
		return fe, nil
	}
}

// decodeADs decodes allocation descriptors, following continuation
// extents (allocation extent descriptors).
func (w *Walker) decodeADs(fe *fileEntry, ads []byte, typ uint16, part uint16) error {
	le := binary.LittleEndian
	if typ == 3 {
		if int64(len(ads)) < fe.size {
			return corrupt(-1, "embedded file data shorter than the file")
		}
		fe.embedded = ads[:fe.size]
		return nil
	}
	var size int
	switch typ {
	case 0:
		size = 8
	case 1:
		size = 16
	case 2:
		size = 20
	default:
		return corrupt(-1, fmt.Sprintf("allocation descriptor type %d", typ))
	}
	for hops := 0; ; hops++ {
		var cont *lbAddr
		for i := 0; i+size <= len(ads); i += size {
			d := ads[i : i+size]
			l := le.Uint32(d[0:])
			e := extent{length: int64(l & 0x3fffffff), kind: l >> 30}
			switch typ {
			case 0:
				e.loc = lbAddr{block: le.Uint32(d[4:]), part: part}
			case 1:
				e.loc = lbAddr{block: le.Uint32(d[4:]), part: le.Uint16(d[8:])}
			case 2:
				e.loc = lbAddr{block: le.Uint32(d[12:]), part: le.Uint16(d[16:])}
			}
			if e.length == 0 {
				break
			}
			if e.kind == 3 {
				c := e.loc
				cont = &c
				break
			}
			fe.extents = append(fe.extents, e)
			if len(fe.extents) > maxExtents {
				return corrupt(-1, fmt.Sprintf("more than %d extents", maxExtents))
			}
		}
		if cont == nil {
			return nil
		}
		if hops > maxExtents/64 {
			return corrupt(-1, "too many allocation extent descriptors")
		}
		b, err := w.readBlock(*cont)
		if err != nil {
			return err
		}
		if id, ok := checkTag(b, cont.block); !ok || id != tagAED {
			return corrupt(-1, "no allocation extent descriptor where one was announced")
		}
		n := int(le.Uint32(b[20:]))
		if 24+n > len(b) || n < 0 {
			return corrupt(-1, "allocation extent descriptor overruns its block")
		}
		ads = b[24 : 24+n]
	}
}

// readDir reads a directory's file identifier descriptors.
func (w *Walker) readDir(fe *fileEntry) ([]fid, error) {
	if fe.size > maxDirBytes {
		return nil, corrupt(-1, fmt.Sprintf("a directory of %d bytes", fe.size))
	}
	data := make([]byte, fe.size)
	if _, err := io.ReadFull(w.dataReader(fe), data); err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	var out []fid
	for off := 0; off+38 <= len(data); {
		d := data[off:]
		if le.Uint16(d[0:]) != tagFID {
			return nil, corrupt(-1, fmt.Sprintf("no file identifier descriptor at byte %d of a directory", off))
		}
		chars, lfi := d[18], int(d[19])
		liu := int(le.Uint16(d[36:]))
		n := (38 + liu + lfi + 3) &^ 3
		if 38+liu+lfi > len(d) {
			return nil, corrupt(-1, "file identifier descriptor overruns its directory")
		}
		off += n
		if chars&0x0c != 0 { // deleted, or the parent
			continue
		}
		name := dstring(d[38+liu : 38+liu+lfi])
		if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
			continue
		}
		out = append(out, fid{Name: name, Ref: lbAddr{block: le.Uint32(d[24:]), part: le.Uint16(d[28:])}})
	}
	return out, nil
}

// dstring decodes an OSTA compressed unicode name: 8 bits a character
// (ids 8, 254) or 16 bits big-endian (16, 255).
func dstring(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	switch b[0] {
	case 8, 254:
		r := make([]rune, len(b)-1)
		for i, c := range b[1:] {
			r[i] = rune(c)
		}
		return string(r)
	case 16, 255:
		u := make([]uint16, (len(b)-1)/2)
		for i := range u {
			u[i] = binary.BigEndian.Uint16(b[1+2*i:])
		}
		return string(utf16.Decode(u))
	}
	return ""
}

// timestamp decodes an ECMA-167 timestamp.
func timestamp(b []byte) time.Time {
	le := binary.LittleEndian
	tz := le.Uint16(b[0:])
	year := int(int16(le.Uint16(b[2:])))
	if year == 0 {
		return time.Time{}
	}
	t := time.Date(year, time.Month(b[4]), int(b[5]), int(b[6]), int(b[7]), int(b[8]),
		int(b[9])*10_000_000+int(b[10])*100_000+int(b[11])*1000, time.UTC)
	if tz>>12 == 1 {
		off := int(int16(tz<<4) >> 4)
		if off >= -1440 && off <= 1440 {
			t = t.Add(-time.Duration(off) * time.Minute)
		}
	}
	return t
}

// Next returns the next entry.
func (w *Walker) Next() (*archive.Entry, error) {
	e, err := w.tree.Next()
	w.cur = w.tree.Current()
	return e, err
}

// String says where a file entry is, in errors.
func (a lbAddr) String() string { return fmt.Sprintf("block %d of partition %d", a.block, a.part) }

// fileEntries is the Walker as the tree walk reads it.
type fileEntries Walker

// Node reads the file entry at a.
func (t *fileEntries) Node(a lbAddr) (fstree.Node[lbAddr, *fileEntry], error) {
	fe, err := (*Walker)(t).readEntry(a)
	if err != nil {
		return fstree.Node[lbAddr, *fileEntry]{}, err
	}
	n := fstree.Node[lbAddr, *fileEntry]{ID: a, Inode: fe, Links: uint32(fe.links),
		Entry: archive.Entry{ModTime: fe.mtime, Size: -1, ModeKnown: true, Mode: mode(fe.perm)}}
	switch fe.fileType {
	case ftDir:
		n.Entry.Type = archive.Dir
	case ftFile:
		n.Entry.Type, n.Entry.Size = archive.Regular, fe.size
	case ftSymlink:
		n.Entry.Type = archive.Symlink
		n.Entry.Mode |= fs.ModeSymlink
	default:
		n.Entry.Type = archive.Other
	}
	return n, nil
}

// ReadDir reads a directory's file identifiers.
func (t *fileEntries) ReadDir(dir *fileEntry) ([]fid, error) { return (*Walker)(t).readDir(dir) }

// Symlink reads a symlink's target.
func (t *fileEntries) Symlink(link *fileEntry) (string, error) { return (*Walker)(t).symlink(link) }

// Open returns the current file's bytes.
func (w *Walker) Open() (io.Reader, error) {
	if w.cur == nil {
		return nil, archive.ErrNotRegular
	}
	return w.dataReader(w.cur), nil
}

var _ archive.RandomAccess = (*Walker)(nil)

// OpenAt returns the current file's bytes for reading at random, and
// their length: what a WIM in the UDF tree of an install ISO (its only
// tree with files, on Windows media) is read with in place, as its
// tables are at its end. Extents allocated but not recorded, or not
// allocated, read as zeros.
func (w *Walker) OpenAt() (io.ReaderAt, int64, error) {
	if w.cur == nil {
		return nil, 0, archive.ErrNotRegular
	}
	fe := w.cur
	if fe.embedded != nil {
		return bytes.NewReader(fe.embedded), fe.size, nil
	}
	x := &extentsReader{size: fe.size}
	var at int64
	for _, e := range fe.extents {
		if at >= fe.size {
			break
		}
		n := min(e.length, fe.size-at)
		p := piece{at: at, n: n, off: -1}
		if e.kind == 0 {
			s, err := w.sector(e.loc)
			if err != nil {
				return nil, 0, err
			}
			p.off = s * w.bs
			if p.off+n > w.size {
				return nil, 0, corrupt(p.off, "truncated: file data beyond the end of the image")
			}
		}
		x.pieces = append(x.pieces, p)
		at += n
	}
	if at < fe.size {
		return nil, 0, corrupt(-1, fmt.Sprintf("file extents hold %d bytes of its %d", at, fe.size))
	}
	x.r = w.r
	if len(x.pieces) == 1 && x.pieces[0].off >= 0 {
		return io.NewSectionReader(w.r, x.pieces[0].off, fe.size), fe.size, nil
	}
	return x, fe.size, nil
}

// extentsReader reads a file's extents as one run of bytes.
type extentsReader struct {
	r      io.ReaderAt
	pieces []piece // in file order, back to back
	size   int64
}

// piece is one extent: n bytes of the file from at, recorded at off in
// the image, or zeros when off is -1.
type piece struct {
	at, n, off int64
}

func (x *extentsReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("udf: negative offset")
	}
	// The first piece that ends after off.
	i := sort.Search(len(x.pieces), func(i int) bool { return x.pieces[i].at+x.pieces[i].n > off })
	n := 0
	for ; i < len(x.pieces) && len(p) > 0; i++ {
		pc := x.pieces[i]
		in := off - pc.at
		m := int(min(int64(len(p)), pc.n-in))
		if pc.off < 0 {
			clear(p[:m])
		} else if k, err := x.r.ReadAt(p[:m], pc.off+in); k < m {
			if err == nil || err == io.EOF {
				err = corrupt(pc.off+in, "truncated: file data beyond the end of the image")
			}
			return n + k, err
		}
		n += m
		p, off = p[m:], off+int64(m)
	}
	if len(p) > 0 {
		return n, io.EOF
	}
	return n, nil
}

func mode(p uint32) fs.FileMode {
	return fs.FileMode((p>>10&7)<<6 | (p>>5&7)<<3 | p&7)
}

// symlink decodes a symlink's path components.
func (w *Walker) symlink(fe *fileEntry) (string, error) {
	if fe.size > symlinkMaxLen {
		return "", corrupt(-1, fmt.Sprintf("a symlink of %d bytes", fe.size))
	}
	b := make([]byte, fe.size)
	if _, err := io.ReadFull(w.dataReader(fe), b); err != nil {
		return "", err
	}
	var parts []string
	abs := false
	for i := 0; i+4 <= len(b); {
		typ, n := b[i], int(b[i+1])
		if i+4+n > len(b) {
			return "", corrupt(-1, "symlink component overruns the link")
		}
		switch typ {
		case 1, 2:
			abs, parts = true, nil
		case 3:
			parts = append(parts, "..")
		case 4:
			parts = append(parts, ".")
		case 5:
			parts = append(parts, dstring(b[i+4:i+4+n]))
		}
		i += 4 + n
	}
	s := strings.Join(parts, "/")
	if abs {
		s = "/" + s
	}
	return s, nil
}

// dataReader reads a file's extents up to its size.
func (w *Walker) dataReader(fe *fileEntry) io.Reader {
	if fe.embedded != nil {
		return strings.NewReader(string(fe.embedded))
	}
	return &fileReader{w: w, fe: fe, left: fe.size}
}

type fileReader struct {
	w    *Walker
	fe   *fileEntry
	ext  int   // current extent
	in   int64 // bytes of it read
	left int64 // bytes of the file left
}

func (f *fileReader) Read(p []byte) (int, error) {
	if f.left <= 0 {
		return 0, io.EOF
	}
	for f.ext < len(f.fe.extents) && f.in >= f.fe.extents[f.ext].length {
		f.ext++
		f.in = 0
	}
	if f.ext >= len(f.fe.extents) {
		return 0, corrupt(-1, "file extents end before its size")
	}
	e := f.fe.extents[f.ext]
	n := min(int64(len(p)), e.length-f.in, f.left)
	if e.kind != 0 {
		clear(p[:n])
	} else {
		s, err := f.w.sector(e.loc)
		if err != nil {
			return 0, err
		}
		off := s*f.w.bs + f.in
		m, err := f.w.r.ReadAt(p[:n], off)
		if int64(m) < n {
			if err == nil || err == io.EOF {
				err = corrupt(off, "truncated: file data beyond the end of the image")
			}
			return m, err
		}
	}
	f.in += n
	f.left -= n
	return int(n), nil
}
