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
	raw := s.signer.AuthenticatedAttributes.FullBytes
	if len(raw) == 0 {
		return errors.New("the signer has no authenticated attributes (Authenticode requires them)")
	}
	// The signature covers the attributes DER-encoded as a SET, not as
	// the [0] IMPLICIT field they are stored in.
	signedAttrs := append([]byte{0x31}, raw[1:]...)
	var attrs []attribute
	if _, err := asn1.UnmarshalWithParams(signedAttrs, &attrs, "set"); err != nil {
		return fmt.Errorf("parsing the authenticated attributes: %w", err)
	}
	h, err := hashFor(s.signer.DigestAlgorithm.Algorithm)
	if err != nil {
		return err
	}
	var md []byte
	for _, a := range attrs {
		if a.Type.Equal(oidMessageDigest) {
			if _, err := asn1.Unmarshal(a.Values.Bytes, &md); err != nil {
				return fmt.Errorf("parsing the messageDigest attribute: %w", err)
			}
		}
	}
	if got := digest(h, s.idcValue); !bytes.Equal(md, got) {
		return fmt.Errorf("%w: the messageDigest attribute does not match the signed content", ErrMismatch)
	}
	sum := digest(h, signedAttrs)
	switch pub := s.Leaf.PublicKey.(type) {
	case *rsa.PublicKey:
		err = rsa.VerifyPKCS1v15(pub, h, sum, s.signer.EncryptedDigest)
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(pub, sum, s.signer.EncryptedDigest) {
			err = errors.New("ECDSA signature invalid")
		}
	default:
		err = fmt.Errorf("public key type %T is not supported", pub)
	}
	if err != nil {
		return fmt.Errorf("checking the signer's signature: %w", err)
	}
	return nil
}

// checkChain verifies the signer's certificate up to roots, for code
// signing, at now. A certificate that expired after signing fails: the
// timestamp counter-signatures that would vouch for the signing time are
// not checked, so the caller learns it rather than trusting a date.
func (s *Signature) checkChain(roots *x509.CertPool, now time.Time) error {
	if roots == nil {
		return errors.New("no root store to check the certificate chain against (hint: name one with --roots FILE)")
	}
	inter := x509.NewCertPool()
	for _, c := range s.Certs {
		if c != s.Leaf {
			inter.AddCert(c)
		}
	}
	_, err := s.Leaf.Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	})
	if err != nil {
		return fmt.Errorf("verifying the certificate chain of %q: %w", s.Leaf.Subject.String(), err)
	}
	return nil
}
