package ntfs

import (
	"fmt"
	"io"
	"sort"
)

// maxCompUnit bounds a compression unit's size (Windows writes 16
// clusters of at most 4 KiB: 64 KiB).
const maxCompUnit = 1 << 20

// stream is one data stream of a file, read at random.
type stream struct {
	w         *Walker
	resident  []byte // the bytes of a resident stream
	runs      []run
	size      int64 // bytes of data
	init      int64 // bytes written; the rest reads as zeros
	encrypted bool
	// compressed streams: unit clusters per compression unit
	unit int64
	// the last compression unit decoded
	unitIdx  int64
	unitData []byte
	unitBuf  []byte
}

// openStream gathers the $DATA attributes named name of a record (attrs,
// or rec's own when nil): a large or fragmented stream is several
// attributes, each with a part of the run list. It returns nil when the
// record has no such stream.
func (w *Walker) openStream(rec *record, attrs []attribute, name string) (*stream, error) {
	if attrs == nil {
		attrs = rec.attrs
	}
	var parts []*attribute
	for i := range attrs {
		if attrs[i].typ == attrData && attrs[i].name == name {
			parts = append(parts, &attrs[i])
		}
	}
	if len(parts) == 0 {
		return nil, nil
	}
	first := parts[0]
	if first.resident {
		return &stream{w: w, resident: first.value, size: int64(len(first.value)), init: int64(len(first.value))}, nil
	}
	sort.SliceStable(parts, func(i, j int) bool { return parts[i].startVCN < parts[j].startVCN })
	first = parts[0]
	if first.startVCN != 0 {
		return nil, fmt.Errorf("data stream %q starts at cluster %d, not 0 (its first extent record is missing)", name, first.startVCN)
	}
	s := &stream{w: w, size: int64(first.dataSize), init: int64(first.initSize), unitIdx: -1,
		encrypted: first.flags&flagEncrypted != 0}
	if s.size < 0 || s.init < 0 || s.size > w.size<<6 {
		return nil, fmt.Errorf("data stream %q of %d bytes", name, first.dataSize)
	}
	if s.init > s.size {
		s.init = s.size
	}
	vcn := int64(0)
	for _, p := range parts {
		if p.resident {
			return nil, fmt.Errorf("data stream %q mixes resident and non-resident parts", name)
		}
		for _, r := range p.runs {
			if r.vcn != vcn {
				return nil, fmt.Errorf("data stream %q: run at cluster %d where %d was expected", name, r.vcn, vcn)
			}
			if r.lcn >= 0 && (r.lcn+r.length)*w.boot.clusterSize > w.size {
				return nil, fmt.Errorf("data stream %q: clusters %d+%d outside the volume", name, r.lcn, r.length)
			}
			vcn += r.length
			s.runs = append(s.runs, r)
			if len(s.runs) > 1<<22 {
				return nil, fmt.Errorf("data stream %q has more than %d runs", name, 1<<22)
			}
		}
	}
	if vcn*w.boot.clusterSize < s.size && first.flags&flagCompressed == 0 {
		return nil, fmt.Errorf("data stream %q of %d bytes maps only %d clusters", name, s.size, vcn)
	}
	if first.flags&flagCompressed != 0 && first.compUnit != 0 {
		if first.compUnit > 16 || (int64(1)<<first.compUnit)*w.boot.clusterSize > maxCompUnit {
			return nil, fmt.Errorf("data stream %q: compression unit of 2^%d clusters", name, first.compUnit)
		}
		s.unit = 1 << first.compUnit
	}
	return s, nil
}

// ReadAt reads the stream's bytes at off.
func (s *stream) ReadAt(p []byte, off int64) (int, error) {
	if off >= s.size {
		return 0, io.EOF
	}
	if s.resident != nil {
		n := copy(p, s.resident[off:])
		if n < len(p) {
			return n, io.EOF
		}
		return n, nil
	}
	want := len(p)
	if int64(want) > s.size-off {
		p = p[:s.size-off]
	}
	var n int
	var err error
	if s.unit > 0 {
		n, err = s.readCompressed(p, off)
	} else {
		n, err = s.readPlain(p, off)
	}
	if err == nil && n < want {
		err = io.EOF
	}
	return n, err
}

