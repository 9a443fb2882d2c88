package identity

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hashr-dev/hashr/internal/formats/deb"
	"github.com/hashr-dev/hashr/internal/formats/oci"
	"github.com/hashr-dev/hashr/internal/formats/wim"
	"github.com/hashr-dev/hashr/internal/verify/apt"
	"github.com/hashr-dev/hashr/pkg/records"
)

func need(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (scripts/setup.sh installs it)", tool)
		}
	}
}

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr)
	}
	return string(out)
}

func write(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func identify(t *testing.T, file string, fn func(io.Reader) (*records.Package, error)) *records.Package {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := fn(f)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return p
}

// dpkgDeb builds a .deb of control with dpkg-deb, compressing with z.
func dpkgDeb(t *testing.T, control, z string) string {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "pkg", "DEBIAN", "control"), control)
	write(t, filepath.Join(dir, "pkg", "usr", "share", "doc", "x", "README"), "hello\n")
	out := filepath.Join(dir, "x.deb")
	run(t, "dpkg-deb", "--root-owner-group", "-Z"+z, "--build", filepath.Join(dir, "pkg"), out)
	return out
}

// The package's fields are those `dpkg-deb -f` prints, whatever the
// control.tar's compression; the title is the Description's first line.
func TestDebMatchesDpkgDeb(t *testing.T) {
	need(t, "dpkg-deb")
	control := "Package: libfoo-bar1\nVersion: 2:1.4.2-3+deb12u1\nArchitecture: arm64\n" +
		"Maintainer: Jörg Müller <joerg@example.invalid>\nDescription: foo library, runtime files\n" +
		" A longer text\n .\n that says more.\n"
	for _, z := range []string{"xz", "gzip", "zstd", "none"} {
		t.Run(z, func(t *testing.T) {
			file := dpkgDeb(t, control, z)
			got := identify(t, file, Deb)
			f := func(name string) string { return strings.TrimSpace(run(t, "dpkg-deb", "-f", file, name)) }
			title, _, _ := strings.Cut(f("Description"), "\n")
			want := records.Package{Name: f("Package"), Version: f("Version"), Arch: f("Architecture"),
				Vendor: f("Maintainer"), Title: title}
			if *got != want {
				t.Errorf("got  %+v\nwant %+v (dpkg-deb -f)", *got, want)
			}
		})
	}
}

const rpmSpec = `Name: hashr-ident
%s
Version: 3.1.4
Release: 7.el9
Summary: identity test package
License: MIT
BuildArch: noarch
%%description
test
%%install
mkdir -p %%{buildroot}/usr/share/ident
echo hello > %%{buildroot}/usr/share/ident/hello.txt
%%files
/usr/share/ident/hello.txt
`

// rpmbuildPackage builds a noarch RPM with rpmbuild; extra are spec lines
// (Epoch:, Vendor:).
func rpmbuildPackage(t *testing.T, extra string) string {
	top := t.TempDir()
	spec := filepath.Join(top, "ident.spec")
	write(t, spec, fmt.Sprintf(rpmSpec, extra))
	run(t, "rpmbuild", "--quiet", "--define", "_topdir "+top, "-bb", spec)
	files, _ := filepath.Glob(filepath.Join(top, "RPMS", "noarch", "*.rpm"))
	if len(files) != 1 {
		t.Fatalf("rpmbuild made %v", files)
	}
	return files[0]
}

// The package's fields are those `rpm -qp --qf` prints: [EPOCH:]VERSION-
// RELEASE, no vendor where rpm says (none), and the os its DISTRIBUTION,
// else its OS.
func TestRPMMatchesRpmQuery(t *testing.T) {
	need(t, "rpmbuild", "rpm")
	for name, extra := range map[string]string{
		"epoch and vendor": "Epoch: 2\nVendor: Example Software GmbH",
		"distribution":     "Distribution: Hashr Enterprise Linux 9.4",
		"neither":          "",
	} {
		t.Run(name, func(t *testing.T) {
			file := rpmbuildPackage(t, extra)
			got := identify(t, file, RPM)
			q := strings.Split(run(t, "rpm", "-qp", "--qf", "%{NAME}\n%{EPOCH}\n%{VERSION}-%{RELEASE}\n%{ARCH}\n%{VENDOR}\n%{SUMMARY}", file), "\n")
			none := func(s string) string { return strings.TrimPrefix(s, "(none)") }
			want := records.Package{Name: q[0], Version: q[2], Arch: q[3], Vendor: none(q[4]), Title: q[5]}
			if q[1] != "(none)" {
				want.Version = q[1] + ":" + q[2]
			}
			if want.OS = strings.TrimSpace(run(t, "rpm", "-qp", "--qf", "%{DISTRIBUTION}", file)); want.OS == "(none)" {
				want.OS = run(t, "rpm", "-qp", "--qf", "%{OS}", file)
			}
			if want.OS == "" || (name == "distribution") != strings.HasPrefix(want.OS, "Hashr") {
				t.Fatalf("rpm -qp --qf names the os %q", want.OS)
			}
			if *got != want {
				t.Errorf("got  %+v\nwant %+v (rpm -qp --qf)", *got, want)
			}
		})
	}
}

