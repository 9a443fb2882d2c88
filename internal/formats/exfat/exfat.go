// Package exfat walks exFAT volumes (SD cards, USB drives, camera media)
// read at random through an io.ReaderAt: directory entry sets checked by
// their checksums, FAT chains and contiguous (NoFatChain) files, and the
// valid data length past which a file reads as zeros.
package exfat

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/hashr-dev/hashr/internal/formats/archive"
)

const (
	maxDirBytes = 64 << 20
	maxDepth    = 256
	maxEntries  = 1 << 24
	cacheBlock  = 64 << 10
	cacheBlocks = 64
)

// Directory entry types.
const (
	typeFile   = 0x85
	typeStream = 0xc0
	typeName   = 0xc1
	attrDir    = 0x10
	endOfChain = 0xfffffff8
	badCluster = 0xfffffff7
)

func corrupt(offset int64, reason string) error { return archive.Corrupt("exfat", offset, reason) }

type volume struct {
	sectorSize  int64
	clusterSize int64
	fatOffset   int64
	fatSize     int64
	heapOffset  int64
	clusters    uint32
	root        uint32
}

// Probe says whether r starts with an exFAT boot sector.
func Probe(r io.ReaderAt, size int64) bool {
	_, err := readBoot(r, size)
	return err == nil
}

func readBoot(r io.ReaderAt, size int64) (*volume, error) {
	var b [512]byte
	if _, err := r.ReadAt(b[:], 0); err != nil {
		return nil, errors.New("exfat: not an exFAT volume: no boot sector")
	}
	if string(b[3:11]) != "EXFAT   " || b[510] != 0x55 || b[511] != 0xaa {
		return nil, errors.New("exfat: not an exFAT volume (no EXFAT name in the boot sector)")
	}
	le := binary.LittleEndian
	bps, spc := b[108], b[109]
	if bps < 9 || bps > 12 || int(bps)+int(spc) > 25 {
		return nil, corrupt(108, fmt.Sprintf("sector shift %d, cluster shift %d", bps, spc))
	}
	v := &volume{sectorSize: 1 << bps}
	v.clusterSize = v.sectorSize << spc
	v.fatOffset = int64(le.Uint32(b[80:])) * v.sectorSize
	v.fatSize = int64(le.Uint32(b[84:])) * v.sectorSize
	v.heapOffset = int64(le.Uint32(b[88:])) * v.sectorSize
	v.clusters = le.Uint32(b[92:])
	v.root = le.Uint32(b[96:])
	if v.fatOffset < 24*v.sectorSize || int64(v.clusters+2)*4 > v.fatSize || v.heapOffset < v.fatOffset+v.fatSize {
		return nil, corrupt(80, "the FAT or the cluster heap is not where the boot sector says")
	}
	if v.heapOffset > size {
		return nil, corrupt(88, fmt.Sprintf("the cluster heap starts at %d, past the image's %d bytes: truncated", v.heapOffset, size))
	}
	if v.root < 2 || v.root >= v.clusters+2 {
		return nil, corrupt(96, fmt.Sprintf("root directory at cluster %d", v.root))
	}
	return v, nil
}

// Walker walks an exFAT volume depth first.
type Walker struct {
	r     io.ReaderAt
	size  int64
	v     *volume
	cache map[int64][]byte
	order []int64
	walk  archive.DirStack[*entry]
	seen  map[uint32]bool
	count int
	cur   *entry
}

// entry is one file's directory entry set.
type entry struct {
	name    string
	attr    uint16
	contig  bool // NoFatChain: the clusters follow each other
	cluster uint32
	size    uint64 // DataLength
	valid   uint64 // ValidDataLength
	mtime   time.Time
}

// NewWalker reads the boot sector and the root directory.
func NewWalker(r io.ReaderAt, size int64) (archive.Walker, error) {
	v, err := readBoot(r, size)
	if err != nil {
		return nil, err
	}
	w := &Walker{r: r, size: size, v: v, cache: map[int64][]byte{}, seen: map[uint32]bool{v.root: true}}
	raw, err := w.readData(v.root, false, maxDirBytes, true)
	if err != nil {
		return nil, fmt.Errorf("exfat: reading the root directory: %w", err)
	}
	entries, err := parseDir(raw)
	if err != nil {
		return nil, fmt.Errorf("exfat: root directory: %w", err)
	}
	w.walk.Push("", entries)
	return w, nil
}

