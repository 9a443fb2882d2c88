package authenticode

import (
	"encoding/binary"
	"testing"
	"time"
)

// FuzzVerifyCAB: a hostile cabinet header or signature blob never panics
// and never verifies without a root store.
func FuzzVerifyCAB(f *testing.F) {
	head := make([]byte, 80)
	copy(head, "MSCF")
	binary.LittleEndian.PutUint16(head[30:], cabFlagReserve)
	binary.LittleEndian.PutUint16(head[36:], cabSignedReserve)
	binary.LittleEndian.PutUint32(head[40:], 0x00100000)
	binary.LittleEndian.PutUint32(head[44:], 64)
	binary.LittleEndian.PutUint32(head[48:], 16)
	copy(head[64:], []byte{0x30, 0x0e, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02, 0xa0, 0x01, 0x00})
	f.Add(head)
	f.Add([]byte("MSCF"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if res, _ := VerifyCAB(data, nil, time.Unix(0, 0)); res.OK {
			t.Fatalf("verified without roots: %+v", res)
		}
	})
}

// FuzzSignature: a hostile PKCS#7 blob, its timestamps included (RFC
// 3161 tokens and countersignatures are parsed here, not by a library),
// never panics, and its timestamp never makes a chain check pass without
// a root store. The seeds in testdata/fuzz/FuzzSignature are osslsigncode
// signatures with an RFC 3161 timestamp (TestWriteSignatureSeeds).
func FuzzSignature(f *testing.F) {
	f.Add([]byte{0x30, 0x03, 0x06, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, blob []byte) {
		sig, err := ParseSignature(blob)
		if err != nil {
			return
		}
		sig.Timestamp()
		if at, how := sig.signingTime(nil, time.Unix(0, 0)); !at.Equal(time.Unix(0, 0)) {
			t.Fatalf("a timestamp used without roots: %s", how)
		}
		sig.checkSignerSignature()
	})
}

// FuzzPEVerifier: a hostile PE header or certificate table never panics
// and never verifies without a root store.
func FuzzPEVerifier(f *testing.F) {
	head := make([]byte, 0x200)
	copy(head, "MZ")
	binary.LittleEndian.PutUint32(head[0x3c:], 0x80)
	copy(head[0x80:], "PE\x00\x00")
	binary.LittleEndian.PutUint16(head[0x98:], 0x20b)
	binary.LittleEndian.PutUint32(head[0x98+108:], 16)
	binary.LittleEndian.PutUint32(head[0x98+112+32:], 0x1f0)
	binary.LittleEndian.PutUint32(head[0x98+112+36:], 0x10)
	binary.LittleEndian.PutUint32(head[0x1f0:], 0x10)
	binary.LittleEndian.PutUint16(head[0x1f6:], 2)
	f.Add(head)
	f.Fuzz(func(t *testing.T, data []byte) {
		v := NewPEVerifier()
		v.Write(data)
		if res, _ := v.Verify(nil, time.Unix(0, 0)); res.OK {
			t.Fatalf("verified without roots: %+v", res)
		}
	})
}
