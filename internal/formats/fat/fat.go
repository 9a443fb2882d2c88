// Package fat walks FAT12, FAT16 and FAT32 volumes (USB sticks, EFI
// system partitions, floppy and firmware images) read at random through
// an io.ReaderAt, with VFAT long names.
//
// Why not a library: go-diskfs's fat32 reader (v1.7.0), the Go library
// for FAT, reads FAT32 only: it refused both this package's FAT12 and
// FAT16 test images ("invalid FAT32 version found"), measured in a
// throwaway module on 2026-12-06; floppy, small USB and firmware images
// are FAT12 and FAT16.
package fat

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/hashr-dev/hashr/internal/formats/archive"
	"github.com/hashr-dev/hashr/internal/formats/clusterchain"
	"github.com/hashr-dev/hashr/internal/formats/fstree"
	"golang.org/x/text/encoding/charmap"
)

const (
	maxDirBytes = 2 << 20 // the FAT specification's limit: 65536 entries
	maxDepth    = 256
	maxEntries  = 1 << 24
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
	v     *volume
	chain *clusterchain.Volume
	tree  *fstree.Walker[*entry, uint32, *entry]
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
	w := &Walker{v: v, chain: &clusterchain.Volume{R: r, Format: "fat", ClusterSize: v.clusterSize,
		HeapOffset: v.dataOffset, Clusters: v.clusters, FATOffset: v.fatOffset, FATSize: v.fatSize}}
	w.chain.Next = w.next
	var raw []byte
	if v.bits == 32 {
		raw, err = w.chain.ReadChain(v.rootCluster, false, maxDirBytes, true)
	} else {
		raw = make([]byte, v.rootSize)
		if _, err = r.ReadAt(raw, v.rootOffset); err != nil {
			err = archive.Truncated("fat", v.rootOffset, err)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("fat: reading the root directory: %w", err)
	}
	// FAT12 and FAT16 keep the root outside the clusters: cluster 0,
	// which no directory may start at.
	cfg := fstree.Config{Format: "fat", IDName: "at cluster", MaxDepth: maxDepth, MaxEntries: maxEntries}
	w.tree = fstree.New(cfg, fstree.FS[*entry, uint32, *entry]((*entries)(w)), v.rootCluster, parseDir(raw))
	return w, nil
}

// Next returns the next entry.
func (w *Walker) Next() (*archive.Entry, error) { return w.tree.Next() }

// entries is the Walker as the tree walk reads it: a directory entry is
// the inode, a directory known by its first cluster.
type entries Walker

// Node describes a directory entry.
func (t *entries) Node(de *entry) (fstree.Node[uint32, *entry], error) {
	n := fstree.Node[uint32, *entry]{ID: de.cluster, Inode: de, Links: 1, Entry: archive.Entry{ModTime: de.mtime, Size: -1}}
	if de.attr&attrDir == 0 {
		n.Entry.Type, n.Entry.Size = archive.Regular, int64(de.size)
		return n, nil
	}
	if de.cluster < 2 {
		return n, corrupt(-1, fmt.Sprintf("a directory that starts at cluster %d", de.cluster))
	}
	n.Entry.Type = archive.Dir
	return n, nil
}

// ReadDir reads a directory's cluster chain.
func (t *entries) ReadDir(dir *entry) ([]fstree.Dirent[*entry], error) {
	raw, err := t.chain.ReadChain(dir.cluster, false, maxDirBytes, true)
	if err != nil {
		return nil, err
	}
	return parseDir(raw), nil
}

// Symlink is never called: FAT has no symlinks.
func (t *entries) Symlink(*entry) (string, error) { return "", archive.ErrNotRegular }

// Open returns the current file's bytes.
func (w *Walker) Open() (io.Reader, error) {
	cur := w.tree.Current()
	if cur == nil {
		return nil, archive.ErrNotRegular
	}
	if cur.size > 0 && cur.cluster < 2 {
		return nil, corrupt(-1, fmt.Sprintf("a file of %d bytes without clusters", cur.size))
	}
	if err := w.chain.CheckFileSize(uint64(cur.size)); err != nil {
		return nil, err
	}
	return w.chain.File(cur.cluster, false, int64(cur.size), 0), nil
}

// next returns the FAT entry of cluster c, FAT12 and FAT16 values widened
// to FAT32's.
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
	if err := w.chain.ReadFAT(b[:n], w.v.fatOffset+off); err != nil {
		return 0, err
	}
	v := binary.LittleEndian.Uint32(b[:])
	switch w.v.bits {
	case 12:
		if c&1 != 0 {
			v >>= 4
		}
		return widen(v&0xfff, 0xff7), nil
	case 16:
		return widen(v&0xffff, 0xfff7), nil
	}
	return widen(v&0x0fffffff, 0x0ffffff7), nil
}

// widen maps a FAT entry's bad-cluster and end-of-chain values (bad and
// above) to those of clusterchain.
func widen(v, bad uint32) uint32 {
	switch {
	case v > bad:
		return clusterchain.EndOfChain
	case v == bad:
		return clusterchain.Bad
	}
	return v
}

// clusterOffset is where cluster c's bytes are.
func (w *Walker) clusterOffset(c uint32) (int64, error) { return w.chain.Offset(c) }

// parseDir decodes a directory's entries, long names attached.
func parseDir(raw []byte) []fstree.Dirent[*entry] {
	var out []fstree.Dirent[*entry]
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
		out = append(out, fstree.Dirent[*entry]{Name: name, Ref: &entry{
			name:    name,
			attr:    attr,
			cluster: uint32(le.Uint16(d[20:]))<<16 | uint32(le.Uint16(d[26:])),
			size:    le.Uint32(d[28:]),
			mtime:   dosTime(le.Uint16(d[24:]), le.Uint16(d[22:])),
		}})
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
