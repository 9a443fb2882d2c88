package exfat

// No Debian tool writes files into an exFAT volume without mounting it
// (exfatprogs only makes, checks, labels and dumps volumes), so the tests
// fill one themselves: mkfs.exfat makes the volume (boot region, FAT,
// allocation bitmap, up-case table, root directory), then fill copies a
// directory into it as Windows would, and fsck.exfat -n checks the result
// before the reader sees it. Files alternate between FAT chains and
// contiguous NoFatChain runs, so the reader meets both.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"
	"unicode/utf16"
)

type builder struct {
	img      []byte
	v        *volume
	bitmap   []byte // the allocation bitmap, in img
	upcase   []uint16
	nextHint uint32
	files    int
}

func newBuilder(img []byte) (*builder, error) {
	v, err := readBoot(readerAt(img), int64(len(img)))
	if err != nil {
		return nil, err
	}
	b := &builder{img: img, v: v, nextHint: 2}
	root := b.cluster(v.root)
	le := binary.LittleEndian
	for i := 0; i+32 <= len(root); i += 32 {
		switch root[i] {
		case 0x81:
			c, n := le.Uint32(root[i+20:]), le.Uint64(root[i+24:])
			off := v.heapOffset + int64(c-2)*v.clusterSize
			b.bitmap = img[off : off+int64(n)]
		case 0x82:
			c, n := le.Uint32(root[i+20:]), le.Uint64(root[i+24:])
			off := v.heapOffset + int64(c-2)*v.clusterSize
			b.upcase = decodeUpcase(img[off : off+int64(n)])
		}
	}
	if b.bitmap == nil || b.upcase == nil {
		return nil, errors.New("no allocation bitmap or up-case table in the root directory")
	}
	return b, nil
}

// decodeUpcase expands the up-case table: 0xFFFF n is a run of n
// characters that map to themselves.
func decodeUpcase(t []byte) []uint16 {
	var m []uint16
	for i := 0; i+2 <= len(t); i += 2 {
		c := binary.LittleEndian.Uint16(t[i:])
		if c == 0xffff && i+4 <= len(t) {
			n := binary.LittleEndian.Uint16(t[i+2:])
			for k := uint16(0); k < n; k++ {
				m = append(m, uint16(len(m)))
			}
			i += 2
			continue
		}
		m = append(m, c)
	}
	return m
}

func (b *builder) cluster(c uint32) []byte {
	off := b.v.heapOffset + int64(c-2)*b.v.clusterSize
	return b.img[off : off+b.v.clusterSize]
}

// alloc finds n free contiguous clusters and marks them used.
func (b *builder) alloc(n uint32) (uint32, error) {
	for start := b.nextHint; start+n <= b.v.clusters+2; start++ {
		ok := true
		for c := start; c < start+n; c++ {
			if b.used(c) {
				ok, start = false, c
				break
			}
		}
		if ok {
			for c := start; c < start+n; c++ {
				b.bitmap[(c-2)/8] |= 1 << ((c - 2) % 8)
			}
			b.nextHint = start + n
			return start, nil
		}
	}
	return 0, errors.New("volume full")
}

func (b *builder) used(c uint32) bool { return b.bitmap[(c-2)/8]&(1<<((c-2)%8)) != 0 }

func (b *builder) setFAT(c, next uint32) {
	binary.LittleEndian.PutUint32(b.img[b.v.fatOffset+int64(c)*4:], next)
}

// store writes data into new clusters: contiguous without a chain, or
// chained in the FAT. It returns the first cluster.
func (b *builder) store(data []byte, chain bool) (uint32, error) {
	if len(data) == 0 {
		return 0, nil
	}
	cs := b.v.clusterSize
	n := uint32((int64(len(data)) + cs - 1) / cs)
	first, err := b.alloc(n)
	if err != nil {
		return 0, err
	}
	off := b.v.heapOffset + int64(first-2)*cs
	copy(b.img[off:off+int64(n)*cs], data)
	if chain {
		for c := first; c < first+n-1; c++ {
			b.setFAT(c, c+1)
		}
		b.setFAT(first+n-1, 0xffffffff)
	}
	return first, nil
}

