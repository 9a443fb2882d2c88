package authenticode

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"time"
)

// checkSignerSignature checks the messageDigest attribute against the
// signed content and the signer's signature over the attributes.
func (s *Signature) checkSignerSignature() error {
	_, err := checkSignerInfo(s.signer, s.Leaf, s.idcValue)
	return err
}

// checkSignerInfo checks a SignerInfo made by cert over content: its
// messageDigest attribute against content's digest, then its signature
// over the authenticated attributes, which it returns. Authenticode's
// signer, an RFC 3161 timestamp's and a legacy countersignature are all
// SignerInfos checked this way.
func checkSignerInfo(si signerInfo, cert *x509.Certificate, content []byte) ([]attribute, error) {
	raw := si.AuthenticatedAttributes.FullBytes
	if len(raw) == 0 {
		return nil, errors.New("the signer has no authenticated attributes (Authenticode requires them)")
	}
	// The signature covers the attributes DER-encoded as a SET, not as
	// the [0] IMPLICIT field they are stored in.
	signedAttrs := append([]byte{0x31}, raw[1:]...)
	var attrs []attribute
	if _, err := asn1.UnmarshalWithParams(signedAttrs, &attrs, "set"); err != nil {
		return nil, fmt.Errorf("parsing the authenticated attributes: %w", err)
	}
	h, err := hashFor(si.DigestAlgorithm.Algorithm)
	if err != nil {
		return nil, err
	}
	var md []byte
	if v, ok := findAttribute(attrs, oidMessageDigest); ok {
		if _, err := asn1.Unmarshal(v, &md); err != nil {
			return nil, fmt.Errorf("parsing the messageDigest attribute: %w", err)
		}
	}
	if got := digest(h, content); !bytes.Equal(md, got) {
		return nil, fmt.Errorf("%w: the messageDigest attribute does not match the signed content", ErrMismatch)
	}
	sum := digest(h, signedAttrs)
	switch pub := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		err = rsa.VerifyPKCS1v15(pub, h, sum, si.EncryptedDigest)
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(pub, sum, si.EncryptedDigest) {
			err = errors.New("ECDSA signature invalid")
		}
	default:
		err = fmt.Errorf("public key type %T is not supported", pub)
	}
	if err != nil {
		return nil, fmt.Errorf("checking the signature of %q: %w", cert.Subject.String(), err)
	}
	return attrs, nil
}

// findAttribute returns the first value of the attribute oid.
func findAttribute(attrs []attribute, oid asn1.ObjectIdentifier) ([]byte, bool) {
	for _, a := range attrs {
		if a.Type.Equal(oid) {
			return a.Values.Bytes, true
		}
	}
	return nil, false
}

// certFor returns the certificate of certs that an issuerAndSerial names.
func certFor(certs []*x509.Certificate, id issuerAndSerial) *x509.Certificate {
	for _, c := range certs {
		if bytes.Equal(c.RawIssuer, id.Issuer.FullBytes) && id.Serial != nil && c.SerialNumber.Cmp(id.Serial) == 0 {
			return c
		}
	}
	return nil
}

// checkChain verifies the signer's certificate up to roots, for code
// signing, at the time at (the timestamp's, or now without one).
func (s *Signature) checkChain(roots *x509.CertPool, at time.Time) error {
	if err := chainTo(s.Leaf, s.Certs, roots, at, x509.ExtKeyUsageCodeSigning); err != nil {
		return fmt.Errorf("verifying the certificate chain of %q: %w", s.Leaf.Subject.String(), err)
	}
	return nil
}

// chainTo verifies leaf up to roots through the certificates carried,
// for the usage, at the time at.
func chainTo(leaf *x509.Certificate, carried []*x509.Certificate, roots *x509.CertPool, at time.Time, usage x509.ExtKeyUsage) error {
	if roots == nil {
		return errors.New("no root store to check the certificate chain against (hint: name one with --roots FILE)")
	}
	inter := x509.NewCertPool()
	for _, c := range carried {
		if c != leaf {
			inter.AddCert(c)
		}
	}
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: inter, CurrentTime: at,
		KeyUsages: []x509.ExtKeyUsage{usage},
	})
	return err
}
