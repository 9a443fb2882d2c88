package fetch

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

// remoteSource serves the file at path over loopback http and returns
// the source record hashr-scan gives such a URL: no package, no
// verified (scan reads only its first bytes).
func remoteSource(t *testing.T, path, format string) (records.Source, []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(t, serveBytes(data))
	uri := s.URL + "/pool/" + filepath.Base(path)
	return records.Source{Repo: format, ID: filepath.Base(path), URI: uri, Format: format, Size: records.Int64(int64(len(data)))}, data
}

func toolOutput(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out))
}

// rpmQuery is the package `rpm -qp --qf` names (the fixture has no epoch).
func rpmQuery(t *testing.T, file string) records.Package {
	q := strings.Split(toolOutput(t, "rpm", "-qp", "--qf", "%{NAME}|%{VERSION}-%{RELEASE}|%{ARCH}|%{VENDOR}|%{SUMMARY}|%{DISTRIBUTION}", file), "|")
	return records.Package{Name: q[0], Version: q[1], Arch: q[2], Vendor: q[3], Title: q[4], OS: q[5]}
}

// A downloaded rpm signed with rpmsign is named from its header as `rpm
// -qp --qf` names it, and verified by its header signature with the
// key's fingerprint; the same rpm altered after signing is refused (a
// refused source, its error and end records), its download removed.
func TestRemoteRPMNamedAndVerified(t *testing.T) {
	verifytest.Need(t, "rpm")
	key := verifytest.NewGPG(t, "fetchrpm", "rsa2048")
	file := verifytest.BuildRPM(t, key, "remote")
	src, data := remoteSource(t, file, "rpm")
	work := t.TempDir()
	got := checkDownload(t, fetchMain(t, sourceLine(t, src), "--work", work, "--keyring", key.Armored), data)
	if want := rpmQuery(t, file); got.Package == nil || *got.Package != want {
		t.Errorf("package %+v, want %+v (rpm -qp --qf)", got.Package, want)
	}
	if v := got.Verified; v == nil || !v.OK || v.By != "rpm-header" || v.Signer != key.Fingerprint {
		t.Errorf("verified %+v, want ok by rpm-header signer %s", v, key.Fingerprint)
	}

	tampered := filepath.Join(t.TempDir(), filepath.Base(file))
	data[len(data)-1] ^= 1 // the payload: its digest, which the signed header records, no longer matches
	writeFile(t, tampered, data)
	src, _ = remoteSource(t, tampered, "rpm")
	r := fetchMain(t, sourceLine(t, src), "--work", work, "--keyring", key.Armored)
	fail := refusedAs(t, r, "rpm-header")
	if r.status != 3 || fail.Stage != "fetch" || !strings.Contains(fail.Message, "verifying the rpm") || !strings.Contains(r.stderr, "removed") {
		t.Fatalf("status %d, error %+v\n%s", r.status, fail, r.stderr)
	}
	if _, err := os.Stat(workFile(t, work, src.URI)); !os.IsNotExist(err) {
		t.Errorf("the tampered download is still in the work directory: %v", err)
	}
}

// Without --keyring a signed rpm is "none" under try, the reason said,
// and refused under require (HASHR_VERIFY=require); --verify off
// sets nothing, and still names it.
func TestRemoteRPMVerifyModes(t *testing.T) {
	key := verifytest.NewGPG(t, "fetchmodes", "ed25519")
	src, data := remoteSource(t, verifytest.BuildRPM(t, key, "modes"), "rpm")
	got := checkDownload(t, fetchMain(t, sourceLine(t, src), "--work", t.TempDir()), data)
	if v := got.Verified; v == nil || v.OK || v.By != "none" || !strings.Contains(v.Detail, "no --keyring") {
		t.Errorf("try without --keyring: verified %+v", v)
	}
	t.Setenv("HASHR_VERIFY", "require") // as every flag, from the environment
	r := fetchMain(t, sourceLine(t, src), "--work", t.TempDir())
	if fail := refusedAs(t, r, "none"); r.status != 3 || !strings.Contains(fail.Message, "--verify require") {
		t.Errorf("require without --keyring: status %d, %+v", r.status, fail)
	}
	got = checkDownload(t, fetchMain(t, sourceLine(t, src), "--work", t.TempDir(), "--verify", "off"), data)
	if got.Verified != nil || got.Package == nil {
		t.Errorf("off: verified %+v (want none), package %+v (want one)", got.Verified, got.Package)
	}
}

// A downloaded .deb is named from its control file as `dpkg-deb -f`
// prints it; nothing signs it, so it keeps the reason hashr-scan gave.
func TestRemoteDebNamed(t *testing.T) {
	verifytest.Need(t, "dpkg-deb")
	dir := t.TempDir()
	verifytest.WriteFile(t, filepath.Join(dir, "pkg", "DEBIAN", "control"), "Package: remote-deb\nVersion: 1:2.3-4\n"+
		"Architecture: amd64\nMaintainer: Jörg <j@example.invalid>\nDescription: a remote package\n more\n")
	verifytest.WriteFile(t, filepath.Join(dir, "pkg", "usr", "share", "doc", "remote-deb", "README"), "hello\n")
	file := filepath.Join(dir, "remote-deb_2.3-4_amd64.deb")
	verifytest.Run(t, dir, nil, "dpkg-deb", "--root-owner-group", "--build", filepath.Join(dir, "pkg"), file)
	src, data := remoteSource(t, file, "deb")
	scans := &records.Verified{By: "none", Detail: "nothing signs this remote deb source that hashr-scan can check"}
	src.Verified = scans
	got := checkDownload(t, fetchMain(t, sourceLine(t, src), "--work", t.TempDir()), data)
	f := func(field string) string { return toolOutput(t, "dpkg-deb", "-f", file, field) }
	want := records.Package{Name: f("Package"), Version: f("Version"), Arch: f("Architecture"), Vendor: f("Maintainer"),
		Title: strings.SplitN(f("Description"), "\n", 2)[0]}
	if got.Package == nil || *got.Package != want {
		t.Errorf("package %+v, want %+v (dpkg-deb -f)", got.Package, want)
	}
	if got.Verified == nil || *got.Verified != *scans {
		t.Errorf("verified %+v, want hashr-scan's %+v", got.Verified, scans)
	}
}

