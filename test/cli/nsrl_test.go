package cli_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/export"
	"github.com/hashr-dev/hashr/internal/extract"
	"github.com/hashr-dev/hashr/internal/fetch"
	"github.com/hashr-dev/hashr/internal/hashcmd"
	"github.com/hashr-dev/hashr/internal/load"
	"github.com/hashr-dev/hashr/internal/lookup"
	"github.com/hashr-dev/hashr/internal/scan"
	"github.com/hashr-dev/hashr/internal/verify/verifytest"
	"github.com/hashr-dev/hashr/pkg/records"
)

// osSet loads, into a new SQLite database, a signed apt mirror (alpha's
// and beta's .debs) and an rpm (gamma) through the whole pipeline. It
// returns the database and what the tools say each package's OS is: the
// suite's Release (Origin Version) and `rpm -qp --qf %{DISTRIBUTION}`.
func osSet(t *testing.T) (dbURL string, wantOS map[string]string) {
	t.Helper()
	apt := verifytest.BuildAptRepo(t, true)
	work := t.TempDir()
	rpms := filepath.Join(work, "rpms")
	rpm := verifytest.BuildRPM(t, nil, "gamma")
	data, err := os.ReadFile(rpm)
	if err != nil {
		t.Fatal(err)
	}
	verifytest.WriteFile(t, filepath.Join(rpms, filepath.Base(rpm)), string(data))
	release, err := os.ReadFile(filepath.Join(apt.Dist, "Release"))
	if err != nil {
		t.Fatal(err)
	}
	field := func(name string) string {
		for line := range strings.Lines(string(release)) {
			if v, ok := strings.CutPrefix(line, name+": "); ok {
				return strings.TrimSpace(v)
			}
		}
		t.Fatalf("the Release has no %s:\n%s", name, release)
		return ""
	}
	dist, err := exec.Command("rpm", "-qp", "--qf", "%{DISTRIBUTION}", rpm).Output()
	if err != nil {
		t.Fatalf("rpm -qp: %v", err)
	}
	debOS := field("Origin") + " " + field("Version")
	wantOS = map[string]string{"alpha": debOS, "beta": debOS, "gamma": string(dist)}

	stream := stage(t, scan.Main, nil, "--quiet", "--keyring", apt.Key.Keyring, apt.Root)
	stream = append(stream, stage(t, scan.Main, nil, "--quiet", "--repo", "rpms", rpms)...)
	stream = stage(t, fetch.Main, stream, "--quiet", "--work", filepath.Join(work, "fetch"))
	stream = stage(t, extract.Main, stream, "--quiet", "--spool", filepath.Join(work, "spool"))
	stream = stage(t, hashcmd.Main, stream, "--quiet", "--delete")
	dbURL = "sqlite:" + filepath.Join(work, "hashr.db")
	stage(t, load.Main, stream, "--quiet", "--db", dbURL)
	return dbURL, wantOS
}

// The package's os, as the Release and rpm say it, goes through the
// database to hashr-lookup, nsrl-rds's OS view and nsrl-2's NSRLOS.txt,
// read back by python3's sqlite3 and csv modules; nsrl-2's four files
// name each other by the same codes, and stdout is its NSRLFile.txt.
func TestPackageOSInLookupAndNSRLExports(t *testing.T) {
	needTool(t, "python3", "python3")
	verifytest.Need(t, "rpmbuild", "rpm", "tar")
	dbURL, wantOS := osSet(t)
	t.Run("lookup", func(t *testing.T) {
		sum := sha256.Sum256([]byte("alpha data\n"))
		var rec struct{ Packages map[string]records.Package }
		out := stage(t, lookup.Main, []byte(hex.EncodeToString(sum[:])+"\n"), "--quiet", "--db", dbURL)
		if err := json.Unmarshal(out, &rec); err != nil || len(rec.Packages) != 1 {
			t.Fatalf("%v: %s", err, out)
		}
		for _, p := range rec.Packages {
			if p.Name != "alpha" || p.OS != wantOS["alpha"] {
				t.Errorf("package %+v, want alpha of %q", p, wantOS["alpha"])
			}
		}
	})
	t.Run("nsrl-rds", func(t *testing.T) {
		rds := filepath.Join(t.TempDir(), "rds.db")
		stage(t, export.Main, nil, "--quiet", "--db", dbURL, "--format", "nsrl-rds", "-o", rds)
		got := python(t, rdsOSReader, rds)
		checkOSRows(t, "nsrl-rds", got, wantOS)
	})
	t.Run("nsrl-2", func(t *testing.T) {
		dir := t.TempDir()
		stage(t, export.Main, nil, "--quiet", "--db", dbURL, "--format", "nsrl-2", "-o", dir)
		got := python(t, rds2Reader, dir)
		checkOSRows(t, "nsrl-2", got, wantOS)
		files, err := os.ReadFile(filepath.Join(dir, "NSRLFile.txt"))
		if err != nil {
			t.Fatal(err)
		}
		if stdout := stage(t, export.Main, nil, "--quiet", "--db", dbURL, "--format", "nsrl-2"); !bytes.Equal(stdout, files) {
			t.Errorf("stdout is not -o DIR's NSRLFile.txt:\n%s\nwant\n%s", stdout, files)
		}
	})
}

