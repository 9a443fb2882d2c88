package cli_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"slices"
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

// withPackages gives each .deb source record of the stream the package
// its control file names (name_version_arch.deb here), where hashr-scan
// did not: the source records a package-aware scan writes.
func withPackages(t *testing.T, stream []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	for line := range bytes.Lines(stream) {
		rec, err := records.Unmarshal(line)
		if err != nil {
			t.Fatal(err)
		}
		if src, ok := rec.(*records.Source); ok && src.Package == nil && strings.HasSuffix(src.ID, ".deb") {
			f := strings.Split(strings.TrimSuffix(src.ID, ".deb"), "_")
			src.Package = &records.Package{Name: f[0], Version: f[1], Arch: f[2], Vendor: "Test <t@example.invalid>"}
			line, err = records.Marshal(src)
			if err != nil {
				t.Fatal(err)
			}
			line = append(line, '\n')
		}
		out.Write(line)
	}
	return out.Bytes()
}

// verifiedSet loads, into a new SQLite database, an apt mirror scanned
// with its keyring (alpha's and beta's .debs, verified) and a tar
// nothing signs (alpha's data.txt again, and gamma.txt), through the
// whole pipeline. It returns the database and the key's fingerprint.
func verifiedSet(t *testing.T) (dbURL, fingerprint string) {
	t.Helper()
	apt := verifytest.BuildAptRepo(t, true)
	work := t.TempDir()
	tree, tars := filepath.Join(work, "tree"), filepath.Join(work, "tars")
	verifytest.WriteFile(t, filepath.Join(tree, "usr/share/alpha/data.txt"), "alpha data\n") // as in alpha's .deb
	verifytest.WriteFile(t, filepath.Join(tree, "gamma.txt"), "gamma data\n")
	verifytest.WriteFile(t, filepath.Join(tars, "tree.tar"), "")
	if out, err := exec.Command("tar", "-C", tree, "-cf", filepath.Join(tars, "tree.tar"), ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	stream := stage(t, scan.Main, nil, "--quiet", "--keyring", apt.Key.Keyring, apt.Root)
	stream = append(stream, stage(t, scan.Main, nil, "--quiet", "--repo", "tree", tars)...)
	stream = stage(t, fetch.Main, withPackages(t, stream), "--quiet", "--work", filepath.Join(work, "fetch"))
	stream = stage(t, extract.Main, stream, "--quiet", "--spool", filepath.Join(work, "spool"))
	stream = stage(t, hashcmd.Main, stream, "--quiet", "--delete")
	dbURL = "sqlite:" + filepath.Join(work, "hashr.db")
	stage(t, load.Main, stream, "--quiet", "--db", dbURL)
	return dbURL, apt.Key.Fingerprint
}

// The verified set through the readers: hashr-lookup names each source's
// package and verification, hashr-export --verified-only leaves the
// tar's files out, and nsrl-rds's packages say how each was verified
// where sqlite3 reads them.
func TestVerifiedPipelineLookupAndExport(t *testing.T) {
	needTool(t, "tar", "tar")
	needTool(t, "sqlite3", "sqlite3")
	dbURL, fingerprint := verifiedSet(t)
	t.Run("lookup", func(t *testing.T) { testLookupNamesProvenance(t, dbURL, fingerprint) })
	t.Run("export --verified-only", func(t *testing.T) {
		paths := func(args ...string) string {
			var got []string
			for line := range bytes.Lines(stage(t, export.Main, nil, append([]string{"--quiet", "--db", dbURL, "--format", "ndjson"}, args...)...)) {
				var f records.File
				if err := json.Unmarshal(line, &f); err != nil {
					t.Fatal(err)
				}
				got = append(got, f.Path)
			}
			slices.Sort(got)
			return strings.Join(got, " ")
		}
		if got := paths(); !strings.Contains(got, "gamma.txt") {
			t.Fatalf("the whole export lacks the tar's gamma.txt: %s", got)
		}
		if got, want := paths("--verified-only"), "usr/share/alpha/data.txt usr/share/beta/data.txt"; got != want {
			t.Errorf("--verified-only exported %s, want %s", got, want)
		}
	})
	t.Run("nsrl-rds", func(t *testing.T) {
		rds := filepath.Join(t.TempDir(), "rds.db")
		stage(t, export.Main, nil, "--quiet", "--db", dbURL, "--format", "nsrl-rds", "-o", rds)
		msg, status := tool(t, filepath.Dir(rds), "sqlite3", "-readonly", rds,
			"SELECT p.name, p.version, coalesce(o.verified_ok, 'NULL'), coalesce(o.verified_by, ''), coalesce(o.verified_signer, '') FROM PKG p JOIN PACKAGE_OBJECT o USING (package_id) ORDER BY p.name")
		if status != 0 {
			t.Fatalf("sqlite3: %s", msg)
		}
		lines := strings.Split(strings.TrimSpace(msg), "\n")
		want := []string{"alpha|1.0-1|1|apt-release|" + fingerprint, "beta|1.0-1|1|apt-release|" + fingerprint}
		if len(lines) != 3 || !slices.Equal(lines[:2], want) || !strings.HasPrefix(lines[2], "tree.tar||") || strings.Contains(lines[2], "|1|") {
			t.Errorf("PKG joined with PACKAGE_OBJECT:\n%s\nwant\n%s\nand tree.tar unverified", msg, strings.Join(want, "\n"))
		}
	})
}

// testLookupNamesProvenance looks up alpha's data.txt, in alpha's .deb
// and the tar, as a hash line and as a file record: the .deb's package and
// verification are named, the tar has no package and is not verified.
func testLookupNamesProvenance(t *testing.T, dbURL, fingerprint string) {
	sum := sha256.Sum256([]byte("alpha data\n"))
	digest := hex.EncodeToString(sum[:])
	for _, input := range []string{digest, `{"type":"file","path":"data.txt","sha256":"` + digest + `"}`} {
		var rec struct {
			Sources         []string
			Packages        map[string]records.Package
			SourcesVerified map[string]records.Verified `json:"sources_verified"`
		}
		out := stage(t, lookup.Main, []byte(input+"\n"), "--quiet", "--db", dbURL)
		if err := json.Unmarshal(out, &rec); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if len(rec.Sources) != 2 {
			t.Fatalf("sources %v, want alpha's .deb and the tar: %s", rec.Sources, out)
		}
		var packaged int
		for _, src := range rec.Sources {
			v, hasV := rec.SourcesVerified[src]
			if p, ok := rec.Packages[src]; ok {
				if p.Name != "alpha" || p.Version != "1.0-1" || !hasV || !v.OK || v.By != "apt-release" || v.Signer != fingerprint {
					t.Errorf("%s: source %s: package %+v, sources_verified %+v (%v): want alpha 1.0-1 verified by apt-release, %s",
						input, src, p, v, hasV, fingerprint)
				}
				packaged++
			} else if hasV && v.OK {
				t.Errorf("%s: the tar's source %s: verified %+v", input, src, v)
			}
		}
		if packaged != 1 {
			t.Errorf("%s: %d sources with a package, want alpha's .deb alone: %s", input, packaged, out)
		}
	}
}