// wimlibInfo returns the "Key: value" lines `wimlib-imagex info WIM N`
// prints.
func wimlibInfo(t *testing.T, file string, index int) map[string]string {
	out := run(t, "wimlib-imagex", "info", file, fmt.Sprint(index))
	info := map[string]string{}
	for line := range strings.Lines(out) {
		if k, v, ok := strings.Cut(line, ":"); ok {
			info[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return info
}

// Each image's fields are those `wimlib-imagex info` prints; an image
// whose XML has no WINDOWS element has no vendor, no version, no arch.
func TestWIMImageMatchesWimlibInfo(t *testing.T) {
	need(t, "wimlib-imagex")
	dir := t.TempDir()
	write(t, filepath.Join(dir, "tree", "Windows", "notepad.exe"), "MZ not really\n")
	file := filepath.Join(dir, "install.wim")
	run(t, "wimlib-imagex", "capture", filepath.Join(dir, "tree"), file, "Windows 11 Pro", "--compress=LZX",
		"--image-property", "DISPLAYNAME=Windows 11 Pro N",
		"--image-property", "WINDOWS/EDITIONID=ProfessionalN", "--image-property", "WINDOWS/ARCH=12",
		"--image-property", "WINDOWS/PRODUCTNAME=Microsoft® Windows® Operating System",
		"--image-property", "WINDOWS/VERSION/MAJOR=10", "--image-property", "WINDOWS/VERSION/MINOR=0",
		"--image-property", "WINDOWS/VERSION/BUILD=22631", "--image-property", "WINDOWS/VERSION/SPBUILD=2861")
	run(t, "wimlib-imagex", "append", filepath.Join(dir, "tree"), file, "Plain directory")
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	images, err := wim.ReadImages(f, st.Size())
	if err != nil || len(images) != 2 {
		t.Fatalf("ReadImages: %d images, %v", len(images), err)
	}
	w := wimlibInfo(t, file, 1)
	want := records.Package{Name: w["Name"], Title: w["Display Name"], Edition: w["Edition ID"], Arch: w["Architecture"],
		Version: w["Major Version"] + "." + w["Minor Version"] + "." + w["Build"] + "." + w["Service Pack Build"],
		Vendor:  "Microsoft Corporation"}
	want.OS = w["Product Name"] + " " + want.Version
	if got := WIMImage(images[0]); got == nil || *got != want {
		t.Errorf("image 1: got %+v\nwant %+v (wimlib-imagex info)", got, want)
	}
	w = wimlibInfo(t, file, 2)
	if _, has := w["Architecture"]; has {
		t.Fatalf("wimlib-imagex wrote a WINDOWS element for a plain capture: %v", w)
	}
	want = records.Package{Name: w["Name"]}
	if got := WIMImage(images[1]); got == nil || *got != want {
		t.Errorf("image 2: got %+v\nwant %+v (wimlib-imagex info)", got, want)
	}
}

// The KB article names a WSUS update ("KB" and its digits, however
// export.csv writes it); its title only when it has none.
func TestWSUS(t *testing.T) {
	for _, c := range []struct {
		kb, title string
		want      *records.Package
	}{
		{"5005565", "2021-09 Cumulative Update", &records.Package{Name: "KB5005565", KB: "KB5005565", Title: "2021-09 Cumulative Update", Vendor: microsoft}},
		{"KB890830", "", &records.Package{Name: "KB890830", KB: "KB890830", Vendor: microsoft}},
		{"", "Definition Update", &records.Package{Name: "Definition Update", Title: "Definition Update", Vendor: microsoft}},
		{"", "", nil},
	} {
		got := WSUS(c.kb, c.title, "")
		if (got == nil) != (c.want == nil) || got != nil && *got != *c.want {
			t.Errorf("WSUS(%q, %q) = %+v, want %+v", c.kb, c.title, got, c.want)
		}
	}
}

// handmadeDeb builds a .deb (ar, control.tar.gz, data.tar.gz) whose
// control file is control, as dpkg-deb would refuse to build it.
func handmadeDeb(t testing.TB, control []byte) []byte {
	tarGz := func(name string, body []byte) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		tw := tar.NewWriter(zw)
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(body)
		tw.Close()
		zw.Close()
		return buf.Bytes()
	}
	var out bytes.Buffer
	out.WriteString("!<arch>\n")
	for _, m := range []struct {
		name string
		body []byte
	}{
		{"debian-binary", []byte("2.0\n")},
		{"control.tar.gz", tarGz("./control", control)},
		{"data.tar.gz", tarGz("./usr/share/x/README", []byte("hello\n"))},
	} {
		fmt.Fprintf(&out, "%-16s%-12s%-6s%-6s%-8s%-10d`\n", m.name, "0", "0", "0", "100644", len(m.body))
		out.Write(m.body)
		if len(m.body)%2 == 1 {
			out.WriteByte('\n')
		}
	}
	return out.Bytes()
}

// Hostile control files: a package still names itself with each field
// cut to maxField bytes of valid UTF-8 (huge fields, bad UTF-8); one
// whose control file names no package, or cannot be parsed, has no
// package (ErrNoName, or the parse error). In every case the .deb's files
// still walk, as hashr-extract walks them.
func TestHostileControlFiles(t *testing.T) {
	huge := strings.Repeat("é", 400<<10) // 800 KiB on one line, past maxControlFile
	cases := []struct {
		name, control string
		want          *records.Package
		err           error
	}{
		{"huge name", "Package: " + huge + "\nVersion: 1\n", &records.Package{Name: strings.Repeat("é", maxField/2)}, nil},
		{"huge description", "Package: big\nVersion: 1\nDescription: " + huge + "\n", &records.Package{Name: "big", Version: "1", Title: strings.Repeat("é", maxField/2)}, nil},
		{"bad UTF-8", "Package: bad\nMaintainer: M\xfcller \xff<m@example.invalid>\n", &records.Package{Name: "bad", Vendor: "M\uFFFDller \uFFFD<m@example.invalid>"}, nil},
		{"no Package field", "Version: 1\nArchitecture: all\n", nil, ErrNoName},
		{"not a control file", "\x00\x01 binary junk\n", nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := handmadeDeb(t, []byte(c.control))
			got, err := Deb(bytes.NewReader(data))
			switch {
			case c.want != nil && (err != nil || got == nil || *got != *c.want):
				t.Errorf("got %+v, %v; want %+v", got, err, c.want)
			case c.want == nil && (got != nil || err == nil):
				t.Errorf("got %+v, %v; want no package and an error", got, err)
			case c.err != nil && !errors.Is(err, c.err):
				t.Errorf("error %v, want %v", err, c.err)
			}
			if got != nil && (!utf8.ValidString(got.Name) || len(got.Title) > maxField) {
				t.Errorf("unbounded or invalid fields: %q", got.Name)
			}
			files := walkFiles(t, data)
			if len(files) != 1 || files[0] != "./usr/share/x/README" {
				t.Errorf("walked %v, want the data.tar's one file", files)
			}
		})
	}
}

func walkFiles(t *testing.T, data []byte) []string {
	w := deb.NewWalker(bytes.NewReader(data), deb.Options{})
	defer w.Close()
	var names []string
	for {
		e, err := w.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatalf("walking the .deb: %v", err)
		}
		names = append(names, e.Name)
	}
}

