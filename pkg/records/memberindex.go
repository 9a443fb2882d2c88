package records

import (
	"math"
	"unsafe"
)

// memberIndex is where the top-level members of a Raw's line lie, kept by
// the Reader from the scan that found the line's type, so that a stage
// that reads a record's fields (Raw.Members) does not scan the line a
// second time: that second scan was about a tenth of hashr-load's
// instructions per record (callgrind). It is kept inside the Raw, not in
// a slice of its own, so that it costs no allocation, and small (16-bit
// offsets), since every byte of it is allocated with each record and the
// collector's share grows with them. A line over 64 KiB, or with more
// members than it holds, or a name with escapes, is not indexed, and
// Raw.Members scans it.
type memberIndex struct {
	line    *byte  // the line indexed, so that a Raw whose Line was replaced is scanned
	lineLen uint16 // its length
	n       int8   // members indexed; -1 when the line could not be
	at      [maxIndexedMembers]memberAt
}

// maxIndexedMembers covers a file record with every field the contract
// gives it (20 with its type).
const maxIndexedMembers = 20

// memberAt is one member's name and value as offsets into the line.
type memberAt struct{ name, nameEnd, value, valueEnd uint16 }

// add notes the member whose name starts at nameStart in data (name is
// what the scanner made of it) and whose value is data[valueStart:valueEnd].
func (x *memberIndex) add(data []byte, nameStart int, name []byte, valueStart, valueEnd int) {
	if x.n < 0 {
		return
	}
	nameEnd := nameStart + len(name)
	// A name with escapes was unescaped into bytes of its own: it is not
	// the line's bytes, and an index could only give the line's.
	plain := nameEnd < len(data) && data[nameEnd] == '"' && string(data[nameStart:nameEnd]) == string(name)
	if !plain || int(x.n) == len(x.at) || len(data) > math.MaxUint16 {
		x.n = -1
		return
	}
	x.at[x.n] = memberAt{uint16(nameStart), uint16(nameEnd), uint16(valueStart), uint16(valueEnd)}
	x.n++
}

// indexed notes that the index was made for line (when it could be).
func (x *memberIndex) indexed(line []byte) {
	if x.n >= 0 && len(line) <= math.MaxUint16 {
		x.line, x.lineLen = unsafe.SliceData(line), uint16(len(line))
	}
}

// of says whether the index was made for line and is whole.
func (x *memberIndex) of(line []byte) bool {
	return x.n >= 0 && x.line != nil && x.line == unsafe.SliceData(line) && int(x.lineLen) == len(line)
}

// Members calls visit with the name and raw value bytes of every top-level
// member of the record's line, in order, until visit returns false, as
// the function Members does; name and value are slices of Line (but a
// name with escapes, which is decoded). A Raw from a Reader had its line
// checked and its members found when it was read, and they are not looked
// for again; the error is then nil. A Raw made otherwise, or whose Line
// was replaced, is scanned. The Line must not have been written in place.
func (r *Raw) Members(visit func(name, value []byte) bool) error {
	if !r.index.of(r.Line) {
		return Members(r.Line, visit)
	}
	line := r.Line
	for _, m := range r.index.at[:r.index.n] {
		if !visit(line[m.name:m.nameEnd], line[m.value:m.valueEnd]) {
			break
		}
	}
	return nil
}
