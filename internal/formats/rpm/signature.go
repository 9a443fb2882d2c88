package rpm

import (
	"bytes"
	"fmt"
	"io"
)

// Signed is what an RPM's signatures cover: the signature header's tags
// and the main header exactly as stored. The reader it came from is left
// at the start of the payload.
type Signed struct {
	sig, main *header
	// Header is the main header's bytes (magic, index and store), the
	// bytes the header-only signatures and digests are made over.
	Header []byte
	// Offset is where the payload starts in the package.
	Offset int64
}

// typeBin is RPM_BIN_TYPE: opaque bytes (a signature packet, an MD5).
const typeBin = 7

// ReadSigned reads the lead, the signature header and the main header of
// the RPM package r, keeping the main header's bytes.
func ReadSigned(r io.Reader) (*Signed, error) {
	var offset int64
	if err := readLead(r, &offset); err != nil {
		return nil, err
	}
	sig, err := readHeader(r, &offset, true)
	if err != nil {
		return nil, err
	}
	var raw bytes.Buffer
	main, err := readHeader(io.TeeReader(r, &raw), &offset, false)
	if err != nil {
		return nil, err
	}
	return &Signed{sig: sig, main: main, Header: raw.Bytes(), Offset: offset}, nil
}

// SigBinary returns a binary tag of the signature header (e.g. an
// OpenPGP signature packet); ok is false when the tag is absent.
func (s *Signed) SigBinary(tag uint32) (val []byte, ok bool, err error) {
	e, ok := s.sig.index[tag]
	if !ok {
		return nil, false, nil
	}
	if e.typ != typeBin {
		return nil, true, fmt.Errorf("signature tag %d: type %d is not binary", tag, e.typ)
	}
	// check bounded offset+count by the store when the header was read.
	return s.sig.store[e.offset : e.offset+e.count], true, nil
}

// SigString returns a string tag of the signature header, "" if absent.
func (s *Signed) SigString(tag uint32) string { return s.sig.str(tag) }

// SigInts returns an integer tag of the signature header.
func (s *Signed) SigInts(tag uint32) ([]int64, bool, error) { return s.sig.ints(tag) }

// HeaderStrings returns a string or string-array tag of the main header.
func (s *Signed) HeaderStrings(tag uint32) ([]string, bool, error) { return s.main.strings(tag) }

// HeaderInts returns an integer tag of the main header.
func (s *Signed) HeaderInts(tag uint32) ([]int64, bool, error) { return s.main.ints(tag) }

// readLead reads and checks the lead: the magic and a version RPM 4 reads.
func readLead(r io.Reader, offset *int64) error {
	var lead [leadSize]byte
	if err := readFull(r, lead[:], offset); err != nil {
		return err
	}
	if !bytes.Equal(lead[:4], Lead) {
		return corrupt(0, "not an RPM package")
	}
	if lead[4] < 3 || lead[4] > 4 {
		return corrupt(4, fmt.Sprintf("RPM format version %d is not supported", lead[4]))
	}
	return nil
}
