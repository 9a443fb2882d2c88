package scan

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/oci/ocitest"
	"github.com/hashr-dev/hashr/internal/verify/verifytest"
	"github.com/hashr-dev/hashr/pkg/records"
)

func toolOutput(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		t.Fatalf("%s %v: %v", name, args, err)
	}
	return strings.TrimSpace(string(out))
}

func checkPackage(t *testing.T, what string, got *records.Package, want records.Package) {
	t.Helper()
	if got == nil || *got != want {
		t.Errorf("%s: package %+v\nwant %+v", what, got, want)
	}
}

// The committed .deb and RPM fixtures are named by their control file
// and header (`dpkg-deb -f`, `rpm -qp --qf`), the single-image WIM and
// ESD by their XML, the OCI layout by its index and config; what names
// no package (a tar, a zip) has none.
func TestPackageFromSourceMetadata(t *testing.T) {
	needTool(t, "dpkg-deb")
	needTool(t, "rpm")
	res := scan(t, formatsDir())
	if res.code != 0 {
		t.Fatalf("status %d\n%s", res.code, res.stderr)
	}
	got := res.byURI()
	debFile := filepath.Join(formatsDir(), "hello_1.0-1_all.deb")
	f := func(field string) string { return toolOutput(t, "dpkg-deb", "-f", debFile, field) }
	checkPackage(t, "deb", got[debFile].Package, records.Package{Name: f("Package"), Version: f("Version"),
		Arch: f("Architecture"), Vendor: f("Maintainer"), Title: strings.SplitN(f("Description"), "\n", 2)[0]})
	rpmFile := filepath.Join(formatsDir(), "hello-hashr-1.0-1.noarch.rpm")
	q := strings.Split(toolOutput(t, "rpm", "-qp", "--qf", "%{NAME}|%{VERSION}-%{RELEASE}|%{ARCH}|%{SUMMARY}", rpmFile), "|")
	checkPackage(t, "rpm", got[rpmFile].Package, records.Package{Name: q[0], Version: q[1], Arch: q[2], Title: q[3], OS: rpmOS(t, rpmFile)})
	for _, name := range []string{"sample.wim", "sample.esd"} {
		checkPackage(t, name, got[filepath.Join(formatsDir(), name)].Package, records.Package{Name: "HASHR"})
	}
	layout := filepath.Join(formatsDir(), "oci-image")
	checkPackage(t, "oci layout", got[layout].Package, layoutIdentity(t, layout))
	ociTar := filepath.Join(formatsDir(), "oci-image.tar")
	unpacked := t.TempDir()
	runTool(t, "tar", "-xf", ociTar, "-C", unpacked)
	checkPackage(t, "oci layout tar", got[ociTar].Package, layoutIdentity(t, unpacked))
	dockerTar := filepath.Join(formatsDir(), "docker-archive.tar")
	checkPackage(t, "docker archive", got[dockerTar].Package, ocitest.DockerArchiveIdentity(t, dockerTar))
	for _, name := range []string{"sample.tar", "sample.zip", "sample.cab"} {
		if p := got[filepath.Join(formatsDir(), name)].Package; p != nil {
			t.Errorf("%s: package %+v, want none", name, p)
		}
	}
}

// rpmOS is what `rpm -qp --qf '%{DISTRIBUTION} %{OS}'` says an rpm's
// os is: its DISTRIBUTION, else its OS.
func rpmOS(t *testing.T, file string) string {
	q := strings.Split(toolOutput(t, "rpm", "-qp", "--qf", "%{DISTRIBUTION}|%{OS}", file), "|")
	if q[0] != "(none)" {
		return q[0]
	}
	return q[1]
}

// layoutIdentity reads what a one-image OCI layout says of its image
// straight from its JSON: the tag its index annotates it with, its
// manifest digest (which names it: the tag alone names no repository),
// and its config's os/architecture (and os, os.version as os).
func layoutIdentity(t *testing.T, dir string) records.Package {
	var index struct {
		Manifests []struct {
			Digest      string
			Annotations map[string]string
		}
	}
	ocitest.ReadJSON(t, filepath.Join(dir, "index.json"), &index)
	if len(index.Manifests) != 1 {
		t.Fatalf("the layout fixture holds %d images, want 1", len(index.Manifests))
	}
	m := index.Manifests[0]
	var manifest struct{ Config struct{ Digest string } }
	ocitest.ReadJSON(t, filepath.Join(dir, "blobs", strings.Replace(m.Digest, ":", "/", 1)), &manifest)
	var config struct {
		OS, Architecture, Variant string
		OSVersion                 string `json:"os.version"`
	}
	ocitest.ReadJSON(t, filepath.Join(dir, "blobs", strings.Replace(manifest.Config.Digest, ":", "/", 1)), &config)
	platform := config.OS + "/" + config.Architecture
	if config.Variant != "" {
		platform += "/" + config.Variant
	}
	return records.Package{Name: m.Digest, Version: m.Annotations["org.opencontainers.image.ref.name"], Digest: m.Digest, Arch: platform,
		OS: strings.TrimSpace(config.OS + " " + config.OSVersion)}
}

