package authenticode

import (
	"crypto"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"

	"github.com/hashr-dev/hashr/pkg/records"
)

// A PE file (.exe, .dll, .sys) keeps its signature in the certificate
// table the optional header's data directory 4 points at, by file offset,
// at the end of the file. The Authenticode digest covers the whole file
// but the optional header's CheckSum, that directory entry, and the table
// itself, all of which signing writes.

// peHeadBytes is what PEVerifier holds before it finds the headers: DOS
// stub, PE signature, COFF and optional headers are in the first KiB of
// any real file.
const peHeadBytes = 64 << 10

// peDigests are the digests a PE's signature may use; which one is known
// only from the signature at the file's end, so both run as it streams.
var peDigests = []crypto.Hash{crypto.SHA1, crypto.SHA256}

// PEVerifier checks a PE file's Authenticode signature from its bytes as
// they stream by (written to it in order, as hashr-extract copies a
// member): it hashes them as the signature will need and keeps the
// signature, and Verify then checks it.
type PEVerifier struct {
	head    []byte // the first bytes, until the headers are read
	pos     int64  // bytes written
	layout  *peLayout
	err     error // the file is no PE, or its signature table is bad
	sums    map[crypto.Hash]hash.Hash
	hashing io.Writer
	sig     []byte
	after   int64 // bytes after the certificate table
}

// ErrNotPE says a file is no PE file at all.
var ErrNotPE = errors.New("not a PE file")

// peLayout is where signing wrote in a PE file.
type peLayout struct {
	checksum, certDir int64 // offsets of the CheckSum and directory entry 4
	certOff, certSize int64 // the certificate table
}

// NewPEVerifier starts checking a PE file.
func NewPEVerifier() *PEVerifier {
	v := &PEVerifier{sums: map[crypto.Hash]hash.Hash{}}
	var ws []io.Writer
	for _, h := range peDigests {
		v.sums[h] = h.New()
		ws = append(ws, v.sums[h])
	}
	v.hashing = io.MultiWriter(ws...)
	return v
}

// Write takes the file's next bytes. It never fails: what is wrong with
// the file is Verify's error.
func (v *PEVerifier) Write(b []byte) (int, error) {
	n := len(b)
	if v.err != nil {
		return n, nil
	}
	if v.layout == nil {
		v.head = append(v.head, b...)
		if len(v.head) < peHeadBytes {
			return n, nil
		}
		v.start()
		return n, nil
	}
	v.feed(b)
	return n, nil
}

// start reads the headers from the bytes held, then hashes them.
func (v *PEVerifier) start() {
	v.layout, v.err = readPELayout(v.head)
	if v.err != nil {
		return
	}
	head := v.head
	v.head = nil
	v.feed(head)
}

// feed hashes b, the bytes at v.pos, but for the parts signing wrote,
// and keeps the certificate table's.
func (v *PEVerifier) feed(b []byte) {
	l := v.layout
	for len(b) > 0 {
		pos := v.pos
		var n int64
		switch {
		case pos >= l.certOff+l.certSize:
			n = int64(len(b))
			v.after += n
		case pos >= l.certOff:
			n = min(int64(len(b)), l.certOff+l.certSize-pos)
			v.sig = append(v.sig, b[:n]...)
		case pos >= l.checksum && pos < l.checksum+4:
			n = min(int64(len(b)), l.checksum+4-pos)
		case pos >= l.certDir && pos < l.certDir+8:
			n = min(int64(len(b)), l.certDir+8-pos)
		default:
			n = min(int64(len(b)), nextAfter(pos, l.checksum, l.certDir, l.certOff)-pos)
			v.hashing.Write(b[:n])
		}
		b = b[n:]
		v.pos += n
	}
}

// nextAfter is the least of offs beyond pos.
func nextAfter(pos int64, offs ...int64) int64 {
	next := int64(1<<63 - 1)
	for _, o := range offs {
		if o > pos && o < next {
			next = o
		}
	}
	return next
}

