// Package verify checks that a source's bytes are the ones their
// publisher signed, and says how: a Result per source, recorded as the
// source's `verified` field.
//
// OpenPGP (apt Release files, RPM signatures) is ProtonMail's go-crypto:
// golang.org/x/crypto/openpgp is frozen and deprecated, and go-crypto is
// its maintained fork with current algorithms (EdDSA, v5/v6 keys) that
// today's gpg writes by default. Nothing here implements a cipher or a
// signature scheme; it finds the signed bytes and hands them over.
package verify

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/hashr-dev/hashr/pkg/records"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Result says whether a source verified, by what scheme, and who signed:
// the source record's `verified` field.
type Result = records.Verified

// Mode is what --verify asks for.
type Mode string

// The --verify modes: off checks nothing; try checks what carries a
// signature; require fails what cannot be verified.
const (
	Off     Mode = "off"
	Try     Mode = "try"
	Require Mode = "require"
)

// ParseMode reads a --verify value.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case Off, Try, Require:
		return m, nil
	}
	return "", fmt.Errorf("--verify %q: want off, try or require", s)
}

// Judge applies mode to the result of verifying a source of format:
// under require, one that is not ok is refused (a Refusal by the result's
// scheme, "none" when nothing checked it); hint names the stage's flag
// that records it instead.
func (m Mode) Judge(res *Result, format string) error {
	if m == Require && (res == nil || !res.OK) {
		by, detail := "none", "nothing checked it"
		if res != nil {
			by, detail = res.By, res.Detail
		}
		return Refuse(by, fmt.Errorf("--verify require: %s is not verified: %s (hint: --verify try records it as unverified)", format, detail))
	}
	return nil
}

// Refusal is a verification's "no": the scheme that refused a source (the
// by of its verified) and why. hashr-scan and hashr-fetch write the
// source refused (records.Refuse) with it.
type Refusal struct {
	By  string
	Err error
}

func (r *Refusal) Error() string { return r.Err.Error() }
func (r *Refusal) Unwrap() error { return r.Err }

// Refuse says the scheme by refused a source for err.
func Refuse(by string, err error) error { return &Refusal{By: by, Err: err} }

// RefusedBy names the scheme that refused a source for err: "none" when
// err is no Refusal.
func RefusedBy(err error) string {
	var r *Refusal
	if errors.As(err, &r) {
		return r.By
	}
	return "none"
}

// LoadKeyrings reads OpenPGP public keys from each file, binary (a .gpg
// keyring as in /usr/share/keyrings) or ASCII-armored (.asc).
func LoadKeyrings(paths []string) (openpgp.EntityList, error) {
	var all openpgp.EntityList
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("reading keyring: %w", err)
		}
		var keys openpgp.EntityList
		if bytes.Contains(data[:min(len(data), 1024)], []byte("-----BEGIN PGP")) {
			keys, err = openpgp.ReadArmoredKeyRing(bytes.NewReader(data))
		} else {
			keys, err = openpgp.ReadKeyRing(bytes.NewReader(data))
		}
		if err != nil {
			return nil, fmt.Errorf("reading keyring %q: %w\nhint: give an OpenPGP public key file, binary (.gpg) or armored (.asc)", path, err)
		}
		all = append(all, keys...)
	}
	return all, nil
}

// ErrNoKeyring is returned when a signature is there but no key to check it.
var ErrNoKeyring = errors.New("no keyring given to check the signature against (hint: name one with --keyring FILE)")

// CheckPGP checks a detached binary OpenPGP signature over signed and
// returns the fingerprint of the key that made it, upper-case hex.
func CheckPGP(keys openpgp.EntityList, signed, signature []byte) (string, error) {
	return CheckPGPReader(keys, bytes.NewReader(signed), signature)
}

// CheckPGPReader is CheckPGP over signed bytes read to their end.
func CheckPGPReader(keys openpgp.EntityList, signed io.Reader, signature []byte) (string, error) {
	if len(keys) == 0 {
		return "", ErrNoKeyring
	}
	sig, _, err := openpgp.VerifyDetachedSignature(keys, signed, bytes.NewReader(signature), nil)
	if err != nil {
		return "", describePGP(err)
	}
	return signerFingerprint(keys, sig), nil
}

// signerFingerprint names the key that made sig: its issuer fingerprint
// when the signature carries one, else the keyring's key with its ID.
func signerFingerprint(keys openpgp.EntityList, sig *packet.Signature) string {
	if sig.IssuerFingerprint != nil {
		return strings.ToUpper(fmt.Sprintf("%x", sig.IssuerFingerprint))
	}
	if sig.IssuerKeyId != nil {
		for _, k := range keys.KeysById(*sig.IssuerKeyId) {
			return strings.ToUpper(fmt.Sprintf("%x", k.PublicKey.Fingerprint))
		}
	}
	return ""
}

// describePGP turns go-crypto's terse errors into what a user can act on.
func describePGP(err error) error {
	if strings.Contains(err.Error(), "signature made by unknown entity") {
		return fmt.Errorf("signature made by a key not in the keyring: %w (hint: name the publisher's keyring with --keyring)", err)
	}
	return fmt.Errorf("bad signature: %w", err)
}

// Dearmor returns the binary packets of an ASCII-armored signature, or
// data itself when it is binary already (Release.gpg and repomd.xml.asc
// are either).
func Dearmor(data []byte) []byte {
	if !bytes.HasPrefix(bytes.TrimSpace(data), []byte("-----BEGIN PGP")) {
		return data
	}
	block, err := armor.Decode(bytes.NewReader(data))
	if err != nil {
		return data
	}
	body, err := io.ReadAll(block.Body)
	if err != nil {
		return data
	}
	return body
}

// ReadBounded reads name from fsys, refusing a file of more than max
// bytes (an index or signature that size is hostile, not read whole);
// where names it in errors.
func ReadBounded(fsys fs.FS, name, where string, max int64) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", where, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", where, err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("reading %s: more than the %d bytes it may have", where, max)
	}
	return data, nil
}