// --split-images: each image is the package its XML names, with the
// build, architecture and edition `wimlib-imagex info` prints; the rest
// of an install ISO is none. Without it, a WIM of several images is no
// one package.
func TestSplitImagePackages(t *testing.T) {
	needTool(t, "wimlib-imagex")
	repo := t.TempDir()
	tree := t.TempDir()
	writeTree(t, tree, map[string]string{"Windows/notepad.exe": "MZ not really\n"})
	wimFile := filepath.Join(repo, "install.wim")
	runTool(t, "wimlib-imagex", "capture", tree, wimFile, "Windows Test Home", "--image-property", "WINDOWS/EDITIONID=Core",
		"--image-property", "WINDOWS/ARCH=9", "--image-property", "WINDOWS/VERSION/MAJOR=10", "--image-property", "WINDOWS/VERSION/BUILD=19045")
	runTool(t, "wimlib-imagex", "append", tree, wimFile, "Windows Test Pro", "--image-property", "WINDOWS/EDITIONID=Professional",
		"--image-property", "WINDOWS/ARCH=12", "--image-property", "DISPLAYNAME=Windows Test Pro Display")
	whole := scan(t, repo)
	if len(whole.sources) != 1 || whole.sources[0].Package != nil {
		t.Fatalf("without --split-images: want one source without package, got %+v", whole.sources)
	}
	res := scan(t, "--split-images", repo)
	if res.code != 0 || len(res.sources) != 2 {
		t.Fatalf("status %d, %d sources\n%s", res.code, len(res.sources), res.stderr)
	}
	for i, s := range res.sources {
		info := map[string]string{}
		for line := range strings.Lines(toolOutput(t, "wimlib-imagex", "info", wimFile, []string{"1", "2"}[i])) {
			if k, v, ok := strings.Cut(line, ":"); ok {
				info[strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
		}
		want := records.Package{Name: info["Name"], Edition: info["Edition ID"], Arch: info["Architecture"],
			Title: info["Display Name"], Vendor: "Microsoft Corporation", OS: "Windows"} // the XML names no Product Name
		if info["Major Version"] != "" {
			want.Version = info["Major Version"] + "." + info["Minor Version"] + "." + info["Build"] + "." + info["Service Pack Build"]
			want.OS += " " + want.Version
		}
		checkPackage(t, s.ID, s.Package, want)
	}
}

// A .deb of an apt mirror scanned with its keyring is named by its signed
// Packages entry, and is of the distribution its suite's Release names
// (Origin and Version).
func TestAptMirrorPackageFromIndex(t *testing.T) {
	r := verifytest.BuildAptRepo(t, true)
	release := map[string]string{}
	for line := range strings.Lines(toolOutput(t, "cat", filepath.Join(r.Dist, "Release"))) {
		if k, v, ok := strings.Cut(line, ": "); ok {
			release[k] = strings.TrimSpace(v)
		}
	}
	res := scan(t, "--keyring", r.Key.Keyring, r.Root)
	if res.code != 0 || len(res.sources) != 2 {
		t.Fatalf("status %d, %d sources\n%s", res.code, len(res.sources), res.stderr)
	}
	for _, s := range res.sources {
		if s.Verified == nil || !s.Verified.OK {
			t.Errorf("%s: not verified: %+v", s.ID, s.Verified)
		}
		name := strings.SplitN(s.ID, "_", 2)[0]
		checkPackage(t, s.ID, s.Package, records.Package{Name: name, Version: "1.0-1", Arch: "amd64",
			Vendor: "Test <t@example.invalid>", Title: "test package", OS: release["Origin"] + " " + release["Version"]})
	}
}

const yumSpec = `Name: yumtest
Epoch: 3
Version: 2.0
Release: 5
Vendor: Example Vendor
Summary: a package of a yum repository
License: MIT
BuildArch: noarch
%description
test
%install
mkdir -p %{buildroot}/usr/share/yumtest
echo hello > %{buildroot}/usr/share/yumtest/hello.txt
%files
/usr/share/yumtest/hello.txt
`

// An RPM of a yum repository is named by its primary index entry, which
// is what `rpm -qp` says of it: even when the package's own header no
// longer reads (cut short after createrepo_c indexed it).
func TestYumRepositoryPackageFromIndex(t *testing.T) {
	needTool(t, "rpmbuild")
	needTool(t, "createrepo_c")
	top := t.TempDir()
	spec := filepath.Join(top, "yumtest.spec")
	writeTree(t, top, map[string]string{"yumtest.spec": yumSpec})
	runTool(t, "rpmbuild", "--quiet", "--define", "_topdir "+top, "-bb", spec)
	repo := t.TempDir()
	rpmFile := filepath.Join(repo, "Packages", "yumtest-2.0-5.noarch.rpm")
	os.MkdirAll(filepath.Dir(rpmFile), 0o755)
	copyFile(t, filepath.Join(top, "RPMS", "noarch", "yumtest-2.0-5.noarch.rpm"), rpmFile)
	q := strings.Split(toolOutput(t, "rpm", "-qp", "--qf", "%{NAME}|%{EPOCH}:%{VERSION}-%{RELEASE}|%{ARCH}|%{VENDOR}|%{SUMMARY}", rpmFile), "|")
	want := records.Package{Name: q[0], Version: q[1], Arch: q[2], Vendor: q[3], Title: q[4], OS: rpmOS(t, rpmFile)}
	runTool(t, "createrepo_c", repo)
	res := scan(t, repo)
	if res.code != 0 || len(res.sources) != 1 {
		t.Fatalf("status %d, %d sources\n%s", res.code, len(res.sources), res.stderr)
	}
	checkPackage(t, "indexed rpm", res.sources[0].Package, want)
	if err := os.Truncate(rpmFile, 200); err != nil { // the lead, and a header cut short
		t.Fatal(err)
	}
	// --verify off: verification (rpm-header, the repository being
	// unsigned) would read the cut header and fail the source, rightly;
	// the name comes from the index all the same.
	res = scan(t, "--verify", "off", repo)
	if len(res.sources) != 1 {
		t.Fatalf("%d sources\n%s", len(res.sources), res.stderr)
	}
	want.OS = "" // the header said it; primary.xml does not
	checkPackage(t, "indexed rpm whose header is cut short", res.sources[0].Package, want)
	if res = scan(t, repo); res.code != 3 || len(res.sources) != 0 || len(res.refused) != 1 {
		t.Errorf("--verify try of an unsigned repository's rpm cut short: status %d, %d sources, %d refused; want 3 and it refused (its header does not read)\n%s", res.code, len(res.sources), len(res.refused), res.stderr)
	}
}

// The repository an rpm belongs to is the nearest directory from the
// rpm's up to the REPO argument that holds repodata/repomd.xml, for
// naming it and for verifying it alike: a repository below the REPO
// (a mirror of several) names its rpms from its index, even one whose
// header no longer reads. The index used to look at the REPO alone.
func TestYumRepositoryBelowRepoNamesFromIndex(t *testing.T) {
	needTool(t, "rpmbuild")
	needTool(t, "createrepo_c")
	top := t.TempDir()
	writeTree(t, top, map[string]string{"yumtest.spec": yumSpec})
	runTool(t, "rpmbuild", "--quiet", "--define", "_topdir "+top, "-bb", filepath.Join(top, "yumtest.spec"))
	mirror := t.TempDir()
	repo := filepath.Join(mirror, "fedora", "x86_64")
	rpmFile := filepath.Join(repo, "Packages", "yumtest-2.0-5.noarch.rpm")
	os.MkdirAll(filepath.Dir(rpmFile), 0o755)
	copyFile(t, filepath.Join(top, "RPMS", "noarch", "yumtest-2.0-5.noarch.rpm"), rpmFile)
	q := strings.Split(toolOutput(t, "rpm", "-qp", "--qf", "%{NAME}|%{EPOCH}:%{VERSION}-%{RELEASE}|%{ARCH}|%{VENDOR}|%{SUMMARY}", rpmFile), "|")
	want := records.Package{Name: q[0], Version: q[1], Arch: q[2], Vendor: q[3], Title: q[4]}
	runTool(t, "createrepo_c", repo)
	if err := os.Truncate(rpmFile, 200); err != nil { // the lead, and a header cut short
		t.Fatal(err)
	}
	res := scan(t, "--verify", "off", mirror)
	if len(res.sources) != 1 {
		t.Fatalf("%d sources\n%s", len(res.sources), res.stderr)
	}
	checkPackage(t, "rpm of a repository below the REPO, its header cut short", res.sources[0].Package, want)
}
