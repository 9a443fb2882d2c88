package rpmsig

import (
	"bytes"
	"crypto"
	_ "crypto/sha1" // registers SHA-1 for old payload digests
	"encoding/hex"
	"fmt"
	"hash"
	"io"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/hashr-dev/hashr/internal/formats/rpm"
	"github.com/hashr-dev/hashr/internal/verify"
)

// payloadHashes maps RPM's PAYLOADDIGESTALGO (OpenPGP hash numbers) to
// the hash it names.
var payloadHashes = map[int64]crypto.Hash{2: crypto.SHA1, 8: crypto.SHA256, 9: crypto.SHA384, 10: crypto.SHA512, 11: crypto.SHA224}

// checkPayload reads the payload once, feeding the payload digest, the
// size check and the legacy header+payload signature when there is one.
func checkPayload(s *rpm.Signed, payload io.Reader, keys openpgp.EntityList) (string, error) {
	digest, want, err := payloadDigest(s)
	if err != nil {
		return "", err
	}
	counter := &countingWriter{}
	sinks := []io.Writer{counter}
	if digest != nil {
		sinks = append(sinks, digest)
	}
	tee := io.TeeReader(payload, io.MultiWriter(sinks...))
	signer, err := checkLegacySignature(s, tee, keys)
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return "", fmt.Errorf("reading the payload: %w", err)
	}
	if digest != nil {
		if got := hex.EncodeToString(digest.Sum(nil)); got != want {
			return "", fmt.Errorf("payload %w: digest %s, the header records %s", ErrMismatch, got, want)
		}
	}
	if err := checkSize(s, int64(len(s.Header))+counter.n); err != nil {
		return "", err
	}
	return signer, nil
}

// payloadDigest returns a hash for the payload digest the header records,
// nil when it records none (packages built before rpm 4.14).
func payloadDigest(s *rpm.Signed) (hash.Hash, string, error) {
	digests, ok, err := s.HeaderStrings(tagPayloadDigest)
	if err != nil || !ok || len(digests) == 0 {
		return nil, "", err
	}
	algo := int64(8)
	if a, ok, err := s.HeaderInts(tagPayloadDigAlgo); err != nil {
		return nil, "", err
	} else if ok && len(a) > 0 {
		algo = a[0]
	}
	h, known := payloadHashes[algo]
	if !known || !h.Available() {
		return nil, "", fmt.Errorf("payload digest algorithm %d is not one rpm defines", algo)
	}
	return h.New(), digests[0], nil
}

// checkLegacySignature checks a header+payload signature (rpm before 4.16
// and rpmsign --rpmv3), reading the payload from tee to its end.
func checkLegacySignature(s *rpm.Signed, tee io.Reader, keys openpgp.EntityList) (string, error) {
	for _, tag := range []uint32{sigTagPGP, sigTagGPG} {
		sig, ok, err := s.SigBinary(tag)
		if err != nil || !ok {
			if err != nil {
				return "", err
			}
			continue
		}
		fpr, err := verify.CheckPGPReader(keys, io.MultiReader(bytes.NewReader(s.Header), tee), sig)
		if err != nil {
			return "", fmt.Errorf("verifying the header+payload signature: %w", err)
		}
		return fpr, nil
	}
	return "", nil
}

// checkSize compares the header+payload size the signature header records.
func checkSize(s *rpm.Signed, got int64) error {
	for _, tag := range []uint32{sigTagLongSize, sigTagSize} {
		v, ok, err := s.SigInts(tag)
		if err != nil {
			return err
		}
		if ok && len(v) > 0 {
			if v[0] != got {
				return fmt.Errorf("header+payload %w: %d bytes, the signature header says %d", ErrMismatch, got, v[0])
			}
			return nil
		}
	}
	return nil
}

type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }
