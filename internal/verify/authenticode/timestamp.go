package authenticode

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// A timestamp is a counter-signature a time-stamping authority (TSA)
// made over the signer's signature value: it vouches that the signature
// existed at a time, so the signer's certificate is checked at that time
// and a file signed while its certificate was valid stays valid after it
// expires, as Windows treats it. Two kinds are in the unauthenticated
// attributes of the signer: RFC 3161 (a whole SignedData holding a
// TSTInfo, what signtool /tr and osslsigncode -ts make) and the legacy
// Authenticode countersignature (a SignerInfo with a signingTime, what
// signtool /t makes). The standard library reads neither.

var (
	oidRFC3161Countersign = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 3, 3, 1}
	oidCountersignature   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 6}
	oidSigningTime        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
	oidTSTInfo            = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}
)

// tstInfo is the start of RFC 3161's TSTInfo; what follows genTime
// (accuracy, ordering, nonce, tsa, extensions) is not needed.
type tstInfo struct {
	Version        int
	Policy         asn1.ObjectIdentifier
	MessageImprint digestInfo
	Serial         *big.Int
	GenTime        asn1.RawValue // GeneralizedTime, fractions allowed
}

// Timestamp is a checked counter-signature: when, and who vouched.
type Timestamp struct {
	Time   time.Time
	Signer *x509.Certificate // the TSA's certificate
	Kind   string            // "RFC 3161" or "countersignature"
	certs  []*x509.Certificate
}

// Timestamp reads the signature's timestamp and checks that it covers
// this signature and that the TSA's certificate signed it; its chain is
// the caller's to check. Nil and no error: there is none.
func (s *Signature) Timestamp() (*Timestamp, error) {
	raw := s.signer.UnauthenticatedAttributes.FullBytes
	if len(raw) == 0 {
		return nil, nil
	}
	var attrs []attribute
	if _, err := asn1.UnmarshalWithParams(append([]byte{0x31}, raw[1:]...), &attrs, "set"); err != nil {
		return nil, fmt.Errorf("parsing the unauthenticated attributes: %w", err)
	}
	if v, ok := findAttribute(attrs, oidRFC3161Countersign); ok {
		return readRFC3161(v, s.signer.EncryptedDigest)
	}
	if v, ok := findAttribute(attrs, oidCountersignature); ok {
		return readCountersignature(v, s.signer.EncryptedDigest, s.Certs)
	}
	return nil, nil
}

// readRFC3161 reads an RFC 3161 timestamp token over signature.
func readRFC3161(token, signature []byte) (*Timestamp, error) {
	var ci contentInfo
	if _, err := asn1.Unmarshal(token, &ci); err != nil || !ci.ContentType.Equal(oidSignedData) {
		return nil, fmt.Errorf("parsing the RFC 3161 timestamp: not a SignedData (%v)", err)
	}
	var sd signedData
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil {
		return nil, fmt.Errorf("parsing the RFC 3161 timestamp's SignedData: %w", err)
	}
	if !sd.ContentInfo.ContentType.Equal(oidTSTInfo) || len(sd.SignerInfos) != 1 {
		return nil, errors.New("parsing the RFC 3161 timestamp: not one signer over a TSTInfo")
	}
	var tstDER []byte
	if _, err := asn1.Unmarshal(sd.ContentInfo.Content.Bytes, &tstDER); err != nil {
		return nil, fmt.Errorf("parsing the RFC 3161 timestamp's TSTInfo: %w", err)
	}
	var tst tstInfo
	if _, err := asn1.Unmarshal(tstDER, &tst); err != nil {
		return nil, fmt.Errorf("parsing the RFC 3161 timestamp's TSTInfo: %w", err)
	}
	if err := checkImprint(tst.MessageImprint, signature); err != nil {
		return nil, err
	}
	at, err := parseGeneralizedTime(tst.GenTime)
	if err != nil {
		return nil, err
	}
	certs, err := x509.ParseCertificates(sd.Certificates.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing the RFC 3161 timestamp's certificates: %w", err)
	}
	return signedTimestamp(sd.SignerInfos[0], certs, tstDER, at, "RFC 3161")
}