// checkOSRows compares the reader's "package|file|os name|os version"
// rows with each package's os and data file, split as NSRL's OS rows
// hold it (the version its last word, as both here have one).
func checkOSRows(t *testing.T, format string, got []string, wantOS map[string]string) {
	t.Helper()
	want := map[string]bool{}
	for pkg, os := range wantOS {
		cut := strings.LastIndexByte(os, ' ')
		file := "data.txt"
		if pkg == "gamma" {
			file = "hello.txt"
		}
		want[pkg+"|"+file+"|"+os[:cut]+"|"+os[cut+1:]] = true
	}
	if len(got) != len(want) {
		t.Fatalf("%s: rows %q, want %v", format, got, want)
	}
	for _, row := range got {
		if !want[row] {
			t.Errorf("%s: row %q, want one of %v", format, row, want)
		}
	}
}

// python runs a python3 script with args and returns its output lines.
func python(t *testing.T, script string, args ...string) []string {
	t.Helper()
	out, err := exec.Command("python3", append([]string{"-c", script}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("python3: %v\n%s", err, out)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// rdsOSReader joins FILE, PKG, OS and MFG of an nsrl-rds database.
const rdsOSReader = `
import sqlite3, sys
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
for row in db.execute("""SELECT p.name, f.file_name, o.name, o.version, m.name FROM FILE f
		JOIN PKG p USING (package_id) JOIN OS o USING (operating_system_id)
		JOIN MFG m ON m.manufacturer_id = o.manufacturer_id ORDER BY p.name"""):
	assert row[4], row
	print("|".join(row[:4]))
`

// rds2Reader reads the four RDS 2.x files with python's csv module,
// checks their headers are NIST's and that every code one names is in the
// file it names, and prints each file's package, name and OS.
const rds2Reader = `
import csv, os, sys
headers = {
	"NSRLFile.txt": ["SHA-1","MD5","CRC32","FileName","FileSize","ProductCode","OpSystemCode","SpecialCode"],
	"NSRLProd.txt": ["ProductCode","ProductName","ProductVersion","OpSystemCode","MfgCode","Language","ApplicationType"],
	"NSRLOS.txt": ["OpSystemCode","OpSystemName","OpSystemVersion","MfgCode"],
	"NSRLMfg.txt": ["MfgCode","MfgName"],
}
rows = {}
for name, header in headers.items():
	with open(os.path.join(sys.argv[1], name), newline="") as f:
		r = csv.reader(f)
		assert next(r) == header, name
		rows[name] = list(r)
mfg = {r[0]: r[1] for r in rows["NSRLMfg.txt"]}
oss = {r[0]: r for r in rows["NSRLOS.txt"]}
prod = {r[0]: r for r in rows["NSRLProd.txt"]}
for r in oss.values():
	assert r[3] in mfg, r
for r in prod.values():
	assert r[3] in oss and r[4] in mfg, r
for f in rows["NSRLFile.txt"]:
	p = prod[f[5]]
	assert f[6] == p[3], (f, p)
	o = oss[f[6]]
	print("|".join([p[1], f[3], o[1], o[2]]))
`
