package apt

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"

	"github.com/hashr-dev/hashr/internal/verify"
)

// isSHA256Hex says whether s is a SHA-256 in hex.
func isSHA256Hex(s string) bool {
	_, err := hex.DecodeString(s)
	return len(s) == 64 && err == nil
}

// By names this scheme in a verify.Result.
const By = "apt-release"

// maxRelease bounds the Release files read into memory (Debian's main
// InRelease is about 200 KiB).
const maxRelease = 64 << 20

// Release is a suite's signed Release file: the digests of its indexes.
type Release struct {
	Suite, Codename string
	// Origin and Version say whose distribution and which release of it
	// the suite is ("Debian", "12.5"); a rolling suite has no Version.
	Origin, Version string
	// Files maps an index path relative to the suite directory (e.g.
	// main/binary-amd64/Packages.xz) to its SHA256 and size.
	Files map[string]Digest
	// Verified says who signed it.
	Verified verify.Result
}

// Digest is an expected SHA-256 (lowercase hex) and size.
type Digest struct {
	SHA256 string
	Size   int64
}

// ParseRelease reads the fields of a Release file's text.
func ParseRelease(data []byte) (*Release, error) {
	s, err := firstStanza(data)
	if err != nil {
		return nil, fmt.Errorf("parsing Release: %w", err)
	}
	rel := &Release{Suite: s["Suite"], Codename: s["Codename"], Origin: s["Origin"], Version: s["Version"],
		Files: map[string]Digest{}}
	sums, ok := s["SHA256"]
	if !ok {
		return nil, errors.New("parsing Release: no SHA256 field (hint: apt repositories since 2017 list SHA256 sums; MD5Sum and SHA1 alone are not trusted)")
	}
	for line := range strings.Lines(sums) {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if len(fields) != 3 || !isSHA256Hex(fields[0]) {
			return nil, fmt.Errorf("parsing Release: SHA256 line %q: want HASH SIZE PATH", truncate(strings.TrimSpace(line)))
		}
		size, err := strconv.ParseInt(fields[1], 10, 64)
		if err != nil || size < 0 {
			return nil, fmt.Errorf("parsing Release: SHA256 line for %s: bad size %q", fields[2], fields[1])
		}
		rel.Files[fields[2]] = Digest{SHA256: strings.ToLower(fields[0]), Size: size}
	}
	return rel, nil
}

// ReadRelease reads and verifies the Release of the suite in distDir
// (e.g. mirror/dists/bookworm): InRelease when present, else Release and
// Release.gpg. A signature that does not verify is an error; so is a
// Release with no signature at all, or no keys to check it against.
func ReadRelease(distDir string, keys openpgp.EntityList) (*Release, error) {
	rel, err := ReadReleaseFS(os.DirFS(distDir), distDir, keys)
	if err != nil {
		return nil, err
	}
	return rel, nil
}

// ReadReleaseFS is ReadRelease of the suite at the top of fsys (a local
// directory, or a remote mirror's dists/SUITE), where naming it in
// messages. When the Release is intact but unchecked (ErrUnsigned, or
// verify.ErrNoKeyring) it returns the Release too, its Verified By
// "none", with the error: a caller that may list unverified packages
// (--verify try) can.
func ReadReleaseFS(fsys fs.FS, where string, keys openpgp.EntityList) (*Release, error) {
	text, fpr, sigErr := readSignedRelease(fsys, where, keys)
	if text == nil {
		return nil, sigErr
	}
	rel, err := ParseRelease(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	rel.Verified = verify.Result{OK: true, By: By, Signer: fpr}
	if sigErr != nil {
		rel.Verified = verify.Result{By: "none", Detail: sigErr.Error()}
	}
	return rel, sigErr
}

// ErrUnsigned says a suite has neither InRelease nor Release.gpg.
var ErrUnsigned = errors.New("the suite has no InRelease and no Release.gpg: nothing signs it")

// readSignedRelease returns the verified text of the suite's Release and
// the signing key's fingerprint; the unverified text too when nothing
// signs it or no key was given.
func readSignedRelease(fsys fs.FS, where string, keys openpgp.EntityList) ([]byte, string, error) {
	inRelease := path.Join(where, "InRelease")
	if data, err := verify.ReadBounded(fsys, "InRelease", inRelease, maxRelease); err == nil {
		block, _ := clearsign.Decode(data)
		if block == nil {
			return nil, "", fmt.Errorf("verifying %s: not a clearsigned message", inRelease)
		}
		fpr, err := verify.CheckPGP(keys, block.Bytes, armoredBody(block))
		return checked(block.Plaintext, fpr, err, inRelease)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, "", err
	}
	release := path.Join(where, "Release")
	text, err := verify.ReadBounded(fsys, "Release", release, maxRelease)
	if err != nil {
		return nil, "", err
	}
	sig, err := verify.ReadBounded(fsys, "Release.gpg", release+".gpg", maxRelease)
	if errors.Is(err, fs.ErrNotExist) {
		return text, "", fmt.Errorf("verifying %s: %w", release, ErrUnsigned)
	}
	if err != nil {
		return nil, "", err
	}
	fpr, err := verify.CheckPGP(keys, text, dearmor(sig))
	return checked(text, fpr, err, release+" with Release.gpg")
}

// checked is a signature check's outcome: the text when it verified, or
// when no key was there to check it (the caller decides), else an error.
func checked(text []byte, fpr string, err error, what string) ([]byte, string, error) {
	switch {
	case err == nil:
		return text, fpr, nil
	case errors.Is(err, verify.ErrNoKeyring):
		return text, "", fmt.Errorf("verifying %s: %w", what, err)
	}
	return nil, "", fmt.Errorf("verifying %s: %w", what, err)
}
