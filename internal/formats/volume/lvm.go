package volume

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// LVM2: a physical volume starts with a label ("LABELONE") in one of its
// first four sectors, pointing at a PV header with the PV's UUID and its
// metadata areas. The current metadata is a text description of the whole
// volume group; a linear logical volume is a list of segments, each a run
// of extents on one PV.

const (
	maxMetadata = 4 << 20
	mdaMagic    = " LVM2 x[5A%r0N*>"
)

type physicalVolume struct {
	index    int // in the volume list
	uuid     string
	vg       string
	seqno    int64
	metadata string
}

// withLVM replaces each LVM2 physical volume with the logical volumes of
// its volume group.
func withLVM(vols []Volume) []Volume {
	var pvs []physicalVolume
	bad := map[int]error{}
	for i, v := range vols {
		if v.R == nil || v.Err != nil {
			continue
		}
		pv, err := readPV(v.R, v.Size)
		if err != nil {
			bad[i] = err
			continue
		}
		if pv != nil {
			pv.index = i
			pvs = append(pvs, *pv)
		}
	}
	if len(pvs) == 0 && len(bad) == 0 {
		return vols
	}
	byVG := map[string][]physicalVolume{}
	var vgs []string
	for _, pv := range pvs {
		if _, ok := byVG[pv.vg]; !ok {
			vgs = append(vgs, pv.vg)
		}
		byVG[pv.vg] = append(byVG[pv.vg], pv)
	}
	isPV := map[int]bool{}
	for _, pv := range pvs {
		isPV[pv.index] = true
	}
	var out []Volume
	for i, v := range vols {
		if err, ok := bad[i]; ok {
			v.Err = fmt.Errorf("LVM2 physical volume: %w", err)
		}
		if !isPV[i] {
			out = append(out, v)
		}
	}
	for _, vg := range vgs {
		members := byVG[vg]
		newest := members[0]
		for _, pv := range members {
			if pv.seqno > newest.seqno {
				newest = pv
			}
		}
		out = append(out, logicalVolumes(vols, members, newest)...)
	}
	return out
}

// readPV reads the label and current metadata of a PV, or returns nil
// when r holds none.
func readPV(r io.ReaderAt, size int64) (*physicalVolume, error) {
	sec := make([]byte, 512)
	le := binary.LittleEndian
	for s := int64(0); s < 4; s++ {
		if readFull(r, sec, s*512) != nil {
			return nil, nil
		}
		if string(sec[:8]) != "LABELONE" || int64(le.Uint64(sec[8:])) != s || string(sec[24:32]) != "LVM2 001" {
			continue
		}
		off := int(le.Uint32(sec[20:]))
		if off < 32 || off+40 > 512 {
			return nil, fmt.Errorf("label's header at byte %d of its sector", off)
		}
		h := sec[off:]
		pv := &physicalVolume{uuid: string(h[:32])}
		// Data areas, then metadata areas, each a list of (offset, size)
		// ending with zeros.
		p := 40
		lists := 0
		for lists < 2 {
			if off+p+16 > 512 {
				return nil, errors.New("PV header runs past its sector")
			}
			o, n := le.Uint64(h[p:]), le.Uint64(h[p+8:])
			p += 16
			if o == 0 && n == 0 {
				lists++
				continue
			}
			if lists == 1 && pv.metadata == "" {
				text, seqno, err := readMetadata(r, size, int64(o), int64(n))
				if err != nil {
					return nil, err
				}
				pv.metadata, pv.seqno = text, seqno
			}
		}
		if pv.metadata == "" {
			return nil, errors.New("no metadata area with metadata (metadata kept on another PV only is not read)")
		}
		vg, _, ok := strings.Cut(strings.TrimSpace(stripComments(pv.metadata)), "{")
		if !ok {
			return nil, errors.New("metadata is not a volume group")
		}
		pv.vg = strings.TrimSpace(vg)
		return pv, nil
	}
	return nil, nil
}

