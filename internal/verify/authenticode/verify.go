package authenticode

import (
	"bytes"
	"crypto"
	_ "crypto/sha1" // SHA-1 Authenticode digests of older Windows updates
	_ "crypto/sha256"
	_ "crypto/sha512"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/hashr-dev/hashr/pkg/records"
)

// ErrMismatch is wrapped when the file's bytes are not those signed.
var ErrMismatch = errors.New("the file's bytes are not the ones signed")

// Signature is a parsed Authenticode SignedData.
type Signature struct {
	sd     signedData
	signer signerInfo
	// Leaf is the signer's certificate, Certs every certificate carried.
	Leaf  *x509.Certificate
	Certs []*x509.Certificate
	idc   spcIndirectDataContent
	// idcValue is the SpcIndirectDataContent's value bytes, without its
	// SEQUENCE header: what the messageDigest attribute covers.
	idcValue []byte
}

// maxSignatureBytes bounds a signature blob read into memory: real
// ones, certificates and timestamps included, stay under 64 KiB.
const maxSignatureBytes = 8 << 20

// LoadRoots reads a root store: the PEM certificates of every file
// (--roots FILE, repeatable).
func LoadRoots(paths ...string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("reading root store: %w", err)
		}
		if !pool.AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("reading root store %q: no PEM certificate in it (hint: give CA certificates as -----BEGIN CERTIFICATE----- blocks)", path)
		}
	}
	return pool, nil
}

// VerifyCAB checks a cabinet's Authenticode signature, as VerifyCABAt.
func VerifyCAB(data []byte, roots *x509.CertPool, now time.Time) (records.Verified, error) {
	return VerifyCABAt(bytes.NewReader(data), int64(len(data)), roots, now)
}

// VerifyCABAt checks the Authenticode signature of the cabinet of size
// bytes in r, and its chain against roots (nil: the chain is not
// checked, and the Result says so with OK false). The Result names the
// signer's subject whenever the signature parses, also on failure.
func VerifyCABAt(r io.ReaderAt, size int64, roots *x509.CertPool, now time.Time) (records.Verified, error) {
	head := make([]byte, min(size, cabHeaderMin))
	if _, err := r.ReadAt(head, 0); err != nil {
		return records.Verified{}, fmt.Errorf("reading the cabinet's header: %w", err)
	}
	offset, sigSize, err := locateCABSignature(head, size)
	if err != nil {
		return records.Verified{}, fmt.Errorf("locating the cabinet's signature: %w", err)
	}
	sig, err := readSignature(r, int64(offset), int64(sigSize))
	if err != nil {
		return records.Verified{}, err
	}
	return sig.verify(func(h crypto.Hash) ([]byte, error) {
		return digestRanges(r, h, cabSignedRanges(int64(offset)))
	}, roots, now)
}

// readSignature reads and parses the size-byte blob at offset of r.
func readSignature(r io.ReaderAt, offset, size int64) (*Signature, error) {
	if size > maxSignatureBytes {
		return nil, fmt.Errorf("reading the signature: %d bytes, over the %d MiB no real signature comes near", size, maxSignatureBytes>>20)
	}
	blob := make([]byte, size)
	if _, err := r.ReadAt(blob, offset); err != nil {
		return nil, fmt.Errorf("reading the signature: %w", err)
	}
	return ParseSignature(blob)
}

