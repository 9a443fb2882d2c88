package rpmrepo

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func repoRoot() string {
	wd, _ := os.Getwd()
	return filepath.Join(wd, "..", "..", "..")
}

// createrepo builds a repository of the committed RPM fixture (in a
// subdirectory, as mirrors keep them) with createrepo_c, the primary
// index compressed with compress.
func createrepo(t *testing.T, compress string) (root, rpmFile string) {
	if _, err := exec.LookPath("createrepo_c"); err != nil {
		t.Skip("createrepo_c is not installed (package createrepo-c)")
	}
	root = t.TempDir()
	rpmFile = filepath.Join(root, "Packages", "h", "hello-hashr-1.0-1.noarch.rpm")
	data, err := os.ReadFile(filepath.Join(repoRoot(), "testdata", "formats", "hello-hashr-1.0-1.noarch.rpm"))
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Dir(rpmFile), 0o755)
	if err := os.WriteFile(rpmFile, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("createrepo_c", "--general-compress-type="+compress, root).CombinedOutput(); err != nil {
		t.Fatalf("createrepo_c: %v\n%s", err, out)
	}
	return root, rpmFile
}

// Every package of the primary index createrepo_c writes, in each of its
// compressions, is the one `rpm -qp --qf` describes, at the location and
// with the checksum sha256sum gives.
func TestPrimaryMatchesRpmQuery(t *testing.T) {
	for _, z := range []string{"gz", "xz", "bz2"} {
		t.Run(z, func(t *testing.T) {
			root, rpmFile := createrepo(t, z)
			var got []Package
			if err := readPrimary(root, func(p Package) error { got = append(got, p); return nil }); err != nil {
				t.Fatal(err)
			}
			q, err := exec.Command("rpm", "-qp", "--qf", "%{NAME}|%{ARCH}|%{VERSION}|%{RELEASE}|%{SUMMARY}", rpmFile).Output()
			if err != nil {
				t.Skipf("rpm: %v", err)
			}
			f := strings.Split(string(q), "|")
			sum, _ := exec.Command("sha256sum", rpmFile).Output()
			st, _ := os.Stat(rpmFile)
			want := Package{Name: f[0], Arch: f[1], Epoch: "0", Version: f[2], Release: f[3], Summary: f[4],
				Checksum: Checksum{Type: "sha256", Value: strings.Fields(string(sum))[0]}, Size: st.Size(),
				Location: "Packages/h/hello-hashr-1.0-1.noarch.rpm"}
			if len(got) != 1 || got[0] != want {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

// readPrimary reads the primary index the repository at root names, as
// internal/verify/yum does less its checks.
func readPrimary(root string, fn func(Package) error) error {
	f, err := os.Open(filepath.Join(root, filepath.FromSlash(MetadataPath)))
	if err != nil {
		return err
	}
	m, err := ParseRepomd(f)
	f.Close()
	if err != nil {
		return err
	}
	primary, ok := m.Index("primary")
	if !ok {
		return ErrNoPrimary
	}
	rel := CleanRel(primary.Location.Href)
	if rel == "" {
		return errors.New("the primary index lies outside the repository")
	}
	pf, err := os.Open(filepath.Join(root, filepath.FromSlash(rel)))
	if err != nil {
		return err
	}
	defer pf.Close()
	return ParseCompressed(pf, fn)
}

// A directory without repodata is no repository; an index outside the
// repository, or one that does not parse, is an error.
func TestBrokenRepositories(t *testing.T) {
	none := func(Package) error { return nil }
	if IsRoot(t.TempDir()) {
		t.Errorf("a directory without repodata is a repository's root")
	}
	for name, repomd := range map[string]string{
		"outside":    `<repomd><data type="primary"><location href="../../etc/passwd"/></data></repomd>`,
		"no primary": `<repomd><data type="other"><location href="repodata/other.xml"/></data></repomd>`,
		"not XML":    "\x00\x01",
	} {
		root := t.TempDir()
		os.MkdirAll(filepath.Join(root, "repodata"), 0o755)
		os.WriteFile(filepath.Join(root, MetadataPath), []byte(repomd), 0o644)
		if !IsRoot(root) {
			t.Errorf("%s: not a repository's root", name)
		}
		if err := readPrimary(root, none); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// RootOf: the nearest repository from the file's directory up to top;
// none above top, nor in a sibling whose name starts as top's does; a
// file outside top has its own directory looked at alone.
func TestRootOf(t *testing.T) {
	roots := map[string]bool{"/m": true, "/m/fedora/x86_64": true, "/m/rpms": true, "/srv": true}
	isRoot := func(dir string) bool { return roots[dir] }
	for _, c := range []struct{ file, top, want string }{
		{"/m/fedora/x86_64/Packages/a/a.rpm", "/m", "/m/fedora/x86_64"},
		{"/m/fedora/x86_64/a.rpm", "/m/fedora", "/m/fedora/x86_64"},
		{"/m/other/a.rpm", "/m", "/m"},
		{"/m/other/a.rpm", "/m/other", ""},
		{"/m/rpms/a.rpm", "/m/rpms/a.rpm", "/m/rpms"},
		{"/srv/repo2/a.rpm", "/srv/repo", ""},
	} {
		got, ok := RootOf(c.file, c.top, isRoot)
		if got != c.want || ok != (c.want != "") {
			t.Errorf("RootOf(%s, %s) = %q %v, want %q", c.file, c.top, got, ok, c.want)
		}
	}
}

const primarySample = `<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm"><package type="rpm"><name>a</name><arch>noarch</arch><version epoch="1" ver="2" rel="3"/><checksum type="sha256">00</checksum><summary>s</summary><size package="5"/><location href="a.rpm"/><format><rpm:vendor>V</rpm:vendor></format></package></metadata>`

// The vendor comes from the rpm namespace of <format>, the epoch from
// <version>.
func TestParsePrimaryFields(t *testing.T) {
	var got []Package
	if err := ParsePrimary(strings.NewReader(primarySample), func(p Package) error { got = append(got, p); return nil }); err != nil {
		t.Fatal(err)
	}
	want := Package{Name: "a", Arch: "noarch", Epoch: "1", Version: "2", Release: "3", Summary: "s", Vendor: "V",
		Checksum: Checksum{Type: "sha256", Value: "00"}, Size: 5, Location: "a.rpm"}
	if len(got) != 1 || got[0] != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

// FuzzPrimary: any bytes parse or fail, never panic.
func FuzzPrimary(f *testing.F) {
	f.Add([]byte(primarySample))
	f.Add([]byte(`<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm"><package type="rpm"><name>a</name><arch>noarch</arch><version epoch="1" ver="2" rel="3"/><checksum type="sha256">00</checksum><summary>s</summary><size package="5"/><location href="a.rpm"/><format><rpm:vendor>V</rpm:vendor></format></package></metadata>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = ParsePrimary(bytes.NewReader(data), func(Package) error { return nil })
		if m, err := ParseRepomd(bytes.NewReader(data)); err == nil {
			m.Index("primary")
		}
	})
}

// An entry a verifier would hold the wrong file to is refused: no name,
// a location outside the repository (relative, absolute or a URL), a
// negative size. Checksums are compared lower-case.
func TestParsePrimaryRefusesEntries(t *testing.T) {
	entry := func(name, href, size, sum string) string {
		return `<metadata><package type="rpm"><name>` + name + `</name><checksum type="SHA256"> ` + sum + ` </checksum><size package="` + size + `"/><location href="` + href + `"/></package></metadata>`
	}
	for what, xml := range map[string]string{
		"no name":       entry("", "a.rpm", "1", "00"),
		"outside":       entry("a", "../a.rpm", "1", "00"),
		"absolute":      entry("a", "/etc/passwd", "1", "00"),
		"a URL":         entry("a", "https://evil.example/a.rpm", "1", "00"),
		"negative size": entry("a", "a.rpm", "-1", "00"),
	} {
		if err := ParsePrimary(strings.NewReader(xml), func(Package) error { return nil }); err == nil {
			t.Errorf("%s: parsed", what)
		}
	}
	var got Package
	if err := ParsePrimary(strings.NewReader(entry("a", "./dir/../a.rpm", "1", "AB")), func(p Package) error { got = p; return nil }); err != nil {
		t.Fatal(err)
	}
	if got.Location != "a.rpm" || got.Checksum != (Checksum{Type: "sha256", Value: "ab"}) {
		t.Errorf("got %+v, want location a.rpm and checksum sha256 ab", got)
	}
}