// readMetadata reads the current text of the metadata area at off.
func readMetadata(r io.ReaderAt, size, off, n int64) (string, int64, error) {
	le := binary.LittleEndian
	h := make([]byte, 512)
	if off < 0 || n < 1024 || off+n > size || readFull(r, h, off) != nil {
		return "", 0, fmt.Errorf("metadata area at byte %d of %d bytes is outside the volume", off, n)
	}
	if string(h[4:20]) != mdaMagic {
		return "", 0, errors.New("metadata area without its magic number")
	}
	loc, length := le.Uint64(h[40:]), le.Uint64(h[48:])
	if length == 0 || length > maxMetadata || loc < 512 || loc >= uint64(n) {
		return "", 0, fmt.Errorf("metadata of %d bytes at %d in an area of %d", length, loc, n)
	}
	text := make([]byte, length)
	// The area is a ring after its 512-byte header.
	first := min(length, uint64(n)-loc)
	if err := readFull(r, text[:first], off+int64(loc)); err != nil {
		return "", 0, err
	}
	if first < length {
		if err := readFull(r, text[first:], off+512); err != nil {
			return "", 0, err
		}
	}
	text = bytes.TrimRight(text, "\x00")
	root, err := parseLVMText(string(text))
	if err != nil {
		return "", 0, err
	}
	var seqno int64
	for _, v := range root {
		if s, ok := v.(section_); ok {
			seqno, _ = s.num("seqno")
		}
	}
	return string(text), seqno, nil
}

// section_ is a "name { … }" block of LVM's metadata text.
type section_ map[string]any

func (s section_) num(key string) (int64, bool) {
	v, ok := s[key].(int64)
	return v, ok
}

func (s section_) str(key string) string {
	v, _ := s[key].(string)
	return v
}

func (s section_) sub(key string) section_ {
	v, _ := s[key].(section_)
	return v
}

