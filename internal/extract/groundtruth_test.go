package extract

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/testcorpus"
	"github.com/hashr-dev/hashr/pkg/records"
)

// The ground-truth tests compare hashr-extract with the tools of each
// format on real software: Debian packages against their own md5sums and
// dpkg-deb's listing, RPMs built by rpmbuild against rpm's own digests,
// Go module zips and npm tarballs against what bsdtar extracts. The real
// packages come from scripts/corpus.sh (network); in CI a missing
// corpus or tool fails the test, elsewhere it skips it.

func needTool(t *testing.T, tools ...string) { t.Helper(); testcorpus.NeedTools(t, tools...) }

// corpus returns the files of one kind of the real-package corpus,
// fetching it first when needed.
func corpus(t *testing.T, kind, suffix string) []string {
	t.Helper()
	return testcorpus.Files(t, kind, suffix)
}

// bySource splits a run's file records by source id.
func bySource(o *runOutput) map[string]map[string]*records.File {
	out := map[string]map[string]*records.File{}
	var cur map[string]*records.File
	for _, r := range o.records {
		switch r := r.(type) {
		case *records.Source:
			cur = map[string]*records.File{}
			out[r.ID] = cur
		case *records.File:
			cur[r.Path] = r
		}
	}
	return out
}

func runTool(t *testing.T, name string, args ...string) string {
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

// Every file of a real Debian package has the md5 of the package's own
// md5sums, and there are as many file records as dpkg-deb lists regular
// files and hard links.
func TestGroundTruthDebianPackages(t *testing.T) {
	debs := corpus(t, "deb", ".deb")
	needTool(t, "dpkg-deb")
	var input strings.Builder
	for _, d := range debs {
		input.WriteString(sourceLine(d))
	}
	o := extract(t, input.String(), "--hash", "md5", "--workers", "2")
	if o.status != 0 {
		t.Fatalf("status %d:\n%s", o.status, o.stderr)
	}
	got := bySource(o)
	checked := 0
	for _, d := range debs {
		files := got[filepath.Base(d)]
		listing := runTool(t, "dpkg-deb", "--contents", d)
		want := 0
		for line := range strings.Lines(listing) {
			if line[0] == '-' || line[0] == 'h' {
				want++
			}
		}
		if len(files) != want {
			t.Errorf("%s: %d file records, dpkg-deb lists %d files and hard links", filepath.Base(d), len(files), want)
		}
		sums := runTool(t, "dpkg-deb", "--info", d, "md5sums")
		for line := range strings.Lines(sums) {
			sum, name, ok := strings.Cut(strings.TrimSpace(line), "  ")
			if !ok {
				continue
			}
			f := files[name]
			switch {
			case f == nil:
				t.Errorf("%s: %s is in md5sums but has no file record", filepath.Base(d), name)
			case f.MD5 != sum:
				t.Errorf("%s: %s: md5 %s, md5sums says %s", filepath.Base(d), name, f.MD5, sum)
			}
			checked++
		}
	}
	t.Logf("%d packages, %d md5sums lines checked", len(debs), checked)
	if checked < 1000 {
		t.Errorf("only %d md5sums lines: is the corpus complete?", checked)
	}
}

// RPMs built by rpmbuild from real files, with xz and zstd payloads: the
// digests are those rpm itself keeps (rpm -qp --dump).
func TestGroundTruthRPMs(t *testing.T) {
	if testing.Short() {
		t.Skip("rpmbuild: not with -short")
	}
	needTool(t, "rpmbuild", "rpm")
	top := t.TempDir()
	src := filepath.Join(top, "SOURCES", "files")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	copyRealFiles(t, src)
	spec := filepath.Join(top, "real.spec")
	os.WriteFile(spec, []byte(`Name: hashr-real
Version: 1
Release: 1
Summary: real files
License: various
AutoReqProv: no
%description
real files
%install
mkdir -p %{buildroot}/opt/real
cp -p %{_sourcedir}/files/* %{buildroot}/opt/real/
ln %{buildroot}/opt/real/000-* %{buildroot}/opt/real/zz-hardlink
%files
/opt/real
`), 0o644)
	for _, payload := range []string{"w6.xzdio", "w3.zstdio"} {
		t.Run(payload, func(t *testing.T) {
			pkg := filepath.Join(t.TempDir(), payload+".rpm")
			os.Rename(buildRPM(t, top, spec, payload), pkg)
			want := rpmDumpSums(t, pkg)
			o := extract(t, sourceLine(pkg), "--hash", "sha256")
			if o.status != 0 {
				t.Fatal(describe(o))
			}
			got := map[string]string{}
			for p, f := range o.files() {
				got[p] = f.SHA256
			}
			equalSums(t, payload, got, want)
			if len(want) < 40 {
				t.Errorf("only %d files in the package", len(want))
			}
		})
	}
}

// copyRealFiles copies real files into src: the first 40 programs of
// /usr/bin, some documents (the spec adds a hard link).
func copyRealFiles(t *testing.T, src string) {
	t.Helper()
	var picked []string
	for _, pattern := range []string{"/usr/bin/*", "/usr/share/common-licenses/*"} {
		matches, _ := filepath.Glob(pattern)
		n := 0
		for _, m := range matches {
			if st, err := os.Lstat(m); err == nil && st.Mode().IsRegular() && st.Size() < 8<<20 && n < 40 {
				picked = append(picked, m)
				n++
			}
		}
	}
	for i, p := range picked {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("%03d-%s", i, filepath.Base(p))), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// buildRPM builds the package of spec in top with the payload
// compression given, and returns its path.
func buildRPM(t *testing.T, top, spec, payload string) string {
	t.Helper()
	cmd := exec.Command("rpmbuild", "-bb", "--define", "_topdir "+top, "--define", "_binary_payload "+payload,
		"--define", "__os_install_post %{nil}", "--define", "_build_id_links none", spec)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rpmbuild: %v\n%s", err, out)
	}
	rpms, _ := filepath.Glob(filepath.Join(top, "RPMS", "*", "*.rpm"))
	if len(rpms) != 1 {
		t.Fatalf("rpms: %v", rpms)
	}
	return rpms[0]
}

// rpmDumpSums is the sha256 of each regular file of the package, as rpm
// itself keeps them (rpm -qp --dump).
func rpmDumpSums(t *testing.T, pkg string) map[string]string {
	t.Helper()
	dump := runTool(t, "rpm", "-qp", "--nosignature", "--dbpath", t.TempDir(), "--dump", pkg)
	want := map[string]string{}
	for line := range strings.Lines(dump) {
		f := strings.Fields(line)
		if len(f) < 5 || !strings.HasPrefix(f[4], "010") { // regular files only
			continue
		}
		want[strings.TrimPrefix(f[0], "/")] = f[3]
	}
	return want
}

// Go module zips and npm tarballs: the same files, with the same bytes,
// as bsdtar extracts.
func TestGroundTruthZipsAndTarballs(t *testing.T) {
	files := append(corpus(t, "gomod", ".zip"), corpus(t, "npm", ".tgz")...)
	needTool(t, "bsdtar")
	var input strings.Builder
	for _, f := range files {
		input.WriteString(sourceLine(f))
	}
	o := extract(t, input.String(), "--hash", "md5,sha256")
	if o.status != 0 {
		t.Fatalf("status %d:\n%s", o.status, o.stderr)
	}
	got := bySource(o)
	total := 0
	for _, f := range files {
		dir := t.TempDir()
		runTool(t, "bsdtar", "-xf", f, "-C", dir)
		want := map[string]string{}
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			want[filepath.ToSlash(rel)] = md5File(t, p)
			return nil
		})
		sums := map[string]string{}
		for p, r := range got[filepath.Base(f)] {
			sums[p] = r.MD5
		}
		equalSums(t, filepath.Base(f), sums, want)
		total += len(want)
	}
	t.Logf("%d archives, %d files", len(files), total)
}