// readCountersignature reads a legacy Authenticode countersignature (a
// SignerInfo whose messageDigest is over signature) made by one of certs.
func readCountersignature(der, signature []byte, certs []*x509.Certificate) (*Timestamp, error) {
	var si signerInfo
	if _, err := asn1.Unmarshal(der, &si); err != nil {
		return nil, fmt.Errorf("parsing the countersignature: %w", err)
	}
	var attrs []attribute
	raw := si.AuthenticatedAttributes.FullBytes
	if len(raw) > 0 {
		if _, err := asn1.UnmarshalWithParams(append([]byte{0x31}, raw[1:]...), &attrs, "set"); err != nil {
			return nil, fmt.Errorf("parsing the countersignature's attributes: %w", err)
		}
	}
	v, ok := findAttribute(attrs, oidSigningTime)
	if !ok {
		return nil, errors.New("the countersignature has no signingTime")
	}
	var at time.Time
	if _, err := asn1.Unmarshal(v, &at); err != nil {
		return nil, fmt.Errorf("parsing the countersignature's signingTime: %w", err)
	}
	return signedTimestamp(si, certs, signature, at, "countersignature")
}

// signedTimestamp checks that the TSA's SignerInfo si, made by one of
// certs, signs content, and returns the timestamp it makes.
func signedTimestamp(si signerInfo, certs []*x509.Certificate, content []byte, at time.Time, kind string) (*Timestamp, error) {
	tsa := certFor(certs, si.IssuerAndSerial)
	if tsa == nil {
		return nil, fmt.Errorf("the %s timestamp's signer certificate is not in the signature", kind)
	}
	if _, err := checkSignerInfo(si, tsa, content); err != nil {
		return nil, fmt.Errorf("checking the %s timestamp: %w", kind, err)
	}
	return &Timestamp{Time: at, Signer: tsa, Kind: kind, certs: certs}, nil
}

// checkImprint says whether a TSTInfo's messageImprint is the digest of
// the signature value it timestamps.
func checkImprint(imprint digestInfo, signature []byte) error {
	h, err := hashFor(imprint.Algorithm.Algorithm)
	if err != nil {
		return fmt.Errorf("the RFC 3161 timestamp's imprint: %w", err)
	}
	if !bytes.Equal(digest(h, signature), imprint.Digest) {
		return errors.New("the RFC 3161 timestamp is over another signature than this one")
	}
	return nil
}

// parseGeneralizedTime reads a GeneralizedTime with or without
// fractions of a second, which encoding/asn1 refuses.
func parseGeneralizedTime(v asn1.RawValue) (time.Time, error) {
	if v.Class != asn1.ClassUniversal || v.Tag != asn1.TagGeneralizedTime {
		return time.Time{}, errors.New("the RFC 3161 timestamp's genTime is not a GeneralizedTime")
	}
	t, err := time.Parse("20060102150405Z0700", string(v.Bytes))
	if err != nil {
		return time.Time{}, fmt.Errorf("parsing the RFC 3161 timestamp's genTime %q: %w", v.Bytes, err)
	}
	return t, nil
}

// signingTime is the time to check the signer's chain at: a valid
// timestamp's whose TSA chains to roots, else now; how says which, for
// the Result's detail.
func (s *Signature) signingTime(roots *x509.CertPool, now time.Time) (at time.Time, how string) {
	ts, err := s.Timestamp()
	switch {
	case err != nil:
		return now, fmt.Sprintf("chain checked at the current time, the timestamp not used: %v", err)
	case ts == nil:
		return now, "chain checked at the current time: no timestamp"
	}
	if err := chainTo(ts.Signer, ts.certs, roots, ts.Time, x509.ExtKeyUsageTimeStamping); err != nil {
		return now, fmt.Sprintf("chain checked at the current time, the %s timestamp of %q not used: %v", ts.Kind, ts.Signer.Subject.String(), err)
	}
	return ts.Time, fmt.Sprintf("chain checked at the signing time %s, %s timestamp by %q", ts.Time.UTC().Format(time.RFC3339), ts.Kind, ts.Signer.Subject.String())
}