func stripComments(text string) string {
	var b strings.Builder
	inString := false
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == '"' && (i == 0 || text[i-1] != '\\'):
			inString = !inString
		case c == '#' && !inString:
			for i < len(text) && text[i] != '\n' {
				i++
			}
			b.WriteByte('\n')
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// parseLVMText parses the metadata: sections, and keys with numbers,
// strings or arrays of them.
func parseLVMText(text string) (section_, error) {
	p := &lvmParser{s: stripComments(text)}
	root, err := p.section(0)
	if err != nil {
		return nil, fmt.Errorf("LVM2 metadata at byte %d: %w", p.i, err)
	}
	return root, nil
}

type lvmParser struct {
	s string
	i int
}

func (p *lvmParser) skip() {
	for p.i < len(p.s) && strings.IndexByte(" \t\r\n", p.s[p.i]) >= 0 {
		p.i++
	}
}

func (p *lvmParser) ident() string {
	start := p.i
	for p.i < len(p.s) && (isIdent(p.s[p.i])) {
		p.i++
	}
	return p.s[start:p.i]
}

func isIdent(c byte) bool {
	return c == '_' || c == '-' || c == '.' || c == '+' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func (p *lvmParser) section(depth int) (section_, error) {
	if depth > 16 {
		return nil, errors.New("sections nested too deep")
	}
	out := section_{}
	for {
		p.skip()
		if p.i >= len(p.s) {
			if depth > 0 {
				return nil, errors.New("section not closed")
			}
			return out, nil
		}
		if p.s[p.i] == '}' {
			if depth == 0 {
				return nil, errors.New("unbalanced '}'")
			}
			p.i++
			return out, nil
		}
		key := p.ident()
		if key == "" {
			return nil, fmt.Errorf("unexpected %q", p.s[p.i])
		}
		p.skip()
		if p.i >= len(p.s) {
			return nil, errors.New("truncated")
		}
		switch p.s[p.i] {
		case '{':
			p.i++
			sub, err := p.section(depth + 1)
			if err != nil {
				return nil, err
			}
			out[key] = sub
		case '=':
			p.i++
			v, err := p.value(true)
			if err != nil {
				return nil, err
			}
			out[key] = v
		default:
			return nil, fmt.Errorf("unexpected %q after %q", p.s[p.i], key)
		}
	}
}

func (p *lvmParser) value(arrayOK bool) (any, error) {
	p.skip()
	if p.i >= len(p.s) {
		return nil, errors.New("truncated")
	}
	switch c := p.s[p.i]; {
	case c == '"':
		p.i++
		var b strings.Builder
		for p.i < len(p.s) && p.s[p.i] != '"' {
			if p.s[p.i] == '\\' && p.i+1 < len(p.s) {
				p.i++
			}
			b.WriteByte(p.s[p.i])
			p.i++
		}
		if p.i >= len(p.s) {
			return nil, errors.New("string not closed")
		}
		p.i++
		return b.String(), nil
	case c == '[' && arrayOK:
		p.i++
		var out []any
		for {
			p.skip()
			if p.i < len(p.s) && p.s[p.i] == ']' {
				p.i++
				return out, nil
			}
			v, err := p.value(false)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
			if len(out) > 1<<16 {
				return nil, errors.New("array too long")
			}
			p.skip()
			if p.i < len(p.s) && p.s[p.i] == ',' {
				p.i++
			}
		}
	default:
		tok := p.ident()
		n, err := strconv.ParseInt(tok, 10, 64)
		if err != nil {
			if f, ferr := strconv.ParseFloat(tok, 64); ferr == nil {
				return int64(f), nil
			}
			return nil, fmt.Errorf("value %q is neither a number, a string nor an array", tok)
		}
		return n, nil
	}
}

// logicalVolumes maps the LVs of one VG onto its PVs.
func logicalVolumes(vols []Volume, members []physicalVolume, newest physicalVolume) []Volume {
	fail := func(err error) []Volume {
		return []Volume{{Name: "lvm/" + strings.ToValidUTF8(newest.vg, "?"), Scheme: "lvm", Err: err}}
	}
	if !validName(newest.vg) {
		return fail(fmt.Errorf("volume group name %q is not one LVM allows", newest.vg))
	}
	root, err := parseLVMText(newest.metadata)
	if err != nil {
		return fail(err)
	}
	vg := root.sub(newest.vg)
	if vg == nil {
		return fail(errors.New("metadata without its volume group"))
	}
	extentSize, _ := vg.num("extent_size") // in sectors
	if extentSize <= 0 || extentSize > 1<<32 {
		return fail(fmt.Errorf("extent size of %d sectors", extentSize))
	}
	byUUID := map[string]Volume{}
	for _, m := range members {
		byUUID[strings.ReplaceAll(m.uuid, "-", "")] = vols[m.index]
	}
	type pvInfo struct {
		vol     *Volume
		peStart int64
		peCount int64
	}
	pvs := map[string]pvInfo{}
	for name, v := range vg.sub("physical_volumes") {
		s, ok := v.(section_)
		if !ok {
			continue
		}
		info := pvInfo{}
		info.peStart, _ = s.num("pe_start")
		info.peCount, _ = s.num("pe_count")
		if vol, ok := byUUID[strings.ReplaceAll(s.str("id"), "-", "")]; ok {
			info.vol = &vol
		}
		pvs[name] = info
	}
	var names []string
	lvs := vg.sub("logical_volumes")
	for name := range lvs {
		names = append(names, name)
	}
	sort.Strings(names)
	var out []Volume
	for _, name := range names {
		lv, ok := lvs[name].(section_)
		if !ok {
			continue
		}
		if !validName(name) {
			out = append(out, Volume{Name: "lvm/" + newest.vg + "/?", Scheme: "lvm", Err: fmt.Errorf("logical volume name %q is not one LVM allows", name)})
			continue
		}
		if !hasFlag(lv["status"], "VISIBLE") {
			continue // an internal volume (a thin pool's metadata, a mirror leg)
		}
		v := Volume{Name: "lvm/" + newest.vg + "/" + name, Scheme: "lvm", Start: -1}
		lr, err := linear(lv, extentSize, func(pv string) (io.ReaderAt, int64, int64, bool) {
			info, ok := pvs[pv]
			if !ok || info.vol == nil {
				return nil, 0, 0, false
			}
			return info.vol.R, info.vol.Size, info.peStart * 512, true
		})
		if err != nil {
			v.Err = fmt.Errorf("logical volume %s: %w", name, err)
		} else {
			v.R, v.Size = lr, lr.size
		}
		out = append(out, v)
	}
	return out
}

func hasFlag(v any, flag string) bool {
	list, _ := v.([]any)
	for _, f := range list {
		if f == flag {
			return true
		}
	}
	return false
}

// lvSegment maps the LV's bytes [start, start+size) to a PV's bytes at
// pvOffset.
type lvSegment struct {
	start, size, pvOffset int64
	pv                    io.ReaderAt
}

type lvReader struct {
	segs []lvSegment
	size int64
}

func linear(lv section_, extentSize int64, pvOf func(string) (io.ReaderAt, int64, int64, bool)) (*lvReader, error) {
	count, _ := lv.num("segment_count")
	if count < 1 || count > 1<<16 {
		return nil, fmt.Errorf("%d segments", count)
	}
	extent := extentSize * 512
	r := &lvReader{}
	for i := int64(1); i <= count; i++ {
		seg := lv.sub(fmt.Sprintf("segment%d", i))
		if seg == nil {
			return nil, fmt.Errorf("segment%d missing", i)
		}
		typ := seg.str("type")
		stripes, _ := seg["stripes"].([]any)
		stripeCount, _ := seg.num("stripe_count")
		if typ != "striped" || stripeCount != 1 || len(stripes) != 2 {
			return nil, fmt.Errorf("segment%d is %q with %d stripes: only linear logical volumes are read", i, typ, stripeCount)
		}
		startExtent, _ := seg.num("start_extent")
		extents, _ := seg.num("extent_count")
		pvName, _ := stripes[0].(string)
		pvExtent, _ := stripes[1].(int64)
		pv, pvSize, peStart, ok := pvOf(pvName)
		if !ok {
			return nil, fmt.Errorf("segment%d is on %s, which is not in this image", i, pvName)
		}
		if startExtent < 0 || extents <= 0 || pvExtent < 0 || extents > (1<<62)/extent || pvExtent > (1<<62)/extent {
			return nil, fmt.Errorf("segment%d: extents %d+%d on PV extent %d", i, startExtent, extents, pvExtent)
		}
		s := lvSegment{start: startExtent * extent, size: extents * extent, pvOffset: peStart + pvExtent*extent, pv: pv}
		if s.pvOffset+s.size > pvSize {
			return nil, fmt.Errorf("segment%d ends past its PV: truncated image?", i)
		}
		if s.start != r.size {
			return nil, fmt.Errorf("segment%d starts at extent %d, not where the one before ended", i, startExtent)
		}
		r.segs = append(r.segs, s)
		r.size += s.size
	}
	return r, nil
}

func (r *lvReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	n := 0
	for len(p) > 0 {
		if off >= r.size {
			return n, io.EOF
		}
		i := sort.Search(len(r.segs), func(i int) bool { return r.segs[i].start+r.segs[i].size > off })
		s := r.segs[i]
		chunk := p[:min(int64(len(p)), s.start+s.size-off)]
		m, err := s.pv.ReadAt(chunk, s.pvOffset+off-s.start)
		n += m
		if m < len(chunk) {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return n, err
		}
		p, off = p[len(chunk):], off+int64(len(chunk))
	}
	return n, nil
}

// validName says whether name is a VG or LV name LVM would make: letters,
// digits and "+_.-", not "." or "..", not starting with "-". Names become
// path elements, so nothing else is let through.
func validName(name string) bool {
	if name == "" || name == "." || name == ".." || name[0] == '-' || len(name) > 128 {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !isIdent(name[i]) {
			return false
		}
	}
	return true
}
