// Package fat walks FAT12, FAT16 and FAT32 volumes (USB sticks, EFI
// system partitions, floppy and firmware images) read at random through
// an io.ReaderAt, with VFAT long names.
package fat

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
	"golang.org/x/text/encoding/charmap"
)

const (
	maxDirBytes = 2 << 20 // the FAT specification's limit: 65536 entries
	maxDepth    = 256
	maxEntries  = 1 << 24
	cacheBlock  = 64 << 10
	cacheBlocks = 64
)

// Directory entry attributes.
const (
	attrVolume = 0x08
	attrDir    = 0x10
	attrLFN    = 0x0f
)

func corrupt(offset int64, reason string) error { return archive.Corrupt("fat", offset, reason) }

type volume struct {
	bits        int // 12, 16 or 32
	sectorSize  int64
	clusterSize int64
	fatOffset   int64
	fatSize     int64
	rootOffset  int64 // FAT12/16: the fixed root directory
	rootSize    int64
	rootCluster uint32 // FAT32
	dataOffset  int64
	clusters    uint32 // data clusters: numbered 2 .. clusters+1
}

// Probe says whether r starts with a FAT boot sector: one whose jump
// instruction (EB xx 90 or E9 xx xx) and media byte (F0, F8-FF) a FAT
// volume has, and whose BIOS parameter block reads. It is the one FAT
// check of hashr-scan and of disk images' volumes (package formats).
func Probe(r io.ReaderAt, size int64) bool {
	var b [22]byte
	if _, err := r.ReadAt(b[:], 0); err != nil {
		return false
	}
	jump := (b[0] == 0xeb && b[2] == 0x90) || b[0] == 0xe9
	media := b[21] == 0xf0 || b[21] >= 0xf8
	if !jump || !media {
		return false
	}
	_, err := readBoot(r, size)
	return err == nil
}

func readBoot(r io.ReaderAt, size int64) (*volume, error) {
	var b [512]byte
	if _, err := r.ReadAt(b[:], 0); err != nil {
		return nil, errors.New("fat: not a FAT volume: no boot sector")
	}
	le := binary.LittleEndian
	if b[510] != 0x55 || b[511] != 0xaa || (b[0] != 0xeb && b[0] != 0xe9) {
		return nil, errors.New("fat: not a FAT volume (no boot signature or jump)")
	}
	if string(b[3:11]) == "NTFS    " || string(b[3:11]) == "EXFAT   " {
		return nil, errors.New("fat: not a FAT volume (NTFS or exFAT)")
	}
	bps := int64(le.Uint16(b[11:]))
	spc := int64(b[13])
	reserved := int64(le.Uint16(b[14:]))
	fats := int64(b[16])
	rootEntries := int64(le.Uint16(b[17:]))
	total := int64(le.Uint16(b[19:]))
	if total == 0 {
		total = int64(le.Uint32(b[32:]))
	}
	fatSectors := int64(le.Uint16(b[22:]))
	if fatSectors == 0 {
		fatSectors = int64(le.Uint32(b[36:]))
	}
	if bps < 512 || bps > 4096 || bps&(bps-1) != 0 || spc == 0 || spc&(spc-1) != 0 ||
		reserved == 0 || fats == 0 || fats > 4 || fatSectors == 0 || total == 0 {
		return nil, errors.New("fat: not a FAT volume (its BIOS parameter block is not valid)")
	}
	v := &volume{sectorSize: bps, clusterSize: bps * spc}
	v.fatOffset = reserved * bps
	v.fatSize = fatSectors * bps
	rootSectors := (rootEntries*32 + bps - 1) / bps
	v.rootOffset = v.fatOffset + fats*v.fatSize
	v.rootSize = rootEntries * 32
	dataSector := reserved + fats*fatSectors + rootSectors
	v.dataOffset = dataSector * bps
	if dataSector >= total {
		return nil, corrupt(19, "no data area")
	}
	v.clusters = uint32((total - dataSector) / spc)
	switch {
	case v.clusters < 4085:
		v.bits = 12
	case v.clusters < 65525:
		v.bits = 16
	default:
		v.bits = 32
		if rootEntries != 0 {
			return nil, corrupt(17, "a FAT32 volume with a fixed root directory")
		}
		v.rootCluster = le.Uint32(b[44:]) & 0x0fffffff
	}
	if v.bits != 32 && rootEntries == 0 {
		return nil, corrupt(17, "a FAT12/16 volume without a root directory")
	}
	if int64(v.clusters+2)*int64(v.bits)/8 > v.fatSize {
		return nil, corrupt(22, "the FAT is too small for the volume's clusters")
	}
	if v.dataOffset > size {
		return nil, corrupt(0, fmt.Sprintf("the data area starts at %d, past the image's %d bytes: truncated", v.dataOffset, size))
	}
	return v, nil
}

