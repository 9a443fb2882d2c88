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
	"os"
	"time"

	"github.com/hashr-dev/hashr/internal/verify"
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

// LoadRoots reads a root store: PEM certificates (--roots FILE).
func LoadRoots(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading root store: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("reading root store %q: no PEM certificate in it (hint: give CA certificates as -----BEGIN CERTIFICATE----- blocks)", path)
	}
	return pool, nil
}

// VerifyCAB checks a cabinet's Authenticode signature and chain against
// roots. The Result names the signer's subject whenever the signature
// parses, also when the chain does not verify.
func VerifyCAB(data []byte, roots *x509.CertPool, now time.Time) (verify.Result, error) {
	offset, size, err := locateCABSignature(data)
	if err != nil {
		return verify.Result{}, fmt.Errorf("locating the cabinet's signature: %w", err)
	}
	sig, err := ParseSignature(data[offset : offset+size])
	if err != nil {
		return verify.Result{}, err
	}
	res := verify.Result{By: By, Signer: sig.Leaf.Subject.String()}
	if err := sig.checkDigest(cabSignedBytes(data, offset)); err != nil {
		return res, err
	}
	if err := sig.checkSignerSignature(); err != nil {
		return res, err
	}
	if err := sig.checkChain(roots, now); err != nil {
		return res, err
	}
	res.OK = true
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
	for _, c := range certs {
		if bytes.Equal(c.RawIssuer, s.signer.IssuerAndSerial.Issuer.FullBytes) && c.SerialNumber.Cmp(s.signer.IssuerAndSerial.Serial) == 0 {
			s.Leaf = c
		}
	}
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

// checkDigest compares the signed file digest with the file's bytes.
func (s *Signature) checkDigest(parts [][]byte) error {
	h, err := hashFor(s.idc.MessageDigest.Algorithm.Algorithm)
	if err != nil {
		return err
	}
	if got := digest(h, parts...); !bytes.Equal(got, s.idc.MessageDigest.Digest) {
		return fmt.Errorf("%w: %v digest %x, signed %x", ErrMismatch, h, got, s.idc.MessageDigest.Digest)
	}
	return nil
}
