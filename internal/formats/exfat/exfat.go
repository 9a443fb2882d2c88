// Package exfat walks exFAT volumes (SD cards, USB drives, camera media)
// read at random through an io.ReaderAt: directory entry sets checked by
// their checksums, FAT chains and contiguous (NoFatChain) files, and the
// valid data length past which a file reads as zeros.
//
// Why not a library: no Go library reads exFAT: go-diskfs (v1.7.0) has
// readers for FAT32, ISO 9660, squashfs and ext4 only.
package exfat

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
)

const (
	maxDirBytes = 64 << 20
	maxDepth    = 256
	maxEntries  = 1 << 24
)

// Directory entry types.
const (
	typeFile   = 0x85
	typeStream = 0xc0
	typeName   = 0xc1
	attrDir    = 0x10
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
	v     *volume
	chain *clusterchain.Volume
	tree  *fstree.Walker[*entry, uint32, *entry]
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
	w := &Walker{v: v, chain: &clusterchain.Volume{R: r, Format: "exfat", ClusterSize: v.clusterSize,
		HeapOffset: v.heapOffset, Clusters: v.clusters, FATOffset: v.fatOffset, FATSize: v.fatSize}}
	w.chain.Next = w.fat
	raw, err := w.chain.ReadChain(v.root, false, maxDirBytes, true)
	if err != nil {
		return nil, fmt.Errorf("exfat: reading the root directory: %w", err)
	}
	entries, err := parseDir(raw)
	if err != nil {
		return nil, fmt.Errorf("exfat: root directory: %w", err)
	}
	cfg := fstree.Config{Format: "exfat", IDName: "at cluster", MaxDepth: maxDepth, MaxEntries: maxEntries}
	w.tree = fstree.New(cfg, fstree.FS[*entry, uint32, *entry]((*entrySets)(w)), v.root, entries)
	return w, nil
}

// Next returns the next entry.
func (w *Walker) Next() (*archive.Entry, error) { return w.tree.Next() }

// entrySets is the Walker as the tree walk reads it: an entry set is the
// inode, a directory known by its first cluster.
type entrySets Walker

// Node describes an entry set.
func (t *entrySets) Node(de *entry) (fstree.Node[uint32, *entry], error) {
	n := fstree.Node[uint32, *entry]{ID: de.cluster, Inode: de, Links: 1, Entry: archive.Entry{ModTime: de.mtime, Size: -1}}
	switch {
	case de.attr&attrDir == 0 && de.size > 1<<50:
		return n, corrupt(-1, fmt.Sprintf("a file of %d bytes", de.size))
	case de.attr&attrDir == 0:
		n.Entry.Type, n.Entry.Size = archive.Regular, int64(de.size)
	case de.size > maxDirBytes:
		return n, corrupt(-1, fmt.Sprintf("a directory of %d bytes", de.size))
	default:
		n.Entry.Type, n.Empty = archive.Dir, de.size == 0
	}
	return n, nil
}

// ReadDir reads a directory's clusters.
func (t *entrySets) ReadDir(dir *entry) ([]fstree.Dirent[*entry], error) {
	raw, err := t.chain.ReadChain(dir.cluster, dir.contig, int64(dir.size), false)
	if err != nil {
		return nil, err
	}
	return parseDir(raw)
}

// Symlink is never called: exFAT has no symlinks.
func (t *entrySets) Symlink(*entry) (string, error) { return "", archive.ErrNotRegular }

// Open returns the current file's bytes.
func (w *Walker) Open() (io.Reader, error) {
	cur := w.tree.Current()
	if cur == nil {
		return nil, archive.ErrNotRegular
	}
	de := cur
	valid := min(de.valid, de.size)
	// A file's data length is all allocated, valid or not.
	if err := w.chain.CheckFileSize(de.size); err != nil {
		return nil, err
	}
	if valid > 0 && (de.cluster < 2 || de.cluster >= w.v.clusters+2) {
		return nil, corrupt(-1, fmt.Sprintf("a file of %d bytes at cluster %d", de.size, de.cluster))
	}
	return w.chain.File(de.cluster, de.contig, int64(valid), int64(de.size-valid)), nil
}

// fat returns the FAT entry of cluster c.
func (w *Walker) fat(c uint32) (uint32, error) {
	var b [4]byte
	if err := w.chain.ReadFAT(b[:], w.v.fatOffset+int64(c)*4); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b[:]), nil
}

// parseDir decodes the entry sets of a directory's bytes. A set whose
// checksum is wrong is left out, as Windows does.
func parseDir(raw []byte) ([]fstree.Dirent[*entry], error) {
	var out []fstree.Dirent[*entry]
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
		out = append(out, fstree.Dirent[*entry]{Name: name, Ref: &entry{
			name:    name,
			attr:    le.Uint16(set[4:]),
			contig:  st[1]&0x02 != 0,
			valid:   le.Uint64(st[8:]),
			cluster: le.Uint32(st[20:]),
			size:    le.Uint64(st[24:]),
			mtime:   timestamp(le.Uint32(set[12:]), set[21], set[23]),
		}})
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
