package verifytest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const rpmSpec = `Name: NAME
Version: 1.0
Release: 1
Summary: test
License: MIT
Vendor: Test Vendor
Distribution: Hashr Linux 9
BuildArch: noarch
%description
test
%install
mkdir -p %{buildroot}/usr/share/NAME
echo hello NAME > %{buildroot}/usr/share/NAME/hello.txt
%files
/usr/share/NAME/hello.txt
`

// BuildRPM builds a tiny noarch RPM NAME-1.0-1.noarch.rpm with rpmbuild
// and, when key is not nil, signs it with rpmsign under key (extra
// rpmsign arguments, e.g. --rpmv3, are passed on). It returns its path.
func BuildRPM(t testing.TB, key *GPG, name string, extra ...string) string {
	t.Helper()
	Need(t, "rpmbuild", "rpmsign")
	top := t.TempDir()
	specFile := filepath.Join(top, name+".spec")
	if err := os.WriteFile(specFile, []byte(strings.ReplaceAll(rpmSpec, "NAME", name)), 0o644); err != nil {
		t.Fatal(err)
	}
	Run(t, top, nil, "rpmbuild", "--define", "_topdir "+top, "-bb", specFile)
	rpmFile := filepath.Join(top, "RPMS", "noarch", name+"-1.0-1.noarch.rpm")
	if key != nil {
		gpg, _ := exec.LookPath("gpg") // Debian's rpm macros name gpg2
		args := append([]string{"--define", "__gpg " + gpg, "--define", "_gpg_name " + key.Fingerprint, "--define", "_gpg_path " + key.Home}, extra...)
		Run(t, top, key.Env(), "rpmsign", append(args, "--addsign", rpmFile)...)
	}
	return rpmFile
}

// YumRepo is a yum repository built by createrepo_c, its repomd.xml
// signed with gpg --detach-sign --armor.
type YumRepo struct {
	Root string // holds repodata/ and Packages/
	Key  *GPG
}

// BuildYumRepo builds a repository of two signed rpms (alpha and beta)
// in Packages/, its metadata by createrepo_c (primary.xml compressed as
// compress: gz, bz2 or xz; Debian 12's createrepo_c writes no zstd), repomd.xml.asc signed by a new key.
func BuildYumRepo(t testing.TB, compress string) *YumRepo {
	t.Helper()
	Need(t, "createrepo_c")
	key := NewGPG(t, "yumrepo", "ed25519")
	root := t.TempDir()
	for _, name := range []string{"alpha", "beta"} {
		data, err := os.ReadFile(BuildRPM(t, key, name))
		if err != nil {
			t.Fatal(err)
		}
		WriteFile(t, filepath.Join(root, "Packages", name+"-1.0-1.noarch.rpm"), string(data))
	}
	Run(t, root, nil, "createrepo_c", "--general-compress-type", compress, "--checksum", "sha256", ".")
	repomd := filepath.Join(root, "repodata", "repomd.xml")
	key.Sign(t, "--detach-sign", "--armor", "-o", repomd+".asc", repomd)
	return &YumRepo{Root: root, Key: key}
}
