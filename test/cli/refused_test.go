package cli_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/db/dbtest"
	"github.com/hashr-dev/hashr/internal/db/pgtest"
	"github.com/hashr-dev/hashr/internal/dedup"
	"github.com/hashr-dev/hashr/internal/export"
	"github.com/hashr-dev/hashr/internal/extract"
	"github.com/hashr-dev/hashr/internal/fetch"
	"github.com/hashr-dev/hashr/internal/hashcmd"
	"github.com/hashr-dev/hashr/internal/load"
	"github.com/hashr-dev/hashr/internal/lookup"
	"github.com/hashr-dev/hashr/internal/scan"
	"github.com/hashr-dev/hashr/internal/verify/verifytest"
)

// refusal is what the set must say of one source that failed
// verification: its job failed, its sources row with verified_ok false,
// by and a detail naming why, and none of its members known.
type refusal struct {
	file    string // the source, as hashr-scan found it
	by      string // verified_by
	detail  string // in verified_detail and the job's error
	members []string
}

// refusalCase builds a repository and says how to scan it and which of
// its sources must be refused; done counts the sources that verify.
type refusalCase struct {
	name  string
	build func(t *testing.T) (scanArgs []string, refused []refusal, done int)
}

// flipByte changes the byte at i (from the end when negative) of file.
func flipByte(t *testing.T, file string, i int, mask byte) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if i < 0 {
		i += len(data)
	}
	data[i] ^= mask
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func fileSize(t *testing.T, file string) int64 {
	t.Helper()
	info, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	return info.Size()
}

func aptRefusals(t *testing.T, r *verifytest.AptRepo, detail string, names ...string) []refusal {
	var out []refusal
	for _, name := range names {
		out = append(out, refusal{file: filepath.Join(r.Root, "pool", "main", name+"_1.0-1_amd64.deb"),
			by: "apt-release", detail: detail, members: []string{name + " data\n"}})
	}
	return out
}

var refusalCases = []refusalCase{
	{"apt wrong keyring", func(t *testing.T) ([]string, []refusal, int) {
		r := verifytest.BuildAptRepo(t, true)
		other := verifytest.NewGPG(t, "other", "ed25519")
		return []string{"--keyring", other.Keyring, r.Root}, aptRefusals(t, r, "not in the keyring", "alpha", "beta"), 0
	}},
	{"apt altered index", func(t *testing.T) ([]string, []refusal, int) {
		r := verifytest.BuildAptRepo(t, true)
		idx := filepath.Join(r.Dist, "main", "binary-amd64", "Packages.xz")
		flipByte(t, idx, int(fileSize(t, idx)/2), 0x40)
		return []string{"--keyring", r.Key.Keyring, r.Root}, aptRefusals(t, r, "Packages.xz", "alpha", "beta"), 0
	}},
	{"apt altered package", func(t *testing.T) ([]string, []refusal, int) {
		r := verifytest.BuildAptRepo(t, true)
		flipByte(t, filepath.Join(r.Root, "pool", "main", "beta_1.0-1_amd64.deb"), -1, 1)
		return []string{"--keyring", r.Key.Keyring, r.Root}, aptRefusals(t, r, "sha256 mismatch", "beta"), 1
	}},
	{"yum altered primary.xml", func(t *testing.T) ([]string, []refusal, int) {
		repo := verifytest.BuildYumRepo(t, "xz")
		primary, _ := filepath.Glob(filepath.Join(repo.Root, "repodata", "*-primary.xml.xz"))
		flipByte(t, primary[0], int(fileSize(t, primary[0])/2), 0x40)
		var refused []refusal
		for _, name := range []string{"alpha", "beta"} {
			refused = append(refused, refusal{file: filepath.Join(repo.Root, "Packages", name+"-1.0-1.noarch.rpm"),
				by: "yum-repomd", detail: "primary.xml.xz", members: []string{"hello " + name + "\n"}})
		}
		return []string{"--keyring", repo.Key.Keyring, repo.Root}, refused, 0
	}},
	{"tampered rpm", func(t *testing.T) ([]string, []refusal, int) {
		key := verifytest.NewGPG(t, "rpmkey", "rsa2048")
		dir := t.TempDir()
		rpmFile := filepath.Join(dir, "signed-1.0-1.noarch.rpm")
		data, _ := os.ReadFile(verifytest.BuildRPM(t, key, "signed"))
		verifytest.WriteFile(t, rpmFile, string(data))
		flipByte(t, rpmFile, -1, 1) // the payload's last byte
		return []string{"--keyring", key.Armored, dir}, []refusal{{file: rpmFile, by: "rpm-header", detail: "verifying the rpm", members: []string{"hello signed\n"}}}, 0
	}},
	{"tampered cabinet", func(t *testing.T) ([]string, []refusal, int) {
		p := verifytest.NewPKI(t, "alpha")
		dir := t.TempDir()
		cab := p.SignedCAB(t, dir, "tampered.cab")
		data, _ := os.ReadFile(cab)
		flipByte(t, cab, bytes.Index(data, []byte("hello cabinet")), 'h'^'j')
		return []string{"--roots", p.CA, dir}, []refusal{{file: cab, by: "authenticode", detail: "not the ones signed",
			members: []string{strings.Repeat("hello cabinet\n", 50)}}}, 0
	}},
	{"--verify require on an unsigned rpm", func(t *testing.T) ([]string, []refusal, int) {
		dir := copyFormats(t, "hello-hashr-1.0-1.noarch.rpm")
		return []string{"--verify", "require", dir}, []refusal{{file: filepath.Join(dir, "hello-hashr-1.0-1.noarch.rpm"), by: "none", detail: "--verify require"}}, 0
	}},
}