// An image tar compressed with gzip, xz or zstd (docker save | gzip, an
// OCI layout tar .tar.xz) names the same package as the tar itself: its
// manifests and config are read through the decompressor. Truncated, it
// names none (and does not panic).
func TestFileReadsThroughCompressedImageTars(t *testing.T) {
	need(t, "gzip", "xz", "zstd")
	formats := filepath.Join("..", "..", "testdata", "formats")
	for tarName, format := range map[string]string{"docker-archive.tar": "docker-archive", "oci-image.tar": "oci"} {
		plain := filepath.Join(formats, tarName)
		want := fileIdentity(t, plain, format)
		if want == nil {
			t.Fatalf("%s: no package from the plain tar", tarName)
		}
		for _, z := range []string{"gzip", "xz", "zstd"} {
			data := []byte(run(t, z, "-c", plain))
			packed := filepath.Join(t.TempDir(), tarName+"."+z)
			write(t, packed, string(data))
			if got := fileIdentity(t, packed, format); got == nil || *got != *want {
				t.Errorf("%s through %s: %+v, want %+v", tarName, z, got, want)
			}
			write(t, packed, string(data[:len(data)/2]))
			if got := fileIdentity(t, packed, format); got != nil {
				t.Errorf("%s through %s, truncated: %+v, want none", tarName, z, got)
			}
		}
	}
}