// readPELayout finds, in a PE file's first bytes, where signing wrote.
// A file without a certificate table is ErrUnsigned.
func readPELayout(head []byte) (*peLayout, error) {
	if len(head) < 0x40 || string(head[:2]) != "MZ" {
		return nil, fmt.Errorf("%w (no MZ header)", ErrNotPE)
	}
	pe := int64(binary.LittleEndian.Uint32(head[0x3c:]))
	opt := pe + 24
	if opt+2 > int64(len(head)) || string(head[pe:pe+4]) != "PE\x00\x00" {
		return nil, fmt.Errorf("%w (no PE signature where the DOS header points)", ErrNotPE)
	}
	var dirs, count int64
	switch magic := binary.LittleEndian.Uint16(head[opt:]); magic {
	case 0x10b: // PE32
		dirs, count = opt+96, opt+92
	case 0x20b: // PE32+
		dirs, count = opt+112, opt+108
	default:
		return nil, fmt.Errorf("PE optional header magic %#x is neither PE32 nor PE32+", magic)
	}
	certDir := dirs + 4*8
	if certDir+8 > int64(len(head)) || binary.LittleEndian.Uint32(head[count:]) < 5 {
		return nil, ErrUnsigned
	}
	l := &peLayout{checksum: opt + 64, certDir: certDir,
		certOff:  int64(binary.LittleEndian.Uint32(head[certDir:])),
		certSize: int64(binary.LittleEndian.Uint32(head[certDir+4:]))}
	switch {
	case l.certSize == 0:
		return nil, ErrUnsigned
	case l.certOff < certDir+8:
		return nil, fmt.Errorf("the certificate table at %d overlaps the PE headers", l.certOff)
	case l.certSize > maxSignatureBytes:
		return nil, fmt.Errorf("the certificate table: %d bytes, over the %d MiB no real signature comes near", l.certSize, maxSignatureBytes>>20)
	}
	return l, nil
}

// Verify checks the signature of the file written, as VerifyCABAt does
// a cabinet's.
func (v *PEVerifier) Verify(roots *x509.CertPool, now time.Time) (records.Verified, error) {
	if v.layout == nil && v.err == nil {
		v.start() // a file shorter than peHeadBytes
	}
	if v.err != nil {
		return records.Verified{}, v.err
	}
	l := v.layout
	if int64(len(v.sig)) != l.certSize {
		return records.Verified{}, fmt.Errorf("the certificate table at %d, %d bytes, is past the file's %d", l.certOff, l.certSize, v.pos)
	}
	if v.after > 0 {
		return records.Verified{}, fmt.Errorf("%d bytes follow the certificate table, which the signature does not cover", v.after)
	}
	blob, err := firstPKCS7(v.sig)
	if err != nil {
		return records.Verified{}, err
	}
	sig, err := ParseSignature(blob)
	if err != nil {
		return records.Verified{}, err
	}
	return sig.verify(func(h crypto.Hash) ([]byte, error) {
		if d, ok := v.sums[h]; ok {
			return d.Sum(nil), nil
		}
		return nil, fmt.Errorf("a PE signature's %v digest is not supported (SHA-1 and SHA-256 are)", h)
	}, roots, now)
}

// firstPKCS7 returns the PKCS#7 SignedData of the certificate table's
// first WIN_CERTIFICATE: dwLength, wRevision, wCertificateType 2.
func firstPKCS7(table []byte) ([]byte, error) {
	if len(table) < 8 {
		return nil, errors.New("the certificate table is shorter than a WIN_CERTIFICATE header")
	}
	length := binary.LittleEndian.Uint32(table)
	if kind := binary.LittleEndian.Uint16(table[6:]); kind != 2 {
		return nil, fmt.Errorf("the certificate table holds a certificate of type %d, not PKCS#7 SignedData (2)", kind)
	}
	if length < 8 || int64(length) > int64(len(table)) {
		return nil, fmt.Errorf("the WIN_CERTIFICATE's length %d does not fit its %d-byte table", length, len(table))
	}
	return table[8:length], nil // ParseSignature ignores the padding after the DER
}

// VerifyPE checks the Authenticode signature of the PE file r holds.
func VerifyPE(r io.Reader, roots *x509.CertPool, now time.Time) (records.Verified, error) {
	v := NewPEVerifier()
	if _, err := io.Copy(v, r); err != nil {
		return records.Verified{}, err
	}
	return v.Verify(roots, now)
}