// Next returns the next entry.
func (w *Walker) Next() (*archive.Entry, error) {
	w.cur = nil
	dir, de, ok := w.walk.Next()
	if !ok {
		return nil, io.EOF
	}
	if w.count++; w.count > maxEntries {
		return nil, corrupt(-1, fmt.Sprintf("more than %d entries", maxEntries))
	}
	name := path.Join(dir, de.name)
	e := &archive.Entry{Name: name, ModTime: de.mtime, Size: -1}
	if de.attr&attrDir == 0 {
		e.Type, e.Size = archive.Regular, int64(de.size)
		if de.size > 1<<50 {
			return nil, corrupt(-1, fmt.Sprintf("%s: a file of %d bytes", name, de.size))
		}
		w.cur = de
		return e, nil
	}
	e.Type = archive.Dir
	if de.size == 0 {
		return e, nil
	}
	if w.seen[de.cluster] {
		return nil, corrupt(-1, fmt.Sprintf("directory %s is already on the walk (a loop)", name))
	}
	if w.walk.Depth() >= maxDepth {
		return nil, corrupt(-1, fmt.Sprintf("directories nested deeper than %d at %s", maxDepth, name))
	}
	if de.size > maxDirBytes {
		return nil, corrupt(-1, fmt.Sprintf("directory %s of %d bytes", name, de.size))
	}
	raw, err := w.readData(de.cluster, de.contig, int64(de.size), false)
	if err != nil {
		return nil, fmt.Errorf("exfat: reading directory %s: %w", name, err)
	}
	entries, err := parseDir(raw)
	if err != nil {
		return nil, fmt.Errorf("exfat: directory %s: %w", name, err)
	}
	w.seen[de.cluster] = true
	w.walk.Push(name, entries)
	return e, nil
}

// Open returns the current file's bytes.
func (w *Walker) Open() (io.Reader, error) {
	if w.cur == nil {
		return nil, archive.ErrNotRegular
	}
	de := w.cur
	valid := min(de.valid, de.size)
	// A file's data length is all allocated (exFAT has no holes): more
	// than the cluster heap holds is a lie, and a cluster chain in a loop
	// would read forever.
	if de.size > uint64(w.v.clusters)*uint64(w.v.clusterSize) {
		return nil, corrupt(-1, fmt.Sprintf("a file of %d bytes on a volume of %d", de.size, uint64(w.v.clusters)*uint64(w.v.clusterSize)))
	}
	if valid > 0 && (de.cluster < 2 || de.cluster >= w.v.clusters+2) {
		return nil, corrupt(-1, fmt.Sprintf("a file of %d bytes at cluster %d", de.size, de.cluster))
	}
	return &fileReader{w: w, cluster: de.cluster, contig: de.contig, left: int64(valid), zeros: int64(de.size - valid)}, nil
}

// fat returns the FAT entry of cluster c.
func (w *Walker) fat(c uint32) (uint32, error) {
	off := w.v.fatOffset + int64(c)*4
	blk := off / cacheBlock * cacheBlock
	b, ok := w.cache[blk]
	if !ok {
		n := min(int64(cacheBlock), w.v.fatOffset+w.v.fatSize-blk)
		b = make([]byte, n)
		if m, err := w.r.ReadAt(b, blk); m < len(b) {
			return 0, archive.Truncated("exfat", blk, orEOF(err))
		}
		if len(w.order) >= cacheBlocks {
			delete(w.cache, w.order[0])
			w.order = w.order[1:]
		}
		w.cache[blk] = b
		w.order = append(w.order, blk)
	}
	in := off - blk
	if in+4 > int64(len(b)) {
		return 0, corrupt(off, "FAT entry outside the FAT")
	}
	return binary.LittleEndian.Uint32(b[in:]), nil
}

func orEOF(err error) error {
	if err == nil {
		return io.EOF
	}
	return err
}

func (w *Walker) clusterOffset(c uint32) (int64, error) {
	if c < 2 || c >= w.v.clusters+2 {
		return 0, corrupt(-1, fmt.Sprintf("cluster %d outside the volume's %d", c, w.v.clusters))
	}
	return w.v.heapOffset + int64(c-2)*w.v.clusterSize, nil
}

// readData reads n bytes of a cluster chain (or contiguous run); with
// toEnd, the chain's whole length up to n.
func (w *Walker) readData(c uint32, contig bool, n int64, toEnd bool) ([]byte, error) {
	var out []byte
	for toEnd || int64(len(out)) < n {
		if int64(len(out)) >= n {
			return nil, corrupt(-1, fmt.Sprintf("a directory over %d bytes, or a cluster chain in a loop", n))
		}
		off, err := w.clusterOffset(c)
		if err != nil {
			return nil, err
		}
		start := len(out)
		out = append(out, make([]byte, w.v.clusterSize)...)
		if m, err := w.r.ReadAt(out[start:], off); m < int(w.v.clusterSize) {
			return nil, archive.Truncated("exfat", off, orEOF(err))
		}
		if contig {
			c++
			continue
		}
		next, err := w.fat(c)
		if err != nil {
			return nil, err
		}
		if next >= endOfChain {
			if toEnd {
				return out, nil
			}
			if int64(len(out)) < n {
				return nil, corrupt(-1, "the cluster chain ends before the directory's size")
			}
		}
		c = next
	}
	return out[:n], nil
}