// Walker walks a FAT volume depth first.
type Walker struct {
	r     io.ReaderAt
	size  int64
	v     *volume
	cache map[int64][]byte
	order []int64
	walk  archive.DirStack[*entry]
	seen  map[uint32]bool // directory clusters on the walk
	count int
	cur   *entry
}

type entry struct {
	name    string
	attr    byte
	cluster uint32
	size    uint32
	mtime   time.Time
}

// NewWalker reads the boot sector and the root directory.
func NewWalker(r io.ReaderAt, size int64) (archive.Walker, error) {
	v, err := readBoot(r, size)
	if err != nil {
		return nil, err
	}
	w := &Walker{r: r, size: size, v: v, cache: map[int64][]byte{}, seen: map[uint32]bool{}}
	var raw []byte
	if v.bits == 32 {
		w.seen[v.rootCluster] = true
		raw, err = w.readChain(v.rootCluster, maxDirBytes)
	} else {
		raw = make([]byte, v.rootSize)
		if _, err = r.ReadAt(raw, v.rootOffset); err != nil {
			err = archive.Truncated("fat", v.rootOffset, err)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("fat: reading the root directory: %w", err)
	}
	w.walk.Push("", parseDir(raw))
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
	if de.attr&attrDir != 0 {
		e.Type = archive.Dir
		if de.cluster < 2 {
			return nil, corrupt(-1, fmt.Sprintf("directory %s starts at cluster %d", name, de.cluster))
		}
		if w.seen[de.cluster] {
			return nil, corrupt(-1, fmt.Sprintf("directory %s is already on the walk (a loop)", name))
		}
		if w.walk.Depth() >= maxDepth {
			return nil, corrupt(-1, fmt.Sprintf("directories nested deeper than %d at %s", maxDepth, name))
		}
		raw, err := w.readChain(de.cluster, maxDirBytes)
		if err != nil {
			return nil, fmt.Errorf("fat: reading directory %s: %w", name, err)
		}
		w.seen[de.cluster] = true
		w.walk.Push(name, parseDir(raw))
		return e, nil
	}
	e.Type, e.Size = archive.Regular, int64(de.size)
	w.cur = de
	return e, nil
}

// Open returns the current file's bytes.
func (w *Walker) Open() (io.Reader, error) {
	if w.cur == nil {
		return nil, archive.ErrNotRegular
	}
	if w.cur.size > 0 && w.cur.cluster < 2 {
		return nil, corrupt(-1, fmt.Sprintf("a file of %d bytes without clusters", w.cur.size))
	}
	// FAT files have no holes: one larger than the data area is a lie (a
	// cluster chain in a loop would read forever).
	if int64(w.cur.size) > int64(w.v.clusters)*w.v.clusterSize {
		return nil, corrupt(-1, fmt.Sprintf("a file of %d bytes on a volume of %d", w.cur.size, int64(w.v.clusters)*w.v.clusterSize))
	}
	return &fileReader{w: w, cluster: w.cur.cluster, left: int64(w.cur.size)}, nil
}

// next returns the FAT entry of cluster c.
func (w *Walker) next(c uint32) (uint32, error) {
	var off int64
	switch w.v.bits {
	case 12:
		off = int64(c) + int64(c)/2
	case 16:
		off = int64(c) * 2
	default:
		off = int64(c) * 4
	}
	var b [4]byte
	n := 2
	if w.v.bits == 32 {
		n = 4
	}
	if err := w.cachedRead(b[:n], w.v.fatOffset+off); err != nil {
		return 0, err
	}
	v := binary.LittleEndian.Uint32(b[:])
	switch w.v.bits {
	case 12:
		if c&1 != 0 {
			v >>= 4
		}
		v &= 0xfff
		if v >= 0xff8 {
			v = 0x0fffffff
		} else if v == 0xff7 {
			v = 0x0ffffff7
		}
	case 16:
		v &= 0xffff
		if v >= 0xfff8 {
			v = 0x0fffffff
		} else if v == 0xfff7 {
			v = 0x0ffffff7
		}
	default:
		v &= 0x0fffffff
	}
	return v, nil
}

const endOfChain = 0x0ffffff8

// cachedRead reads the FAT through a small block cache.
func (w *Walker) cachedRead(p []byte, off int64) error {
	for len(p) > 0 {
		blk := off / cacheBlock * cacheBlock
		b, ok := w.cache[blk]
		if !ok {
			n := min(int64(cacheBlock), w.v.fatOffset+w.v.fatSize-blk)
			if n <= 0 {
				return corrupt(off, "FAT entry outside the FAT")
			}
			b = make([]byte, n)
			if m, err := w.r.ReadAt(b, blk); m < len(b) {
				return archive.Truncated("fat", blk, orEOF(err))
			}
			if len(w.order) >= cacheBlocks {
				delete(w.cache, w.order[0])
				w.order = w.order[1:]
			}
			w.cache[blk] = b
			w.order = append(w.order, blk)
		}
		in := off - blk
		if in >= int64(len(b)) {
			return corrupt(off, "FAT entry outside the FAT")
		}
		n := copy(p, b[in:])
		p, off = p[n:], off+int64(n)
	}
	return nil
}

func orEOF(err error) error {
	if err == nil {
		return io.EOF
	}
	return err
}

// clusterOffset is where cluster c's bytes are.
func (w *Walker) clusterOffset(c uint32) (int64, error) {
	if c < 2 || c >= w.v.clusters+2 {
		return 0, corrupt(-1, fmt.Sprintf("cluster %d outside the volume's %d", c, w.v.clusters))
	}
	return w.v.dataOffset + int64(c-2)*w.v.clusterSize, nil
}

// readChain reads a whole cluster chain of at most limit bytes.
func (w *Walker) readChain(c uint32, limit int64) ([]byte, error) {
	var out []byte
	for n := int64(0); ; n++ {
		if int64(len(out)) >= limit {
			return nil, corrupt(-1, fmt.Sprintf("a directory over %d bytes, or a cluster chain in a loop", limit))
		}
		off, err := w.clusterOffset(c)
		if err != nil {
			return nil, err
		}
		start := len(out)
		out = append(out, make([]byte, w.v.clusterSize)...)
		if m, err := w.r.ReadAt(out[start:], off); m < int(w.v.clusterSize) {
			return nil, archive.Truncated("fat", off, orEOF(err))
		}
		if c, err = w.next(c); err != nil {
			return nil, err
		}
		if c >= endOfChain {
			return out, nil
		}
	}
}

// fileReader reads a file's cluster chain, runs of consecutive clusters
// at a time.
type fileReader struct {
	w       *Walker
	cluster uint32
	left    int64 // bytes of the file not yet read
	run     int64 // bytes left in the current run of clusters
	off     int64 // image offset of the current run's next byte
}

func (f *fileReader) Read(p []byte) (int, error) {
	if f.left <= 0 {
		return 0, io.EOF
	}
	if f.run == 0 {
		if err := f.nextRun(); err != nil {
			return 0, err
		}
	}
	n := min(int64(len(p)), f.run, f.left)
	m, err := f.w.r.ReadAt(p[:n], f.off)
	if int64(m) < n {
		return m, archive.Truncated("fat", f.off, orEOF(err))
	}
	f.run -= n
	f.left -= n
	f.off += n
	return int(n), nil
}

// nextRun finds the run of consecutive clusters from f.cluster on.
func (f *fileReader) nextRun() error {
	w := f.w
	if f.cluster >= endOfChain {
		return corrupt(-1, "the cluster chain ends before the file's size")
	}
	off, err := w.clusterOffset(f.cluster)
	if err != nil {
		return err
	}
	f.off = off
	cs := w.v.clusterSize
	n := int64(0)
	c := f.cluster
	// The run ends where the chain jumps; it needs no more clusters than
	// the file has bytes left, which also bounds a looping chain.
	for {
		n += cs
		next, err := w.next(c)
		if err != nil {
			return err
		}
		if next == 0 || next == 0x0ffffff7 {
			return corrupt(-1, fmt.Sprintf("cluster %d of a file's chain is free or bad", c))
		}
		if next != c+1 || n >= f.left || n >= 64<<20 {
			f.cluster = next
			break
		}
		c = next
	}
	f.run = n
	return nil
}

// parseDir decodes a directory's entries, long names attached.
func parseDir(raw []byte) []*entry {
	var out []*entry
	var lfn []uint16
	var lfnSum byte
	lfnNext := 0
	for i := 0; i+32 <= len(raw); i += 32 {
		d := raw[i : i+32]
		if d[0] == 0 {
			break
		}
		if d[0] == 0xe5 {
			lfn = nil
			continue
		}
		attr := d[11]
		if attr&0x3f == attrLFN {
			seq := int(d[0] & 0x1f)
			if d[0]&0x40 != 0 {
				lfn = make([]uint16, 13*seq)
				lfnSum, lfnNext = d[13], seq
			}
			if lfn == nil || seq != lfnNext || seq == 0 || d[13] != lfnSum {
				lfn = nil
				continue
			}
			units := lfn[(seq-1)*13 : seq*13]
			for k := 0; k < 5; k++ {
				units[k] = binary.LittleEndian.Uint16(d[1+2*k:])
			}
			for k := 0; k < 6; k++ {
				units[5+k] = binary.LittleEndian.Uint16(d[14+2*k:])
			}
			for k := 0; k < 2; k++ {
				units[11+k] = binary.LittleEndian.Uint16(d[28+2*k:])
			}
			lfnNext--
			continue
		}
		if attr&attrVolume != 0 {
			lfn = nil
			continue
		}
		name := ""
		if lfn != nil && lfnNext == 0 && checksum(d[:11]) == lfnSum {
			name = longName(lfn)
		}
		lfn = nil
		if name == "" {
			name = shortName(d)
		}
		if name == "." || name == ".." || name == "" || strings.ContainsAny(name, "/\x00") {
			continue
		}
		le := binary.LittleEndian
		out = append(out, &entry{
			name:    name,
			attr:    attr,
			cluster: uint32(le.Uint16(d[20:]))<<16 | uint32(le.Uint16(d[26:])),
			size:    le.Uint32(d[28:]),
			mtime:   dosTime(le.Uint16(d[24:]), le.Uint16(d[22:])),
		})
	}
	return out
}

func checksum(short []byte) byte {
	var s byte
	for _, c := range short {
		s = (s&1)<<7 + s>>1 + c
	}
	return s
}

func longName(u []uint16) string {
	for i, c := range u {
		if c == 0 {
			u = u[:i]
			break
		}
	}
	return string(utf16.Decode(u))
}

// shortName is an 8.3 name, lower-cased where Windows NT's flags say.
func shortName(d []byte) string {
	b := append([]byte(nil), d[:11]...)
	if b[0] == 0x05 {
		b[0] = 0xe5
	}
	base := strings.TrimRight(oem(b[:8]), " ")
	ext := strings.TrimRight(oem(b[8:11]), " ")
	if d[12]&0x08 != 0 {
		base = strings.ToLower(base)
	}
	if d[12]&0x10 != 0 {
		ext = strings.ToLower(ext)
	}
	if ext == "" {
		return base
	}
	return base + "." + ext
}

func oem(b []byte) string {
	s, err := charmap.CodePage437.NewDecoder().Bytes(b)
	if err != nil {
		return string(b)
	}
	return string(s)
}

// dosTime decodes a DOS date and time (local time, of no zone: taken as
// UTC).
func dosTime(date, tm uint16) time.Time {
	if date == 0 {
		return time.Time{}
	}
	return time.Date(1980+int(date>>9), time.Month(date>>5&0xf), int(date&0x1f),
		int(tm>>11), int(tm>>5&0x3f), int(tm&0x1f)*2, 0, time.UTC)
}
