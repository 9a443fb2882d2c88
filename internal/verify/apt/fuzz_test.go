package apt

import (
	"strings"
	"testing"
)

const seedRelease = "Origin: Debian\nSuite: stable\nCodename: bookworm\nSHA256:\n 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef 1234 main/binary-amd64/Packages.xz\n"

const seedPackages = "Package: alpha\nVersion: 1.0-1\nArchitecture: amd64\nMaintainer: T <t@example.invalid>\nFilename: pool/main/alpha_1.0-1_amd64.deb\nSize: 700\nSHA256: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\nDescription: a\n more\n\n"

// FuzzParseRelease: a hostile Release text never panics, and every digest
// it yields is 64 hex digits with a non-negative size.
func FuzzParseRelease(f *testing.F) {
	f.Add([]byte(seedRelease))
	f.Add([]byte("SHA256:\n x 1 y\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rel, err := ParseRelease(data)
		if err != nil {
			return
		}
		for p, d := range rel.Files {
			if !isSHA256Hex(d.SHA256) || d.Size < 0 || p == "" {
				t.Fatalf("bad entry %q %+v", p, d)
			}
		}
	})
}

// FuzzParsePackages: a hostile Packages index never panics, and no entry
// it accepts names a file outside the mirror.
func FuzzParsePackages(f *testing.F) {
	f.Add([]byte(seedPackages))
	f.Add([]byte(strings.Replace(seedPackages, "pool/", "../../", 1)))
	f.Fuzz(func(t *testing.T, data []byte) {
		pkgs, err := ParsePackages(strings.NewReader(string(data)))
		if err != nil {
			return
		}
		for _, p := range pkgs {
			if cleanRel(p.Filename) == "" || !isSHA256Hex(p.SHA256) || p.Size < 0 {
				t.Fatalf("accepted %+v", p)
			}
		}
	})
}