func md5File(t *testing.T, name string) string {
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := md5.New()
	io.Copy(h, bufio.NewReader(f))
	return hex.EncodeToString(h.Sum(nil))
}

// A file over 4 GiB makes rpmbuild write the stripped cpio (07070X),
// whose members are described by the header alone.
func TestGroundTruthRPMOver4GiB(t *testing.T) {
	if testing.Short() {
		t.Skip("a 4 GiB file: not with -short")
	}
	needTool(t, "rpmbuild", "rpm")
	top := t.TempDir()
	src := filepath.Join(top, "SOURCES")
	os.MkdirAll(src, 0o755)
	big, err := os.Create(filepath.Join(src, "big.img"))
	if err != nil {
		t.Fatal(err)
	}
	// sparse: a hole of 4 GiB and a little data on either side
	big.WriteString("start of a big file\n")
	big.Seek(4<<30+100, io.SeekStart)
	big.WriteString("end of a big file\n")
	big.Close()
	os.WriteFile(filepath.Join(src, "small.txt"), []byte("small\n"), 0o644)
	spec := filepath.Join(top, "big.spec")
	os.WriteFile(spec, []byte(`Name: hashr-big
Version: 1
Release: 1
Summary: a file over 4 GiB
License: MIT
BuildArch: noarch
%description
big
%install
mkdir -p %{buildroot}/opt/big
cp --sparse=always %{_sourcedir}/big.img %{_sourcedir}/small.txt %{buildroot}/opt/big/
ln %{buildroot}/opt/big/small.txt %{buildroot}/opt/big/small-link.txt
%files
/opt/big
`), 0o644)
	rpms := []string{buildRPM(t, top, spec, "w1.zstdio")}
	os.RemoveAll(filepath.Join(top, "BUILDROOT"))
	data, err := os.ReadFile(rpms[0])
	if err != nil {
		t.Fatal(err)
	}
	want := rpmDumpSums(t, rpms[0])
	o := extract(t, sourceLine(rpms[0]), "--hash", "sha256", "--max-ratio", "1000000000")
	if o.status != 0 {
		t.Fatal(describe(o))
	}
	got := map[string]string{}
	for p, f := range o.files() {
		got[p] = f.SHA256
	}
	equalSums(t, "stripped rpm", got, want)
	if f := o.files()["opt/big/big.img"]; f == nil || *f.Size != 4<<30+100+int64(len("end of a big file\n")) {
		t.Errorf("big.img: %+v", f)
	}
	checkStrippedPayload(t, data)
	t.Logf("a %d-byte package of %d files, one of 4 GiB", len(data), len(got))
}

// checkStrippedPayload checks, with the zstd program, that the package's
// payload is the stripped kind (rpm2cpio refuses files over 4 GiB).
func checkStrippedPayload(t *testing.T, data []byte) {
	t.Helper()
	needTool(t, "zstd")
	at := bytes.Index(data[96:], []byte{0x28, 0xb5, 0x2f, 0xfd}) + 96
	cmd := exec.Command("sh", "-c", "zstd -dcq 2>/dev/null | head -c 6")
	cmd.Stdin = bytes.NewReader(data[at:])
	payload, err := cmd.Output()
	if string(payload) != "07070X" {
		t.Errorf("the payload starts with %q (%v), not the stripped cpio magic 07070X", payload, err)
	}
}