// verify checks the signed digest (digestOf computes the file's with the
// signature's algorithm), the signer's signature, and the chain up to
// roots at the signing time a valid timestamp vouches for, else at now.
func (s *Signature) verify(digestOf func(crypto.Hash) ([]byte, error), roots *x509.CertPool, now time.Time) (records.Verified, error) {
	res := records.Verified{By: By, Signer: s.Leaf.Subject.String()}
	h, err := hashFor(s.idc.MessageDigest.Algorithm.Algorithm)
	if err != nil {
		return res, err
	}
	got, err := digestOf(h)
	if err != nil {
		return res, fmt.Errorf("computing the file's digest: %w", err)
	}
	if !bytes.Equal(got, s.idc.MessageDigest.Digest) {
		return res, fmt.Errorf("%w: %v digest %x, signed %x", ErrMismatch, h, got, s.idc.MessageDigest.Digest)
	}
	if err := s.checkSignerSignature(); err != nil {
		return res, err
	}
	if roots == nil {
		res.Detail = fmt.Sprintf("%v digest and signature match; certificate chain not checked: no --roots given", h)
		return res, nil
	}
	at, how := s.signingTime(roots, now)
	if err := s.checkChain(roots, at); err != nil {
		return res, fmt.Errorf("%w (%s)", err, how)
	}
	res.OK = true
	res.Detail = fmt.Sprintf("%v digest, signature and certificate chain verified; %s", h, how)
	return res, nil
}

// ParseSignature parses a PKCS#7 SignedData holding Authenticode content.
func ParseSignature(der []byte) (*Signature, error) {
	var ci contentInfo
	// Signatures are padded to 8 bytes with zeros after the DER.
	if _, err := asn1.Unmarshal(der, &ci); err != nil {
		return nil, fmt.Errorf("parsing the signature: %w", err)
	}
	if !ci.ContentType.Equal(oidSignedData) {
		return nil, fmt.Errorf("parsing the signature: content type %v is not PKCS#7 SignedData", ci.ContentType)
	}
	s := &Signature{}
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &s.sd); err != nil {
		return nil, fmt.Errorf("parsing the SignedData: %w", err)
	}
	if !s.sd.ContentInfo.ContentType.Equal(oidSpcIndirectData) {
		return nil, fmt.Errorf("parsing the SignedData: content type %v is not Authenticode's SpcIndirectDataContent", s.sd.ContentInfo.ContentType)
	}
	var idc asn1.RawValue
	if _, err := asn1.Unmarshal(s.sd.ContentInfo.Content.Bytes, &idc); err != nil {
		return nil, fmt.Errorf("parsing the SpcIndirectDataContent: %w", err)
	}
	if _, err := asn1.Unmarshal(idc.FullBytes, &s.idc); err != nil {
		return nil, fmt.Errorf("parsing the SpcIndirectDataContent: %w", err)
	}
	s.idcValue = idc.Bytes
	if len(s.sd.SignerInfos) != 1 {
		return nil, fmt.Errorf("parsing the SignedData: %d signers, Authenticode has one", len(s.sd.SignerInfos))
	}
	s.signer = s.sd.SignerInfos[0]
	certs, err := x509.ParseCertificates(s.sd.Certificates.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing the signature's certificates: %w", err)
	}
	s.Certs = certs
	s.Leaf = certFor(certs, s.signer.IssuerAndSerial)
	if s.Leaf == nil {
		return nil, errors.New("parsing the SignedData: the signer's certificate is not in it")
	}
	return s, nil
}

// hashFor maps a digest algorithm OID to its hash.
func hashFor(oid asn1.ObjectIdentifier) (crypto.Hash, error) {
	switch {
	case oid.Equal(oidSHA1):
		return crypto.SHA1, nil
	case oid.Equal(oidSHA256):
		return crypto.SHA256, nil
	case oid.Equal(oidSHA384):
		return crypto.SHA384, nil
	case oid.Equal(oidSHA512):
		return crypto.SHA512, nil
	}
	return 0, fmt.Errorf("digest algorithm %v is not supported", oid)
}

func digest(h crypto.Hash, parts ...[]byte) []byte {
	d := h.New()
	for _, p := range parts {
		d.Write(p)
	}
	return d.Sum(nil)
}

// byteRange is a span of a file: off and the bytes up to end.
type byteRange struct{ off, end int64 }

// digestRanges hashes the ranges of r in order.
func digestRanges(r io.ReaderAt, h crypto.Hash, ranges []byteRange) ([]byte, error) {
	d := h.New()
	for _, rg := range ranges {
		if _, err := io.Copy(d, io.NewSectionReader(r, rg.off, rg.end-rg.off)); err != nil {
			return nil, err
		}
	}
	return d.Sum(nil), nil
}
