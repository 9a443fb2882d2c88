// Package remote runs whole pipelines (hashr-scan | hashr-fetch |
// hashr-extract | hashr-load) against remote sources served on loopback:
// an OCI registry, S3, Cloud Storage and HTTPS fakes, well and failing.
package remote

import (
	"bytes"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/pem"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	_ "modernc.org/sqlite"

	"github.com/hashr-dev/hashr/internal/extract"
	"github.com/hashr-dev/hashr/internal/fetch"
	"github.com/hashr-dev/hashr/internal/formats/oci/ocitest"
	"github.com/hashr-dev/hashr/internal/load"
	"github.com/hashr-dev/hashr/internal/objstore/objstoretest"
	"github.com/hashr-dev/hashr/internal/scan"
	"github.com/hashr-dev/hashr/pkg/records"
	"github.com/hashr-dev/hashr/pkg/records/recordstest"
)

// TestMain makes the process trust httptest's TLS certificate (the same
// for every httptest TLS server), so the commands' own HTTPS clients,
// untouched, talk to the HTTPS fake.
func TestMain(m *testing.M) {
	// hashr-extract, run in-process here, parses each source in a child
	// that is this binary.
	if os.Getenv(extract.SandboxChildEnv) == "1" {
		os.Exit(extract.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	// This binary is also hashr-fetch, run as a process of its own where a
	// test sends it a signal.
	if os.Getenv(fetchChildEnv) == "1" {
		os.Exit(fetch.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	s := httptest.NewTLSServer(nil)
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
	s.Close()
	dir, err := os.MkdirTemp("", "hashr-remote-test-")
	if err != nil {
		panic(err)
	}
	file := filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(file, cert, 0o644); err != nil {
		panic(err)
	}
	os.Setenv("SSL_CERT_FILE", file)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type run struct {
	status         int
	stdout, stderr string
}

func stage(t *testing.T, main func([]string, io.Reader, io.Writer, io.Writer) int, stdin string, args ...string) run {
	t.Helper()
	var out, errb bytes.Buffer
	status := main(args, strings.NewReader(stdin), &out, &errb)
	return run{status, out.String(), errb.String()}
}

func (r run) records(t *testing.T) []records.Record {
	t.Helper()
	return recordstest.Decode(t, r.stdout)
}

func sources(recs []records.Record) []*records.Source {
	var out []*records.Source
	for _, r := range recs {
		if s, ok := r.(*records.Source); ok {
			out = append(out, s)
		}
	}
	return out
}

func errorRecords(recs []records.Record) []*records.Error {
	var out []*records.Error
	for _, r := range recs {
		if e, ok := r.(*records.Error); ok {
			out = append(out, e)
		}
	}
	return out
}

// filesBySource maps each source's id to its files' path -> sha256.
func filesBySource(recs []records.Record) map[string]map[string]string {
	out := map[string]map[string]string{}
	shaToID := map[string]string{}
	for _, r := range recs {
		switch r := r.(type) {
		case *records.Source:
			shaToID[r.SHA256] = r.ID
			out[r.ID] = map[string]string{}
		case *records.File:
			out[shaToID[r.Source]][r.Path] = r.SHA256
		}
	}
	return out
}

func sums(files map[string]string) map[string]string {
	out := map[string]string{}
	for p, body := range files {
		s := sha256.Sum256([]byte(body))
		out[p] = hex.EncodeToString(s[:])
	}
	return out
}

func equal(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	for p, s := range want {
		if got[p] != s {
			t.Errorf("%s: %s: got %q, want %q", what, p, got[p], s)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("%s: unexpected %s", what, p)
		}
	}
}

// imageFiles writes the test image as a docker archive and an OCI layout
// tar, and says what each extracts to, layer by layer.
type imageFiles struct {
	dockerTar, layoutTar []byte
	byDiffID, byDigest   map[string]string
}

func makeImageFiles(t *testing.T) imageFiles {
	img := ocitest.Image(t)
	dir := t.TempDir()
	ocitest.WriteDockerArchive(t, filepath.Join(dir, "image.tar"), "example.org/test:1", img)
	ocitest.WriteLayout(t, filepath.Join(dir, "layout"), img)
	ocitest.TarDir(t, filepath.Join(dir, "layout"), filepath.Join(dir, "layout.tar"))
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return imageFiles{read("image.tar"), read("layout.tar"),
		ocitest.ByLayer(ocitest.DiffIDs(t, img)), ocitest.ByLayer(ocitest.LayerDigests(t, img))}
}

// pipeline runs scan | fetch | extract --hash | load and returns extract's
// records; every stage must succeed.
func pipeline(t *testing.T, scanArgs []string, extractArgs ...string) ([]records.Record, string) {
	t.Helper()
	work := t.TempDir()
	sc := stage(t, scan.Main, "", scanArgs...)
	if sc.status != 0 {
		t.Fatalf("hashr-scan %v: status %d\n%s%s", scanArgs, sc.status, sc.stderr, sc.stdout)
	}
	fe := stage(t, fetch.Main, sc.stdout, "--work", work, "--retries", "1")
	if fe.status != 0 {
		t.Fatalf("hashr-fetch: status %d\n%s%s", fe.status, fe.stderr, fe.stdout)
	}
	ex := stage(t, extract.Main, fe.stdout, append([]string{"--hash", "md5,sha1,sha256", "--spool", t.TempDir()}, extractArgs...)...)
	if ex.status != 0 {
		t.Fatalf("hashr-extract: status %d\n%s%s", ex.status, ex.stderr, ex.stdout)
	}
	db := filepath.Join(t.TempDir(), "hashr.db")
	lo := stage(t, load.Main, ex.stdout, "--db", "sqlite:"+db)
	if lo.status != 0 {
		t.Fatalf("hashr-load: status %d\n%s%s", lo.status, lo.stderr, lo.stdout)
	}
	return ex.records(t), db
}

func count(t *testing.T, db, query string) int {
	t.Helper()
	conn, err := sql.Open("sqlite", db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var n int
	if err := conn.QueryRow(query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// checkImagePipeline checks a bucket or URL pipeline of the two image
// files, by layer and flattened.
func checkImagePipeline(t *testing.T, imgs imageFiles, scanArgs []string, dockerID, layoutID string) {
	recs, db := pipeline(t, scanArgs)
	got := filesBySource(recs)
	if len(sources(recs)) != 2 {
		t.Fatalf("%v: want 2 sources, got %d", scanArgs, len(sources(recs)))
	}
	equal(t, dockerID, got[dockerID], sums(imgs.byDiffID))
	equal(t, layoutID, got[layoutID], sums(imgs.byDigest))
	if n := count(t, db, `SELECT count(*) FROM jobs WHERE status = 'done'`); n != 2 {
		t.Errorf("jobs done: %d, want 2", n)
	}
	// The distinct contents of the image: 9.
	if n := count(t, db, `SELECT count(*) FROM samples`); n != 9 {
		t.Errorf("samples: %d, want 9", n)
	}
	recs, _ = pipeline(t, scanArgs, "--flatten")
	for id, files := range filesBySource(recs) {
		equal(t, id+" --flatten", files, sums(ocitest.Flattened))
	}
}

func bucketObjects(imgs imageFiles) map[string][]byte {
	return map[string][]byte{
		"exports/image.tar":  imgs.dockerTar,
		"exports/layout.tar": imgs.layoutTar,
		"exports/notes.txt":  []byte("not a source\n"),
		"other/ignored.tar":  imgs.dockerTar,
	}
}

func setS3Env(t *testing.T, s *objstoretest.Server) {
	t.Setenv("AWS_ENDPOINT_URL", s.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_REGION", "us-east-1")
}

func TestS3Pipeline(t *testing.T) {
	imgs := makeImageFiles(t)
	s := objstoretest.S3(t, "images", bucketObjects(imgs))
	setS3Env(t, s)
	checkImagePipeline(t, imgs, []string{"s3://images/exports/"}, "image.tar", "layout.tar")
}

func TestGCSPipeline(t *testing.T) {
	imgs := makeImageFiles(t)
	s := objstoretest.GCS(t, "images", bucketObjects(imgs))
	t.Setenv("STORAGE_EMULATOR_HOST", strings.TrimPrefix(s.URL, "http://"))
	checkImagePipeline(t, imgs, []string{"gs://images/exports/"}, "image.tar", "layout.tar")
}

func TestHTTPSPipeline(t *testing.T) {
	imgs := makeImageFiles(t)
	s := objstoretest.Files(t, map[string][]byte{"/dl/image.tar": imgs.dockerTar, "/dl/layout.tar": imgs.layoutTar}, true)
	urls := filepath.Join(t.TempDir(), "urls.txt")
	if err := os.WriteFile(urls, []byte("# images\n"+s.URL+"/dl/layout.tar\n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	checkImagePipeline(t, imgs, []string{s.URL + "/dl/image.tar", "--urls", urls}, "image.tar", "layout.tar")
}

// pushImages puts the amd64 image at test/img:1, the arm64 one at
// test/img:2, and both as one multi-platform index at test/multi:latest.
func pushImages(t *testing.T, reg *objstoretest.Server) string {
	t.Helper()
	host := strings.TrimPrefix(reg.URL, "http://")
	amd, arm := ocitest.Image(t, "amd64"), ocitest.Image(t, "arm64")
	for tag, img := range map[string]v1.Image{"test/img:1": amd, "test/img:2": arm} {
		ref, err := name.ParseReference(host + "/" + tag)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
	}
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}})
	ref, err := name.ParseReference(host + "/test/multi:latest")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	return host
}

func TestRegistryPipeline(t *testing.T) {
	reg := objstoretest.Registry(t)
	host := pushImages(t, reg)
	amd := ocitest.LayerDigests(t, ocitest.Image(t, "amd64"))

	recs, db := pipeline(t, []string{"oci://" + host + "/test/img"})
	srcs := sources(recs)
	var ids []string
	for _, s := range srcs {
		ids = append(ids, s.ID)
		if s.Format != "oci" || !strings.HasPrefix(s.URI, "oci://"+host+"/test/img:") {
			t.Errorf("source %s: format %q, uri %q", s.ID, s.Format, s.URI)
		}
	}
	if !slices.Equal(ids, []string{"img:1", "img:2"}) {
		t.Fatalf("sources %v, want img:1 and img:2 (one per tag)", ids)
	}
	for _, s := range srcs { // scan names each by its reference, fetch adds its platform (and its os), extract keeps it
		want := records.Package{Name: host + "/test/img", Version: strings.TrimPrefix(s.ID, "img:"), Vendor: host, Digest: "sha256:" + s.QuickSHA256,
			Arch: map[string]string{"img:1": "linux/amd64", "img:2": "linux/arm64"}[s.ID], OS: "linux"}
		if s.Package == nil || *s.Package != want {
			t.Errorf("source %s: package %+v, want %+v", s.ID, s.Package, want)
		}
	}
	got := filesBySource(recs)
	// The layers are the same bytes for both architectures.
	equal(t, "img:1", got["img:1"], sums(ocitest.ByLayer(amd)))
	equal(t, "img:2", got["img:2"], sums(ocitest.ByLayer(amd)))
	if n := count(t, db, `SELECT count(*) FROM jobs WHERE status = 'done'`); n != 2 {
		t.Errorf("jobs done: %d, want 2", n)
	}

	recs, _ = pipeline(t, []string{"oci://" + host + "/test/img:1"}, "--flatten")
	equal(t, "img:1 --flatten", filesBySource(recs)["img:1"], sums(ocitest.Flattened))

	// By digest: the same image.
	ref1, err := name.ParseReference(host + "/test/img:1")
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Head(ref1)
	if err != nil {
		t.Fatal(err)
	}
	recs, _ = pipeline(t, []string{"oci://" + host + "/test/img@" + desc.Digest.String()}, "--flatten")
	if srcs := sources(recs); len(srcs) != 1 || srcs[0].QuickSHA256 != desc.Digest.Hex {
		t.Fatalf("by digest: %+v", srcs)
	}
	equal(t, "img@digest --flatten", filesBySource(recs)["img@"+desc.Digest.String()], sums(ocitest.Flattened))

	// A multi-platform index: every platform, each under its name.
	recs, _ = pipeline(t, []string{"oci://" + host + "/test/multi:latest"}, "--flatten")
	want := map[string]string{}
	for p, s := range sums(ocitest.Flattened) {
		want["linux-amd64/"+p], want["linux-arm64/"+p] = s, s
	}
	equal(t, "multi --flatten", filesBySource(recs)["multi:latest"], want)
}

// fetchFails runs hashr-fetch on the records and expects the source named
// bad to fail and the others to come through; it returns the error
// message and the work directory.
func fetchFails(t *testing.T, input, bad string, args ...string) (string, string) {
	t.Helper()
	work := t.TempDir()
	fe := stage(t, fetch.Main, input, append([]string{"--work", work, "--retries", "1", "--idle-timeout", "400ms", "--connect-timeout", "2s"}, args...)...)
	if fe.status != 3 {
		t.Fatalf("status %d, want 3\n%s%s", fe.status, fe.stderr, fe.stdout)
	}
	recs := fe.records(t)
	errs := errorRecords(recs)
	if len(errs) != 1 || errs[0].ID != bad {
		t.Fatalf("want one error record, for %s; got\n%s", bad, fe.stdout)
	}
	good := sources(recs)
	if len(good) != strings.Count(input, "\n")-1 {
		t.Errorf("the other sources did not all come through:\n%s", fe.stdout)
	}
	for _, s := range good {
		if _, err := os.Stat(s.Local); err != nil {
			t.Errorf("%s: %v", s.ID, err)
		}
	}
	return errs[0].Message, work
}

// workHolds lists what the work directory holds besides the good
// sources' files.
func leftovers(t *testing.T, work string, good ...string) []string {
	t.Helper()
	entries, _ := os.ReadDir(work)
	var out []string
	for _, e := range entries {
		keep := false
		for _, g := range good {
			keep = keep || strings.HasSuffix(e.Name(), g) || strings.HasSuffix(e.Name(), g+"_1")
		}
		if !keep {
			out = append(out, e.Name())
		}
	}
	return out
}

func sourceLines(t *testing.T, srcs ...records.Source) string {
	recs := make([]records.Record, len(srcs))
	for i := range srcs {
		recs[i] = &srcs[i]
	}
	return recordstest.Lines(t, recs...)
}

// bucketServer starts a fake store ("s3" or "gs") holding objects, and
// points the commands at it.
func bucketServer(t *testing.T, store string, objects map[string][]byte) *objstoretest.Server {
	if store == "s3" {
		s := objstoretest.S3(t, "b", objects)
		setS3Env(t, s)
		return s
	}
	s := objstoretest.GCS(t, "b", objects)
	t.Setenv("STORAGE_EMULATOR_HOST", s.URL)
	return s
}

func TestBucketFailures(t *testing.T) {
	good, bad := []byte("good bytes\n"), bytes.Repeat([]byte("bad bytes "), 10000)
	objects := map[string][]byte{"d/good.bin": good, "d/bad.bin": bad}
	for _, store := range []string{"s3", "gs"} {
		s := bucketServer(t, store, objects)
		input := sourceLines(t,
			records.Source{ID: "good.bin", URI: store + "://b/d/good.bin"},
			records.Source{ID: "bad.bin", URI: store + "://b/d/bad.bin"})
		for _, c := range []struct {
			name    string
			fault   objstoretest.Fault
			message string
			removed bool // the error says a .part was removed
		}{
			// a refusal names the credentials the request was made with
			{"403", objstoretest.Fault{Status: 403}, "403 Forbidden (credentials: the environment (AWS_ACCESS_KEY_ID))|403 Forbidden (credentials: none (STORAGE_EMULATOR_HOST))", false},
			{"404", objstoretest.Fault{Status: 404}, "404", false},
			{"503 always", objstoretest.Fault{Status: 503}, "503", false},
			{"slow", objstoretest.Fault{Delay: 3 * 1e9}, "sent nothing|timeout", false},
			{"truncated always", objstoretest.Fault{Truncate: true}, "bytes", true},
			{"stalled mid-body", objstoretest.Fault{Stall: true}, "sent nothing", true},
			{"corrupt", objstoretest.Fault{Corrupt: true}, "md5 mismatch", true},
		} {
			t.Run(store+" "+c.name, func(t *testing.T) {
				s.Faults.Clear()
				f := c.fault
				f.Match = "bad.bin"
				s.Faults.Add(f)
				msg, work := fetchFails(t, input, "bad.bin")
				if !saysOneOf(msg, c.message) {
					t.Errorf("message %q does not say %q", msg, c.message)
				}
				if left := leftovers(t, work, "good.bin"); len(left) > 0 {
					t.Errorf("left in --work: %v", left)
				}
				if says := strings.Contains(msg, "removed the partial download"); says != c.removed {
					t.Errorf("message %q: says it removed a .part: %v, want %v", msg, says, c.removed)
				}
			})
		}
		// Failing once is retried, and resumed where it was cut.
		for _, f := range []objstoretest.Fault{{Status: 503, Times: 1}, {Truncate: true, Times: 1}} {
			s.Faults.Clear()
			f.Match = "bad.bin"
			s.Faults.Add(f)
			work := t.TempDir()
			fe := stage(t, fetch.Main, input, "--work", work, "--retries", "2")
			if fe.status != 0 {
				t.Errorf("%s, a fault once (%+v): status %d\n%s", store, f, fe.status, fe.stderr)
			}
		}
		s.Faults.Clear()
	}
}

func TestBucketDown(t *testing.T) {
	s := objstoretest.S3(t, "b", map[string][]byte{"x": []byte("x")})
	setS3Env(t, s)
	s.Close()
	sc := stage(t, scan.Main, "", "s3://b/")
	if sc.status != 3 || len(errorRecords(sc.records(t))) != 1 {
		t.Errorf("scan of a bucket that is down: status %d\n%s%s", sc.status, sc.stderr, sc.stdout)
	}
	work := t.TempDir()
	fe := stage(t, fetch.Main, sourceLines(t, records.Source{ID: "x", URI: "s3://b/x"}), "--work", work, "--retries", "1", "--connect-timeout", "1s")
	if fe.status != 3 || len(errorRecords(fe.records(t))) != 1 {
		t.Errorf("fetch from a bucket that is down: status %d\n%s%s", fe.status, fe.stderr, fe.stdout)
	}
	if left := leftovers(t, work); len(left) > 0 {
		t.Errorf("left in --work: %v", left)
	}
}

// A registryFault is a fault of the registry serving img:1 and what
// hashr-fetch must say about it.
type registryFault struct {
	name, match string
	fault       objstoretest.Fault
	message     string // |-separated: the message says one of them
	removed     bool   // the error says the image's .part was removed
}

// registryFaults are faults of img:1's manifest and of its config blob,
// whose digest is cfgHex.
func registryFaults(cfgHex string) []registryFault {
	return []registryFault{
		{"manifest 404", "/manifests/1", objstoretest.Fault{Status: 404}, "404", false},
		{"manifest 403", "/manifests/1", objstoretest.Fault{Status: 403}, "403", false},
		{"manifest slow", "/manifests/1", objstoretest.Fault{Delay: 3 * 1e9}, "timeout", false},
		{"blob 404", cfgHex, objstoretest.Fault{Status: 404}, "404", true},
		{"blob 503", cfgHex, objstoretest.Fault{Status: 503}, "503", true},
		{"blob corrupt", cfgHex, objstoretest.Fault{Corrupt: true}, "sha256 mismatch", true},
		{"blob truncated", cfgHex, objstoretest.Fault{Truncate: true}, "bytes", true},
		{"blob stalled", cfgHex, objstoretest.Fault{Stall: true}, "sent nothing", true},
		{"blob slow", cfgHex, objstoretest.Fault{Delay: 3 * 1e9}, "sent nothing|timeout", true},
	}
}

func TestRegistryFailures(t *testing.T) {
	reg := objstoretest.Registry(t)
	host := pushImages(t, reg)
	// img:1 and img:2 share their layers; their configs are their own.
	cfg, err := ocitest.Image(t, "amd64").ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	input := sourceLines(t,
		records.Source{ID: "img:2", URI: "oci://" + host + "/test/img:2"},
		records.Source{ID: "img:1", URI: "oci://" + host + "/test/img:1"})
	for _, c := range registryFaults(cfg.Hex) {
		t.Run(c.name, func(t *testing.T) {
			reg.Faults.Clear()
			f := c.fault
			f.Match = c.match
			reg.Faults.Add(f)
			msg, work := fetchFails(t, input, "img:1")
			if !saysOneOf(msg, c.message) {
				t.Errorf("message %q does not say %q", msg, c.message)
			}
			if left := leftovers(t, work, "img_2"); len(left) > 0 {
				t.Errorf("left in --work: %v", left)
			}
			if says := strings.Contains(msg, "removed the partial image"); says != c.removed {
				t.Errorf("message %q: says it removed the image's .part: %v, want %v", msg, says, c.removed)
			}
		})
	}
	reg.Faults.Clear()
	// Failing once is retried.
	reg.Faults.Add(objstoretest.Fault{Match: cfg.Hex, Status: 503, Times: 1})
	if fe := stage(t, fetch.Main, input, "--work", t.TempDir(), "--retries", "2"); fe.status != 0 {
		t.Errorf("a blob failing once: status %d\n%s", fe.status, fe.stderr)
	}
	reg.Faults.Clear()
	reg.Close()
	checkRegistryDown(t, host, input)
}

// checkRegistryDown scans and fetches from host, a registry that is
// down: an error record for the repository and for each image, status 3,
// nothing left in --work.
func checkRegistryDown(t *testing.T, host, input string) {
	t.Helper()
	sc := stage(t, scan.Main, "", "oci://"+host+"/test/img")
	if sc.status != 3 || len(errorRecords(sc.records(t))) != 1 {
		t.Errorf("scan of a registry that is down: status %d\n%s%s", sc.status, sc.stderr, sc.stdout)
	}
	work := t.TempDir()
	fe := stage(t, fetch.Main, input, "--work", work, "--retries", "1", "--connect-timeout", "1s")
	if fe.status != 3 || len(errorRecords(fe.records(t))) != 2 {
		t.Errorf("fetch from a registry that is down: status %d\n%s%s", fe.status, fe.stderr, fe.stdout)
	}
	if left := leftovers(t, work); len(left) > 0 {
		t.Errorf("left in --work: %v", left)
	}
}

// saysOneOf reports whether msg holds one of the |-separated phrases.
func saysOneOf(msg, phrases string) bool {
	for p := range strings.SplitSeq(phrases, "|") {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

// An OCI layout directory on disk is used in place by hashr-fetch, its
// sha256 that of its index.json, and extracted from there.
func TestLayoutDirPipeline(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "images")
	ocitest.WriteLayout(t, filepath.Join(dir, "app"), ocitest.Image(t))
	recs, _ := pipeline(t, []string{dir}, "--flatten")
	srcs := sources(recs)
	if len(srcs) != 1 || srcs[0].Local != filepath.Join(dir, "app") {
		t.Fatalf("sources %+v", srcs)
	}
	index, err := os.ReadFile(filepath.Join(dir, "app", "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(index); srcs[0].SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("sha256 %s, want that of index.json", srcs[0].SHA256)
	}
	equal(t, "layout dir --flatten", filesBySource(recs)["app"], sums(ocitest.Flattened))
}
