package iso9660

import (
	"encoding/binary"
	"strings"
	"time"
)

// rockRidge reads the SUSP entries of a record's system use area, and of
// the continuation areas (CE) they chain to.
func (w *Walker) rockRidge(rec *record, su []byte) error {
	if w.skip > 0 {
		if w.skip >= len(su) {
			return nil
		}
		su = su[w.skip:]
	}
	var name, link strings.Builder
	nameDone, linkDone := false, false
	for hops := 0; ; hops++ {
		var next *extent
		var nextOff uint32
		for len(su) >= 4 {
			sig, n := string(su[0:2]), int(su[2])
			if n < 4 || n > len(su) {
				break // padding or garbage: the area ends here
			}
			body := su[4:n]
			su = su[n:]
			switch sig {
			case "NM":
				if len(body) < 1 || nameDone {
					continue
				}
				flags := body[0]
				if flags&0x06 != 0 { // "." or ".."
					continue
				}
				name.Write(body[1:])
				nameDone = flags&0x01 == 0
			case "PX":
				if len(body) >= 8 {
					rec.mode = binary.LittleEndian.Uint32(body[0:4])
					rec.hasMode = true
				}
			case "SL":
				if len(body) < 1 || linkDone {
					continue
				}
				rec.isLink = true
				linkDone = body[0]&0x01 == 0
				appendSymlink(&link, body[1:])
			case "TF":
				if t, ok := modifyTime(body); ok {
					rec.mtime = t
				}
			case "CL":
				if len(body) >= 4 {
					rec.relocDir = binary.LittleEndian.Uint32(body[0:4])
				}
			case "RE":
				rec.hidden = true
			case "CE":
				if len(body) >= 24 {
					next = &extent{lba: binary.LittleEndian.Uint32(body[0:4]), size: binary.LittleEndian.Uint32(body[16:20])}
					nextOff = binary.LittleEndian.Uint32(body[8:12])
				}
			case "ST":
				su = nil
			}
		}
		if next == nil || hops >= maxCE {
			break
		}
		// A continuation area lies within one sector.
		if next.size == 0 || nextOff >= sectorSize || next.size > sectorSize-nextOff {
			return corrupt(int64(next.lba)*sectorSize, "bad Rock Ridge continuation area")
		}
		buf := make([]byte, next.size)
		off := int64(next.lba)*sectorSize + int64(nextOff)
		if off+int64(next.size) > w.size {
			return corrupt(off, "Rock Ridge continuation area beyond the end of the image")
		}
		if _, err := w.r.ReadAt(buf, off); err != nil {
			return corrupt(off, "unreadable Rock Ridge continuation area")
		}
		su = buf
	}
	if name.Len() > 0 {
		rec.name = name.String()
	}
	if rec.isLink {
		rec.symlink = link.String()
		if len(rec.symlink) > 1 {
			rec.symlink = strings.TrimSuffix(rec.symlink, "/")
		}
	}
	return nil
}

// appendSymlink adds the components of one SL entry to a symlink target.
// A component flagged "continues" is joined to the next without a slash.
func appendSymlink(b *strings.Builder, comps []byte) {
	for len(comps) >= 2 {
		flags, n := comps[0], int(comps[1])
		if 2+n > len(comps) {
			return
		}
		text := comps[2 : 2+n]
		comps = comps[2+n:]
		switch {
		case flags&0x02 != 0:
			b.WriteString(".")
		case flags&0x04 != 0:
			b.WriteString("..")
		case flags&0x08 != 0:
			b.WriteString("")
		default:
			b.Write(text)
		}
		if flags&0x01 == 0 {
			b.WriteByte('/')
		}
	}
}

// modifyTime finds the modification time in a TF entry.
func modifyTime(body []byte) (time.Time, bool) {
	if len(body) < 1 {
		return time.Time{}, false
	}
	flags := body[0]
	size := 7
	if flags&0x80 != 0 {
		size = 17
	}
	p := 1
	if flags&0x01 != 0 { // creation time comes first
		p += size
	}
	if flags&0x02 == 0 || p+size > len(body) {
		return time.Time{}, false
	}
	b := body[p : p+size]
	if size == 7 {
		t := recordTime(b)
		return t, !t.IsZero()
	}
	// 17-byte form: "YYYYMMDDHHMMSScc" digits then a zone byte
	t, err := time.Parse("20060102150405", string(b[:14]))
	if err != nil {
		return time.Time{}, false
	}
	zone := time.FixedZone("", int(int8(b[16]))*15*60)
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, zone), true
}