// fileReader reads a file's clusters, then the zeros past its valid data
// length.
type fileReader struct {
	w       *Walker
	cluster uint32
	contig  bool
	left    int64 // valid bytes not yet read
	zeros   int64 // zeros after them
	run     int64
	off     int64
}

func (f *fileReader) Read(p []byte) (int, error) {
	if f.left <= 0 {
		if f.zeros <= 0 {
			return 0, io.EOF
		}
		n := min(int64(len(p)), f.zeros)
		clear(p[:n])
		f.zeros -= n
		return int(n), nil
	}
	if f.run == 0 {
		if err := f.nextRun(); err != nil {
			return 0, err
		}
	}
	n := min(int64(len(p)), f.run, f.left)
	m, err := f.w.r.ReadAt(p[:n], f.off)
	if int64(m) < n {
		return m, archive.Truncated("exfat", f.off, orEOF(err))
	}
	f.run -= n
	f.left -= n
	f.off += n
	return int(n), nil
}

func (f *fileReader) nextRun() error {
	w := f.w
	off, err := w.clusterOffset(f.cluster)
	if err != nil {
		return err
	}
	f.off = off
	cs := w.v.clusterSize
	if f.contig {
		// The rest of the file, as far as the heap goes.
		avail := int64(w.v.clusters+2-f.cluster) * cs
		if avail < f.left {
			return corrupt(off, "a contiguous file runs past the cluster heap")
		}
		f.run = f.left
		return nil
	}
	n := int64(0)
	c := f.cluster
	for {
		n += cs
		next, err := w.fat(c)
		if err != nil {
			return err
		}
		if next != c+1 || n >= f.left || n >= 64<<20 {
			if next < endOfChain && (next < 2 || next == badCluster) && n < f.left {
				return corrupt(-1, fmt.Sprintf("cluster %d of a file's chain points to %#x", c, next))
			}
			if next >= endOfChain && n < f.left {
				return corrupt(-1, "the cluster chain ends before the file's valid data")
			}
			f.cluster = next
			break
		}
		c = next
	}
	f.run = n
	return nil
}

// parseDir decodes the entry sets of a directory's bytes. A set whose
// checksum is wrong is left out, as Windows does.
func parseDir(raw []byte) ([]*entry, error) {
	var out []*entry
	le := binary.LittleEndian
	for i := 0; i+32 <= len(raw); {
		t := raw[i]
		if t == 0 {
			break // end of directory
		}
		if t != typeFile {
			i += 32
			continue
		}
		sec := int(raw[i+1])
		if sec < 2 || sec > 18 || i+32*(sec+1) > len(raw) {
			i += 32
			continue
		}
		set := raw[i : i+32*(sec+1)]
		if setChecksum(set) != le.Uint16(set[2:]) || set[32] != typeStream {
			i += 32
			continue
		}
		st := set[32:64]
		nameLen := int(st[3])
		var units []uint16
		for k := 2; k <= sec && len(units) < nameLen; k++ {
			fn := set[32*k : 32*k+32]
			if fn[0] != typeName {
				break
			}
			for j := 0; j < 15 && len(units) < nameLen; j++ {
				units = append(units, le.Uint16(fn[2+2*j:]))
			}
		}
		i += 32 * (sec + 1)
		name := string(utf16.Decode(units))
		if len(units) != nameLen || name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
			continue
		}
		out = append(out, &entry{
			name:    name,
			attr:    le.Uint16(set[4:]),
			contig:  st[1]&0x02 != 0,
			valid:   le.Uint64(st[8:]),
			cluster: le.Uint32(st[20:]),
			size:    le.Uint64(st[24:]),
			mtime:   timestamp(le.Uint32(set[12:]), set[21], set[23]),
		})
	}
	return out, nil
}

// setChecksum is the entry set checksum, over every byte but its own.
func setChecksum(set []byte) uint16 {
	var s uint16
	for i, b := range set {
		if i == 2 || i == 3 {
			continue
		}
		s = (s<<15 | s>>1) + uint16(b)
	}
	return s
}

// timestamp decodes an exFAT timestamp with its 10 ms part and UTC offset.
func timestamp(ts uint32, ms10, utcOff byte) time.Time {
	if ts == 0 {
		return time.Time{}
	}
	t := time.Date(1980+int(ts>>25), time.Month(ts>>21&0xf), int(ts>>16&0x1f),
		int(ts>>11&0x1f), int(ts>>5&0x3f), int(ts&0x1f)*2, int(ms10)*10*int(time.Millisecond), time.UTC)
	if utcOff&0x80 != 0 {
		off := int(int8(utcOff<<1)>>1) * 15 // 7-bit signed, in 15 minutes
		t = t.Add(-time.Duration(off) * time.Minute)
	}
	return t
}