// TestRefusedSourcesAreFailedJobs: a source that fails verification,
// in hashr-scan (a wrong keyring, an index altered after signing, a
// tampered rpm or cabinet, --verify require on what nothing signs) or
// in hashr-fetch (a package whose bytes are not its signed index's), is
// recorded by scan|fetch|extract|hash|dedup|load in SQLite and PostgreSQL: its
// job failed, its sources row with verified_ok false and why, and none
// of its files is read, known to hashr-lookup or exported.
func TestRefusedSourcesAreFailedJobs(t *testing.T) {
	pg := pgtest.Start(t)
	for _, c := range refusalCases {
		t.Run(c.name, func(t *testing.T) {
			scanArgs, refused, done := c.build(t)
			stream := refusedPipeline(t, scanArgs)
			for _, b := range []struct{ name, url string }{
				{"sqlite", "sqlite:" + filepath.Join(t.TempDir(), "hashr.db")},
				{"postgres", pg.NewDatabase(t)},
			} {
				t.Run(b.name, func(t *testing.T) {
					stageStatus(t, load.Main, stream, -1, "--quiet", "--db", b.url)
					checkRefused(t, b.url, refused, done)
				})
			}
		})
	}
}

// refusedPipeline runs scan|fetch|extract|hash|dedup on a repository some of
// whose sources fail verification: each stage that meets the failure
// exits 3, the others 0 (or 3, passing the failure on).
func refusedPipeline(t *testing.T, scanArgs []string) []byte {
	t.Helper()
	work := t.TempDir()
	stream := stageStatus(t, scan.Main, nil, -1, append([]string{"--quiet", "--plan=false"}, scanArgs...)...)
	stream = stageStatus(t, fetch.Main, stream, -1, "--quiet", "--work", filepath.Join(work, "fetch"))
	stream = stageStatus(t, extract.Main, stream, -1, "--quiet", "--spool", filepath.Join(work, "spool"))
	stream = stageStatus(t, hashcmd.Main, stream, -1, "--quiet", "--delete")
	return stageStatus(t, dedup.Main, stream, -1, "--quiet", "--store", filepath.Join(work, "store"))
}

// stageStatus runs one command in-process and checks its exit status:
// want, or 0 or 3 when want is -1.
func stageStatus(t *testing.T, main func([]string, io.Reader, io.Writer, io.Writer) int, input []byte, want int, args ...string) []byte {
	t.Helper()
	var out, errOut bytes.Buffer
	status := main(args, bytes.NewReader(input), &out, &errOut)
	if (want == -1 && status != 0 && status != 3) || (want != -1 && status != want) {
		t.Fatalf("%v: exit %d, want %d\n%s", args, status, want, errOut.String())
	}
	return out.Bytes()
}

// checkRefused reads the loaded database: each refused source's row and
// job, the done jobs, and the refused members through hashr-lookup and
// hashr-export.
func checkRefused(t *testing.T, url string, refused []refusal, done int) {
	t.Helper()
	sqldb := dbtest.Open(t, url)
	if n := queryInt(t, sqldb, "SELECT count(*) FROM jobs WHERE status = 'done'"); n != int64(done) {
		t.Errorf("%d jobs done, want %d", n, done)
	}
	for _, r := range refused {
		data, err := os.ReadFile(r.file)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		sha := hex.EncodeToString(sum[:])
		var ok bool
		var by, detail, status, jobStatus, jobError string
		err = sqldb.QueryRow(`SELECT s.verified_ok, s.verified_by, s.verified_detail, s.status, j.status, j.error
			FROM sources_hex s JOIN jobs_hex j ON j.sha256 = s.sha256 WHERE s.sha256 = $1`, sha).
			Scan(&ok, &by, &detail, &status, &jobStatus, &jobError)
		if err != nil {
			t.Errorf("%s: no source row and job for its sha256 %s: %v", filepath.Base(r.file), sha, err)
			continue
		}
		if ok || by != r.by || !strings.Contains(detail, r.detail) || status != "failed" || jobStatus != "failed" || !strings.Contains(jobError, r.detail) {
			t.Errorf("%s: verified ok %v by %q detail %q, source %s, job %s %q; want not ok by %s, %q, failed",
				filepath.Base(r.file), ok, by, detail, status, jobStatus, jobError, r.by, r.detail)
		}
		if n := queryInt(t, sqldb, "SELECT count(*) FROM samples_sources_hex WHERE source_sha256 = '"+sha+"'"); n != 0 {
			t.Errorf("%s: %d samples linked to the refused source", filepath.Base(r.file), n)
		}
		for _, member := range r.members {
			checkUnknown(t, url, member)
		}
	}
}

// checkUnknown says a member's bytes are neither known to hashr-lookup
// nor exported.
func checkUnknown(t *testing.T, url, member string) {
	t.Helper()
	sum := sha256.Sum256([]byte(member))
	sha := hex.EncodeToString(sum[:])
	out := stageStatus(t, lookup.Main, []byte(sha+"\n"), -1, "--quiet", "--db", url)
	if !bytes.Contains(out, []byte(`"known":false`)) {
		t.Errorf("hashr-lookup of a refused source's member %q: %s", member, out)
	}
	if exported := stage(t, export.Main, nil, "--quiet", "--db", url, "--format", "sha256sum"); bytes.Contains(exported, []byte(sha)) {
		t.Errorf("hashr-export exports a refused source's member %q", member)
	}
}