// findRun returns the index of the run holding cluster vcn, or -1.
func (s *stream) findRun(vcn int64) int {
	i := sort.Search(len(s.runs), func(i int) bool { return s.runs[i].vcn+s.runs[i].length > vcn })
	if i < len(s.runs) && s.runs[i].vcn <= vcn {
		return i
	}
	return -1
}

// readPlain reads an uncompressed (possibly sparse) stream.
func (s *stream) readPlain(p []byte, off int64) (int, error) {
	cs := s.w.boot.clusterSize
	done := 0
	for done < len(p) {
		pos := off + int64(done)
		if pos >= s.init {
			clear(p[done:])
			return len(p), nil
		}
		vcn := pos / cs
		i := s.findRun(vcn)
		if i < 0 {
			return done, corrupt(-1, fmt.Sprintf("no run maps cluster %d of a stream", vcn))
		}
		r := s.runs[i]
		runEnd := (r.vcn + r.length) * cs
		n := int(min(int64(len(p)-done), runEnd-pos, s.init-pos))
		if r.lcn < 0 {
			clear(p[done : done+n])
		} else {
			at := r.lcn*cs + (pos - r.vcn*cs)
			m, err := s.w.r.ReadAt(p[done:done+n], at)
			if m < n {
				if err == nil || err == io.EOF {
					err = corrupt(at, "truncated: data beyond the end of the image")
				}
				return done + m, err
			}
		}
		done += n
	}
	return done, nil
}

// readCompressed reads a compressed stream a compression unit at a time.
func (s *stream) readCompressed(p []byte, off int64) (int, error) {
	cs := s.w.boot.clusterSize
	unitBytes := s.unit * cs
	done := 0
	for done < len(p) {
		pos := off + int64(done)
		idx := pos / unitBytes
		if idx != s.unitIdx {
			if err := s.decodeUnit(idx); err != nil {
				return done, err
			}
		}
		in := pos - idx*unitBytes
		n := copy(p[done:], s.unitData[in:])
		done += n
	}
	return done, nil
}

// decodeUnit decodes compression unit idx: all sparse is zeros, all
// allocated is stored as it is, allocated then sparse is LZNT1.
func (s *stream) decodeUnit(idx int64) error {
	cs := s.w.boot.clusterSize
	unitBytes := s.unit * cs
	if s.unitData == nil {
		s.unitData = make([]byte, unitBytes)
		s.unitBuf = make([]byte, unitBytes)
	}
	s.unitIdx = -1
	first := idx * s.unit
	raw := s.unitBuf[:0]
	allocated := int64(0)
	for vcn := first; vcn < first+s.unit; {
		i := s.findRun(vcn)
		if i < 0 {
			break // past the mapped clusters: the rest is sparse
		}
		r := s.runs[i]
		n := min(r.vcn+r.length, first+s.unit) - vcn
		if r.lcn >= 0 {
			at := (r.lcn + vcn - r.vcn) * cs
			start := len(raw)
			raw = raw[:start+int(n*cs)]
			if m, err := s.w.r.ReadAt(raw[start:], at); m < int(n*cs) {
				if err == nil || err == io.EOF {
					err = corrupt(at, "truncated: data beyond the end of the image")
				}
				return err
			}
			allocated += n
		}
		vcn += n
	}
	out := s.unitData
	switch {
	case allocated == 0:
		clear(out)
	case allocated == s.unit:
		copy(out, raw)
	default:
		n, err := lznt1(out, raw)
		if err != nil {
			return corrupt(-1, fmt.Sprintf("compression unit %d: %v", idx, err))
		}
		clear(out[n:])
	}
	// Past the initialized size reads as zeros.
	if end := (idx + 1) * unitBytes; end > s.init {
		from := max(0, s.init-idx*unitBytes)
		clear(out[from:])
	}
	s.unitIdx = idx
	return nil
}