// A downloaded cabinet signed with osslsigncode is verified against the
// CA that issued its certificate; without --roots it is not ok (the
// chain unchecked), which --verify require refuses; against another CA
// it is refused.
func TestRemoteCabinetVerified(t *testing.T) {
	p, other := verifytest.NewPKI(t, "fetchcab"), verifytest.NewPKI(t, "other")
	src, data := remoteSource(t, p.SignedCAB(t, t.TempDir(), "update.cab"), "cab")
	got := checkDownload(t, fetchMain(t, sourceLine(t, src), "--work", t.TempDir(), "--roots", p.CA), data)
	if v := got.Verified; v == nil || !v.OK || v.By != "authenticode" || v.Signer != "CN=fetchcab Code Signing,O=hashr tests" {
		t.Errorf("its CA: verified %+v", v)
	}
	got = checkDownload(t, fetchMain(t, sourceLine(t, src), "--work", t.TempDir()), data)
	if v := got.Verified; v == nil || v.OK || v.By != "authenticode" || !strings.Contains(v.Detail, "no --roots") {
		t.Errorf("no --roots: verified %+v", v)
	}
	r := fetchMain(t, sourceLine(t, src), "--work", t.TempDir(), "--verify", "require")
	if fail := refusedAs(t, r, "authenticode"); r.status != 3 || !strings.Contains(fail.Message, "--verify require") {
		t.Errorf("require without --roots: status %d, %+v", r.status, fail)
	}
	r = fetchMain(t, sourceLine(t, src), "--work", t.TempDir(), "--roots", other.CA)
	if fail := refusedAs(t, r, "authenticode"); r.status != 3 || !strings.Contains(fail.Message, "certificate chain") {
		t.Errorf("another CA: status %d, %+v", r.status, fail)
	}
}

// A gzip'd docker save archive, downloaded or local, is named from its
// manifest.json and config read through the decompressor: what the
// same archive uncompressed says (its first RepoTags entry, its image ID,
// its platform), read here with tar(1).
func TestCompressedDockerArchiveNamed(t *testing.T) {
	plain := filepath.Join("..", "..", "testdata", "formats", "docker-archive.tar")
	want := ocitest.DockerArchiveIdentity(t, plain)
	gz := filepath.Join(t.TempDir(), "image.tar.gz")
	writeFile(t, gz, []byte(toolOutputRaw(t, "gzip", "-9c", plain)))
	src, data := remoteSource(t, gz, "docker-archive")
	got := checkDownload(t, fetchMain(t, sourceLine(t, src), "--work", t.TempDir()), data)
	if got.Package == nil || *got.Package != want {
		t.Errorf("downloaded: package %+v, want %+v", got.Package, want)
	}
	abs, _ := filepath.Abs(gz)
	local := records.Source{Repo: "docker", ID: "image.tar.gz", URI: abs, Format: "docker-archive"}
	got = one[*records.Source](t, fetchMain(t, sourceLine(t, local), "--work", t.TempDir()))
	if got.Package == nil || *got.Package != want || got.Verified != nil {
		t.Errorf("local: package %+v, want %+v; verified %+v, want none (scan's to give)", got.Package, want, got.Verified)
	}
}

// refusedAs checks that fetch refused the one source it was given, by
// the scheme by: the source with "refused" and its verdict, the error
// record, the end record (records.Refuse), in that order, and no bytes
// named local. It returns the error record.
func refusedAs(t *testing.T, r result, by string) *records.Error {
	t.Helper()
	recs := r.parsed(t)
	if len(recs) != 3 {
		t.Fatalf("want a refused source's 3 records, got %d:\n%s\nstderr:\n%s", len(recs), r.stdout, r.stderr)
	}
	src, isSrc := recs[0].(*records.Source)
	fail, isErr := recs[1].(*records.Error)
	end, isEnd := recs[2].(*records.End)
	if !isSrc || !isErr || !isEnd {
		t.Fatalf("want a source, an error and an end record, got\n%s", r.stdout)
	}
	if !src.Refused || src.Local != "" || src.Verified == nil || src.Verified.OK || src.Verified.By != by || src.Verified.Detail != fail.Message {
		t.Errorf("refused source %+v (verified %+v), want refused by %s with the error's message", src, src.Verified, by)
	}
	if end.Source != fail.Source || end.Errors != 1 || end.Files != 0 {
		t.Errorf("end record %+v after error %+v", end, fail)
	}
	return fail
}

func toolOutputRaw(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return string(out)
}