func fileIdentity(t *testing.T, file, format string) *records.Package {
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return File(f, st.Size(), format)
}

// A package an apt suite lists is of the distribution its Release names,
// as apt-ftparchive writes it: Origin and Version, or Origin and Codename
// for a suite without a Version.
func TestAptEntryOSFromRelease(t *testing.T) {
	need(t, "apt-ftparchive")
	for _, c := range []struct {
		name string
		opts []string
		want string
	}{
		{"stable", []string{"Origin=Debian", "Version=12", "Codename=bookworm"}, "Debian 12"},
		{"testing", []string{"Origin=Debian", "Codename=trixie"}, "Debian trixie"},
		{"neither", []string{"Origin=Example"}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, filepath.Join(dir, "main", "binary-amd64", "Packages"), "")
			args := []string{"-o", "APT::FTPArchive::Release::Suite=" + c.name}
			for _, o := range c.opts {
				args = append(args, "-o", "APT::FTPArchive::Release::"+o)
			}
			cmd := exec.Command("apt-ftparchive", append(args, "release", ".")...)
			cmd.Dir = dir
			text, err := cmd.Output()
			if err != nil {
				t.Fatalf("apt-ftparchive release: %v", err)
			}
			rel, err := apt.ParseRelease(text)
			if err != nil {
				t.Fatal(err)
			}
			got := AptEntry(apt.Package{Package: "bash", Version: "5.2.15-2+b7", Architecture: "amd64"}, rel)
			if got == nil || got.OS != c.want {
				t.Errorf("os %+v, want %q from the Release:\n%s", got, c.want, text)
			}
		})
	}
}

// An OCI image's os is its platform's os and os.version.
func TestOCILayoutOS(t *testing.T) {
	for platform, want := range map[string]string{
		"linux/arm64/v8":                "linux",
		"windows/amd64:10.0.17763.5329": "windows 10.0.17763.5329",
		"":                              "",
	} {
		got := OCILayout([]oci.ImageIdentity{{Ref: "example.org/app:1.0", Digest: "sha256:ab", Platform: platform}})
		if got == nil || got.OS != want {
			t.Errorf("platform %q: package %+v, want os %q", platform, got, want)
		}
	}
}

// A compressed image tar whose first 64 KiB, decompressed, end before
// the member that tells its kind (a big layer first, as docker save and
// OCI layouts write them) is only a "tar" to hashr-scan; File still names
// it, read through, as the plain image tar names itself. A compressed
// tar that starts as no image tar does names nothing.
func TestFileNamesCompressedImageTarsPastTheirHead(t *testing.T) {
	need(t, "tar", "gzip")
	formats := filepath.Join("..", "..", "testdata", "formats")
	big := make([]byte, 256<<10)
	rand.NewChaCha8([32]byte{1}).Read(big) // incompressible: the layer stays past the head
	for tarName, c := range map[string]struct{ format, first string }{
		"docker-archive.tar": {"docker-archive", strings.Repeat("ab", 32) + ".tar"},
		"oci-image.tar":      {"oci", "./blobs/sha256/" + strings.Repeat("cd", 32)},
	} {
		plain := filepath.Join(formats, tarName)
		want := fileIdentity(t, plain, c.format)
		dir := t.TempDir()
		run(t, "tar", "-xf", plain, "-C", dir)
		members := strings.Fields(run(t, "tar", "-tf", plain))
		write(t, filepath.Join(dir, c.first), string(big))
		order := append([]string{c.first}, members...)
		if c.format == "oci" { // the directories a layout tar starts with, then the layer
			order = append([]string{"./", "./blobs/", "./blobs/sha256/", c.first}, members[3:]...)
		}
		packed := filepath.Join(t.TempDir(), tarName+".gz")
		script := `cd "$1" && shift && tar --no-recursion -cf - "$@" | gzip -c > "$0"`
		run(t, "sh", append([]string{"-c", script, packed, dir}, order...)...)
		if got := fileIdentity(t, packed, "tar"); got == nil || *got != *want {
			t.Errorf("%s, a big layer first, gzip'd: %+v, want %+v", tarName, got, want)
		}
	}
	dir := t.TempDir()
	write(t, filepath.Join(dir, "README"), string(big))
	packed := filepath.Join(t.TempDir(), "source.tar.gz")
	run(t, "sh", "-c", `cd "$1" && tar -cf - README | gzip -c > "$0"`, packed, dir)
	if got := fileIdentity(t, packed, "tar"); got != nil {
		t.Errorf("a gzip'd tarball of a README: %+v, want no package", got)
	}
}
