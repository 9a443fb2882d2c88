package extract

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// rootNames are member names that clean to the archive's root.
var rootNames = []string{".", "/", "./"}

// A tar member named ".", "/" or "./" that is a regular file holds bytes
// no file can be named after: an error record naming it, never a silent
// drop (they vanished with exit 0). python3's tarfile writes them (Go's
// archive/tar refuses a file named "./").
func TestRootNamedTarMembersAreErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "root-names.tar")
	python(t, file, `
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as t:
    for n in [".", "/", "./", "good.txt"]:
        data = ("content of " + n + "\n").encode()
        i = tarfile.TarInfo(n); i.size = len(data); i.mtime = 1700000000
        t.addfile(i, io.BytesIO(data))
    # A directory named so is the root, and no error.
    i = tarfile.TarInfo("./"); i.type = tarfile.DIRTYPE; i.mtime = 1700000000
    t.addfile(i)
`)
	checkRootNameErrors(t, file, rootNames)
}

// python runs a python3 script that writes file.
func python(t *testing.T, file, script string) {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not on PATH")
	}
	if out, err := exec.Command("python3", "-c", script, file).CombinedOutput(); err != nil {
		t.Fatalf("python3: %v\n%s", err, out)
	}
}

// The same in a zip, written by python3's zipfile (Go's zip writer takes
// no bytes for a name ending in "/"): a member named ".", "/" or "./",
// and a directory entry ("d/", reported as "d") that holds bytes.
func TestRootNamedZipMembersAreErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "root-names.zip")
	python(t, file, `
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    for n in [".", "/", "./", "d/", "good.txt"]:
        i = zipfile.ZipInfo(n, (2023, 11, 14, 22, 13, 20)); i.create_system = 3; i.external_attr = 0o100644 << 16
        i.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(i, ("content of " + n + "\n").encode())
`)
	checkRootNameErrors(t, file, append(rootNames, "d"))
}

// checkRootNameErrors runs hashr-extract on file and wants good.txt and
// one error record for each of names.
func checkRootNameErrors(t *testing.T, file string, names []string) {
	t.Helper()
	for _, mode := range [][]string{{"--spool", filepath.Join(t.TempDir(), "spool")}, {"--hash", "sha256"}} {
		o := extract(t, sourceLine(file), mode...)
		files := o.files()
		if o.status != 3 || len(files) != 1 || files["good.txt"] == nil {
			t.Errorf("%s: want exit 3 and good.txt alone\n%s", mode[0], describe(o))
		}
		errs := o.errorPaths()
		for _, name := range names {
			msg, ok := errs[name]
			if !ok || !strings.Contains(msg, "bytes") {
				t.Errorf("%s: member %q: error %q, want one saying its bytes are not extracted\n%s", mode[0], name, msg, describe(o))
			}
		}
		if len(errs) != len(names) {
			t.Errorf("%s: %d errors, want %d\n%s", mode[0], len(errs), len(names), describe(o))
		}
	}
}
