// Package authenticode verifies the Authenticode signature of a cabinet
// (.cab, and the .msu that wraps one): the PKCS#7 SignedData kept in the
// CAB header's reserve area, the SpcIndirectDataContent digest over the
// cabinet's bytes, the signer's signature over its authenticated
// attributes, and the certificate chain up to a root store the user
// names.
//
// The PKCS#7 structures are walked with the standard library's
// encoding/asn1, and certificates, chains and signatures checked with
// crypto/x509, crypto/rsa and crypto/ecdsa: no PKCS#7 module is on the
// module proxy this project may use (go.mozilla.org/pkcs7 and
// smallstep/pkcs7 are not served), and Authenticode needs only the
// SignedData subset, about 100 lines of structure definitions. No
// cryptographic primitive is written here.
package authenticode

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// By names this scheme in a records.Verified (verify.Result).
const By = "authenticode"

// CAB header fields (the Microsoft Cabinet format's CFHEADER).
const (
	cabFlagReserve   = 0x0004
	cabSignedReserve = 20 // cbCFHeader of a signed cabinet
	cabHeaderMin     = 60 // CFHEADER through its 20-byte signature reserve
)

// ErrUnsigned says a cabinet or a PE file carries no signature.
var ErrUnsigned = errors.New("the file carries no Authenticode signature")

// locateCABSignature finds the PKCS#7 blob of a signed cabinet of size
// bytes from its header: the reserve area (cbCFHeader 20, starting
// 0x00100000) holds its offset and size, and the blob ends the file.
func locateCABSignature(head []byte, size int64) (offset, sigSize uint32, err error) {
	if len(head) < 36 || string(head[:4]) != "MSCF" {
		return 0, 0, errors.New("not a cabinet (no MSCF signature)")
	}
	flags := binary.LittleEndian.Uint16(head[30:32])
	if flags&cabFlagReserve == 0 {
		return 0, 0, ErrUnsigned
	}
	if len(head) < cabHeaderMin {
		return 0, 0, errors.New("cabinet header truncated")
	}
	if binary.LittleEndian.Uint16(head[36:38]) != cabSignedReserve || binary.LittleEndian.Uint32(head[40:44]) != 0x00100000 {
		return 0, 0, ErrUnsigned
	}
	offset, sigSize = binary.LittleEndian.Uint32(head[44:48]), binary.LittleEndian.Uint32(head[48:52])
	if offset < cabHeaderMin || sigSize == 0 || int64(offset)+int64(sigSize) != size {
		return 0, 0, fmt.Errorf("signature at %d, %d bytes, does not end the %d-byte cabinet", offset, sigSize, size)
	}
	return offset, sigSize, nil
}

// cabSignedRanges are the parts of a signed cabinet its Authenticode
// digest covers, as Windows (and osslsigncode) compute it: the magic, the
// header from cbCabinet through setID, the last 4 bytes of the reserve,
// and everything after the header up to the signature. iCabinet, the
// reserve sizes and the signature's offset and size are left out, since
// signing writes them.
func cabSignedRanges(sigOffset int64) []byteRange {
	return []byteRange{{0, 4}, {8, 34}, {56, sigOffset}}
}