// entrySet builds the directory entries of one file or directory.
func (b *builder) entrySet(name string, dir bool, first uint32, size uint64, contig bool, mtime time.Time) []byte {
	units := utf16.Encode([]rune(name))
	names := (len(units) + 14) / 15
	set := make([]byte, 32*(2+names))
	le := binary.LittleEndian
	set[0], set[1] = typeFile, byte(1+names)
	attr := uint16(0x20)
	if dir {
		attr = attrDir
	}
	le.PutUint16(set[4:], attr)
	ts := uint32(mtime.Year()-1980)<<25 | uint32(mtime.Month())<<21 | uint32(mtime.Day())<<16 |
		uint32(mtime.Hour())<<11 | uint32(mtime.Minute())<<5 | uint32(mtime.Second()/2)
	le.PutUint32(set[8:], ts)
	le.PutUint32(set[12:], ts)
	le.PutUint32(set[16:], ts)
	set[22], set[23], set[24] = 0x80, 0x80, 0x80 // UTC
	st := set[32:64]
	st[0] = typeStream
	flags := byte(0)
	if first != 0 {
		flags = 0x01
		if contig {
			flags |= 0x02
		}
	}
	st[1], st[3] = flags, byte(len(units))
	le.PutUint16(st[4:], b.nameHash(units))
	le.PutUint64(st[8:], size)
	le.PutUint32(st[20:], first)
	le.PutUint64(st[24:], size)
	for k := 0; k < names; k++ {
		fn := set[64+32*k : 96+32*k]
		fn[0] = typeName
		for j := 0; j < 15 && 15*k+j < len(units); j++ {
			le.PutUint16(fn[2+2*j:], units[15*k+j])
		}
	}
	le.PutUint16(set[2:], setChecksum(set))
	return set
}

func (b *builder) nameHash(units []uint16) uint16 {
	var h uint16
	for _, u := range units {
		if int(u) < len(b.upcase) {
			u = b.upcase[u]
		}
		h = (h<<15 | h>>1) + u&0xff
		h = (h<<15 | h>>1) + u>>8
	}
	return h
}

// addTree copies directory src into a directory of the volume and returns
// its entries' bytes.
func (b *builder) addTree(src string) ([]byte, error) {
	list, err := os.ReadDir(src)
	if err != nil {
		return nil, err
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name() < list[j].Name() })
	var entries []byte
	for _, e := range list {
		p := filepath.Join(src, e.Name())
		info, err := os.Lstat(p)
		if err != nil {
			return nil, err
		}
		switch {
		case info.IsDir():
			sub, err := b.addTree(p)
			if err != nil {
				return nil, err
			}
			// A directory's size is whole clusters.
			cs := int(b.v.clusterSize)
			if len(sub) == 0 {
				sub = make([]byte, cs)
			}
			sub = append(sub, make([]byte, (cs-len(sub)%cs)%cs)...)
			b.files++
			contig := b.files%2 == 0
			first, err := b.store(sub, !contig)
			if err != nil {
				return nil, err
			}
			entries = append(entries, b.entrySet(e.Name(), true, first, uint64(len(sub)), contig, info.ModTime().UTC())...)
		case info.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return nil, err
			}
			b.files++
			contig := b.files%2 == 0
			first, err := b.store(data, !contig)
			if err != nil {
				return nil, err
			}
			entries = append(entries, b.entrySet(e.Name(), false, first, uint64(len(data)), contig && first != 0, info.ModTime().UTC())...)
		default:
			return nil, fmt.Errorf("%s: exFAT holds only files and directories", p)
		}
	}
	return entries, nil
}

// fill copies src into the root directory of the exFAT image at imgPath.
func fill(imgPath, src string) error {
	img, err := os.ReadFile(imgPath)
	if err != nil {
		return err
	}
	b, err := newBuilder(img)
	if err != nil {
		return err
	}
	entries, err := b.addTree(src)
	if err != nil {
		return err
	}
	// Append to the root's entries (bitmap, up-case table, label),
	// growing its chain.
	root := b.cluster(b.v.root)
	used := 0
	for used+32 <= len(root) && root[used] != 0 {
		used += 32
	}
	all := append(append([]byte(nil), root[:used]...), entries...)
	c := b.v.root
	for len(all) > 0 {
		n := copy(b.cluster(c), all)
		clear(b.cluster(c)[n:])
		all = all[n:]
		if len(all) == 0 {
			break
		}
		next, err := b.alloc(1)
		if err != nil {
			return err
		}
		b.setFAT(c, next)
		b.setFAT(next, 0xffffffff)
		c = next
	}
	return os.WriteFile(imgPath, b.img, 0o644)
}

type readerAt []byte

func (r readerAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(r)) {
		return 0, errors.New("EOF")
	}
	n := copy(p, r[off:])
	if n < len(p) {
		return n, errors.New("EOF")
	}
	return n, nil
}
