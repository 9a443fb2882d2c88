package apt

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
	rel := &Release{Suite: s["Suite"], Codename: s["Codename"], Files: map[string]Digest{}}
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
// Release with no signature at all, unless keys is empty and unsigned
// is allowed by the caller (it then gets Verified.By "none").
func ReadRelease(distDir string, keys openpgp.EntityList) (*Release, error) {
	text, fpr, err := readSignedRelease(distDir, keys)
	if err != nil {
		return nil, err
	}
	rel, err := ParseRelease(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", distDir, err)
	}
	rel.Verified = verify.Result{OK: true, By: By, Signer: fpr}
	return rel, nil
}

// ErrUnsigned says a suite has neither InRelease nor Release.gpg.
var ErrUnsigned = errors.New("the suite has no InRelease and no Release.gpg: nothing signs it")

// readSignedRelease returns the verified text of the suite's Release and
// the signing key's fingerprint.
func readSignedRelease(distDir string, keys openpgp.EntityList) ([]byte, string, error) {
	inRelease := filepath.Join(distDir, "InRelease")
	if data, err := readBounded(inRelease); err == nil {
		block, _ := clearsign.Decode(data)
		if block == nil {
			return nil, "", fmt.Errorf("verifying %s: not a clearsigned message", inRelease)
		}
		fpr, err := verify.CheckPGP(keys, block.Bytes, armoredBody(block))
		if err != nil {
			return nil, "", fmt.Errorf("verifying %s: %w", inRelease, err)
		}
		return block.Plaintext, fpr, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, "", err
	}
	release := filepath.Join(distDir, "Release")
	text, err := readBounded(release)
	if err != nil {
		return nil, "", err
	}
	sig, err := readBounded(release + ".gpg")
	if errors.Is(err, os.ErrNotExist) {
		return text, "", fmt.Errorf("verifying %s: %w", release, ErrUnsigned)
	}
	if err != nil {
		return nil, "", err
	}
	fpr, err := verify.CheckPGP(keys, text, dearmor(sig))
	if err != nil {
		return nil, "", fmt.Errorf("verifying %s with Release.gpg: %w", release, err)
	}
	return text, fpr, nil
}

func readBounded(path string) ([]byte, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if info.Size() > maxRelease {
		return nil, fmt.Errorf("reading %s: %d bytes, more than the %d a Release file may have", path, info.Size(), maxRelease)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return data, nil
}
