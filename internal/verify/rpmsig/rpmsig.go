// Package rpmsig verifies an RPM package as `rpm -K` does: the OpenPGP
// signature over its header (RSA or EdDSA, tag RSAHEADER, or DSAHEADER),
// the legacy signature over header and payload when present, the
// SHA-256 of the header, the payload digest the signed header records,
// and the header+payload size. The headers are read by
// internal/formats/rpm, which extract uses too.
package rpmsig

import (
	"crypto/sha256"
	_ "crypto/sha512" // registers SHA-384 and SHA-512 for payload digests
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/hashr-dev/hashr/internal/formats/rpm"
	"github.com/hashr-dev/hashr/internal/verify"
)

// By names this scheme in a verify.Result.
const By = "rpm-header"

// Signature header tags (rpm's rpmtag.h, RPMSIGTAG_*) and main header tags.
const (
	sigTagDSAHeader   = 267
	sigTagRSAHeader   = 268
	sigTagSHA256      = 273
	sigTagSize        = 1000
	sigTagPGP         = 1002 // header+payload, RSA
	sigTagGPG         = 1005 // header+payload, DSA
	sigTagLongSize    = 270
	tagPayloadDigest  = 5092
	tagPayloadDigAlgo = 5093
)

// ErrMismatch is wrapped by every digest or size that does not match.
var ErrMismatch = errors.New("does not match what the package's header records")

// Verify reads the RPM package r to its end and checks its signatures
// and digests against keys. A package that carries no signature gives
// Result{OK: false, By: "none"} and no error when its digests match: it
// is intact, but nobody vouched for it.
func Verify(r io.Reader, keys openpgp.EntityList) (verify.Result, error) {
	s, err := rpm.ReadSigned(r)
	if err != nil {
		return verify.Result{}, fmt.Errorf("reading the RPM headers: %w", err)
	}
	if err := checkHeaderDigest(s); err != nil {
		return verify.Result{}, err
	}
	signer, err := checkHeaderSignature(s, keys)
	if err != nil {
		return verify.Result{}, err
	}
	payloadSigner, err := checkPayload(s, r, keys)
	if err != nil {
		return verify.Result{}, err
	}
	if signer == "" {
		signer = payloadSigner
	}
	if signer == "" {
		return verify.Result{By: "none", Detail: "the package carries no OpenPGP signature; its digests match"}, nil
	}
	return verify.Result{OK: true, By: By, Signer: signer}, nil
}

func checkHeaderDigest(s *rpm.Signed) error {
	want := s.SigString(sigTagSHA256)
	if want == "" {
		return nil
	}
	sum := sha256.Sum256(s.Header)
	if got := hex.EncodeToString(sum[:]); got != want {
		return fmt.Errorf("header %w: sha256 %s, the signature header says %s", ErrMismatch, got, want)
	}
	return nil
}

// checkHeaderSignature checks the header-only signature, which covers the
// payload through the payload digest the header records.
func checkHeaderSignature(s *rpm.Signed, keys openpgp.EntityList) (string, error) {
	for _, tag := range []uint32{sigTagRSAHeader, sigTagDSAHeader} {
		sig, ok, err := s.SigBinary(tag)
		if err != nil {
			return "", err
		}
		if !ok {
			continue
		}
		fpr, err := verify.CheckPGP(keys, s.Header, sig)
		if err != nil {
			return "", fmt.Errorf("verifying the header signature: %w", err)
		}
		return fpr, nil
	}
	return "", nil
}
