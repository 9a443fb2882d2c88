package scan

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashr-dev/hashr/internal/magic"
	"github.com/hashr-dev/hashr/pkg/records"
)

// The repo each format gets without --repo: HashR's importer names.
var wantRepo = map[string]string{
	"deb": "deb", "rpm": "rpm", "zip": "zip", "tar": "targz", "iso9660": "iso9660",
	"wim": "windows", "cab": "wsus", "docker-archive": "container", "oci": "container",
	"disk": "disk", "qcow2": "disk", "vmdk": "disk", "vhd": "disk", "vhdx": "disk", "squashfs": "disk",
	"udf": "udf", "7z": "7z", "cpio": "cpio", "ar": "ar", "msi": "wsus", "ole": "ole",
}

func TestDefaultRepoCoversEveryFormat(t *testing.T) {
	for _, f := range magic.Formats() {
		if got := defaultRepo(f); got != wantRepo[f] {
			t.Errorf("defaultRepo(%s) = %q, want %q", f, got, wantRepo[f])
		}
	}
}

// wantSource is the source record scan should write for the fixture
// name of format at path, found below repoPath.
func wantSource(t *testing.T, name, format, repoPath, path string) *records.Source {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	want := records.Source{Repo: wantRepo[format], RepoPath: repoPath, ID: name, URI: path,
		Format: format, Mtime: records.Time(fi.ModTime())}
	if fi.IsDir() {
		// An OCI layout: size is the sum of its files, quick_sha256
		// that of its index.json, mtime index.json's.
		want.Size = records.Int64(duBytes(t, path))
		want.QuickSHA256 = sha256sum(t, filepath.Join(path, "index.json"))
		ifi, err := os.Stat(filepath.Join(path, "index.json"))
		if err != nil {
			t.Fatal(err)
		}
		want.Mtime = records.Time(ifi.ModTime())
	} else {
		want.Size = records.Int64(fi.Size())
		want.QuickSHA256 = expectedQuick(t, path)
	}
	return &want
}

// Every fixture, committed and built at test time, is found with the right
// format, repo, size, mtime and quick_sha256 (checked against sha256sum).
func TestScanFixtures(t *testing.T) {
	committed := formatsDir()
	testtime := buildTestTimeFixtures(t)
	res := scan(t, committed, testtime)
	if res.code != 0 || len(res.errors) > 0 {
		t.Fatalf("exit %d, errors %v\n%s", res.code, res.errors, res.stderr)
	}
	got := res.byURI()
	for _, fx := range readExpected(t) {
		dir, repoPath := committed, committed
		if fx.origin == "testtime" {
			dir, repoPath = testtime, testtime
		}
		path := filepath.Join(dir, fx.name)
		src, found := got[path]
		if fx.format == "" {
			if found {
				t.Errorf("%s: got a %s source, want none", fx.name, src.Format)
			}
			continue
		}
		if !found {
			t.Errorf("%s: no source record, want format %s", fx.name, fx.format)
			continue
		}
		want := wantSource(t, fx.name, fx.format, repoPath, path)
		if diff := diffSource(src, want); diff != "" {
			t.Errorf("%s: %s", fx.name, diff)
		}
	}
	// The OCI layout is one source: nothing inside it is scanned.
	for uri := range got {
		if strings.Contains(uri, "/oci-image/") {
			t.Errorf("scanned inside the OCI layout: %s", uri)
		}
	}
	notSources := 0
	for _, fx := range readExpected(t) {
		if fx.format == "" {
			notSources++
		}
	}
	if !strings.Contains(res.stderr, fmt.Sprintf("sources, %d skipped (no known format)", notSources)) {
		t.Errorf("summary: %q", res.stderr)
	}
}

// duBytes adds up the sizes of the regular files under dir with find(1).
func duBytes(t *testing.T, dir string) int64 {
	out, err := exec.Command("find", dir, "-type", "f", "-printf", `%s\n`).Output()
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, f := range strings.Fields(string(out)) {
		n, _ := strconv.ParseInt(f, 10, 64)
		total += n
	}
	return total
}

func diffSource(got, want *records.Source) string {
	var diffs []string
	cmp := func(field, g, w string) {
		if g != w {
			diffs = append(diffs, fmt.Sprintf("%s = %q, want %q", field, g, w))
		}
	}
	cmp("repo", got.Repo, want.Repo)
	cmp("repo_path", got.RepoPath, want.RepoPath)
	cmp("id", got.ID, want.ID)
	cmp("uri", got.URI, want.URI)
	cmp("format", got.Format, want.Format)
	cmp("mtime", got.Mtime, want.Mtime)
	cmp("quick_sha256", got.QuickSHA256, want.QuickSHA256)
	if got.Size == nil || *got.Size != *want.Size {
		diffs = append(diffs, fmt.Sprintf("size = %v, want %d", got.Size, *want.Size))
	}
	return strings.Join(diffs, "; ")
}

// renameFixtures puts the fixtures in dir under names that say nothing
// of their format (blobNN.bin, and each zip also as .egg and .JAR), and
// returns the format each name has and the .bin names of the zips.
func renameFixtures(t *testing.T, dir string) (want map[string]string, zips []string) {
	t.Helper()
	testtime := buildTestTimeFixtures(t)
	want = map[string]string{} // new name -> format
	n := 0
	for _, fx := range readExpected(t) {
		from := filepath.Join(formatsDir(), fx.name)
		if fx.origin == "testtime" {
			from = filepath.Join(testtime, fx.name)
		}
		if fi, err := os.Stat(from); err != nil || fi.IsDir() {
			continue
		}
		n++
		name := fmt.Sprintf("blob%02d.bin", n)
		if fx.origin == "testtime" {
			// Big and sparse: rename rather than copy.
			if err := os.Rename(from, filepath.Join(dir, name)); err != nil {
				copyFile(t, from, filepath.Join(dir, name))
			}
		} else {
			copyFile(t, from, filepath.Join(dir, name))
		}
		want[name] = fx.format
		if fx.format == magic.Zip {
			zips = append(zips, name)
			for _, ext := range []string{".egg", ".JAR"} {
				zname := fmt.Sprintf("blob%02d%s", n, ext)
				copyFile(t, from, filepath.Join(dir, zname))
				want[zname] = magic.Zip
			}
		}
	}
	return want, zips
}

// Renamed to meaningless names, every fixture is still found by content,
// except zips: those count only with an extension in --zip-exts.
func TestScanRenamedFixtures(t *testing.T) {
	dir := t.TempDir()
	want, zips := renameFixtures(t, dir)
	if len(zips) == 0 {
		t.Fatal("no zip fixture")
	}
	res := scan(t, "--verbose", dir)
	if res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	got := map[string]string{}
	for _, s := range res.sources {
		got[s.ID] = s.Format
	}
	for name, format := range want {
		if slices.Contains(zips, name) {
			format = "" // zip magic, but .bin is not in --zip-exts
			reason := fmt.Sprintf("skipping %s: a zip archive, but its extension is not one of --zip-exts", filepath.Join(dir, name))
			if !strings.Contains(res.stderr, reason) {
				t.Errorf("stderr does not say %q:\n%s", reason, res.stderr)
			}
		}
		if got[name] != format {
			t.Errorf("%s: format %q, want %q", name, got[name], format)
		}
	}
	if !strings.Contains(res.stderr, "hint: to scan such zip files, add their extension to --zip-exts") {
		t.Errorf("no hint about --zip-exts:\n%s", res.stderr)
	}
	wantSkip := fmt.Sprintf(", %d skipped (zip, extension not in --zip-exts)", len(zips))
	if !strings.Contains(res.stderr, wantSkip) {
		t.Errorf("summary does not count the skipped zips (%q):\n%s", wantSkip, res.stderr)
	}
}

// tarHead is a valid tar header block, so that a file of random bytes
// behind it is a source (format tar) and gets a quick_sha256.
// tarHeadEnv hands a test re-run as another user (runAsNobody) the tar
// header, in hex: that user may not be able to read the checkout.
const tarHeadEnv = "HASHR_SCAN_TEST_TAR_HEAD"

func tarHead(t *testing.T) []byte {
	if h := os.Getenv(tarHeadEnv); h != "" {
		data, err := hex.DecodeString(h)
		if err != nil || len(data) != 512 {
			t.Fatalf("%s: %d bytes, %v", tarHeadEnv, len(data), err)
		}
		return data
	}
	data, err := os.ReadFile(filepath.Join(formatsDir(), "sample.tar"))
	if err != nil {
		t.Fatal(err)
	}
	return data[:512]
}

func writeSource(t *testing.T, path string, size int64) {
	t.Helper()
	data := make([]byte, size)
	rand.Read(data)
	copy(data, tarHead(t))
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// quick_sha256 below, at and above 20 MiB, against sha256sum and
// head/tail | sha256sum.
func TestQuickSHA256(t *testing.T) {
	dir := t.TempDir()
	const mib = 1 << 20
	sizes := map[string]int64{
		"small.tar":        1*mib + 3,
		"just-below.tar":   20*mib - 1,
		"exactly-20.tar":   20 * mib,
		"large-25mib.tar":  25 * mib,
		"odd-large.tar":    25*mib + 12345,
		"tiny-header.tar":  512,
		"header-plus1.tar": 513,
	}
	for name, size := range sizes {
		writeSource(t, filepath.Join(dir, name), size)
	}
	res := scan(t, dir)
	if res.code != 0 || len(res.sources) != len(sizes) {
		t.Fatalf("exit %d, %d sources, want %d\n%s", res.code, len(res.sources), len(sizes), res.stderr)
	}
	for _, s := range res.sources {
		var want string
		if sizes[s.ID] < 20*mib {
			want = sha256sum(t, s.URI)
		} else {
			want = headTailSHA256(t, s.URI)
		}
		if s.QuickSHA256 != want {
			t.Errorf("%s (%d bytes): quick_sha256 %s, want %s", s.ID, sizes[s.ID], s.QuickSHA256, want)
		}
	}
}

func TestMissingRepo(t *testing.T) {
	dir := t.TempDir()
	writeSource(t, filepath.Join(dir, "a.tar"), 1024)
	missing := filepath.Join(dir, "nope")
	res := scan(t, missing, dir)
	if res.code != 3 {
		t.Errorf("exit %d, want 3", res.code)
	}
	if len(res.errors) != 1 || res.errors[0].URI != missing || res.errors[0].Source != missing ||
		res.errors[0].Stage != "scan" || !strings.Contains(res.errors[0].Message, "no such file") {
		t.Errorf("error records: %+v", res.errors)
	}
	if len(res.sources) != 1 || res.sources[0].ID != "a.tar" {
		t.Errorf("the walk did not go on to the next REPO: %+v", res.sources)
	}
	if !strings.Contains(res.stderr, "hashr-scan: error: "+missing+": no such file or directory") {
		t.Errorf("stderr: %s", res.stderr)
	}
}

func TestSymlinks(t *testing.T) {
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	must(t, os.MkdirAll(filepath.Join(repo, "sub"), 0o755))
	writeSource(t, filepath.Join(repo, "sub", "a.tar"), 1024)
	other := filepath.Join(dir, "other")
	must(t, os.MkdirAll(other, 0o755))
	writeSource(t, filepath.Join(other, "b.tar"), 2048)
	must(t, os.Symlink("..", filepath.Join(repo, "sub", "loop")))        // a directory loop
	must(t, os.Symlink(other, filepath.Join(repo, "linked-dir")))        // a link to a directory
	must(t, os.Symlink("sub/a.tar", filepath.Join(repo, "link.tar")))    // a link to a file
	must(t, os.Symlink("does-not-exist", filepath.Join(repo, "broken"))) // a broken link
	must(t, os.Symlink("self-b", filepath.Join(repo, "self-a")))         // a file link loop
	must(t, os.Symlink("self-a", filepath.Join(repo, "self-b")))         //
	done := make(chan result, 1)
	go func() { done <- scan(t, repo) }()
	var res result
	select {
	case res = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("hashr-scan did not finish: a symlink loop?")
	}
	if res.code != 3 {
		t.Errorf("exit %d, want 3", res.code)
	}
	var ids []string
	for _, s := range res.sources {
		ids = append(ids, strings.TrimPrefix(s.URI, repo+"/"))
	}
	wantIDs := []string{"link.tar", "linked-dir/b.tar", "sub/a.tar"}
	if !slices.Equal(ids, wantIDs) {
		t.Errorf("sources %q, want %q", ids, wantIDs)
	}
	msgs := map[string]string{}
	for _, e := range res.errors {
		msgs[filepath.Base(e.URI)] = e.Message
	}
	if !strings.Contains(msgs["broken"], `broken symbolic link to "does-not-exist"`) {
		t.Errorf("broken link: %q", msgs["broken"])
	}
	if !strings.Contains(msgs["self-a"], "too many levels of symbolic links") {
		t.Errorf("link loop: %q", msgs["self-a"])
	}
	if len(res.errors) != 3 {
		t.Errorf("%d error records, want 3: %+v", len(res.errors), res.errors)
	}
}

func TestSpecialFilesAreNotOpened(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	writeSource(t, filepath.Join(dir, "z.tar"), 1024)
	done := make(chan result, 1)
	go func() { done <- scan(t, "--verbose", dir) }()
	select {
	case res := <-done:
		if res.code != 0 || len(res.sources) != 1 {
			t.Errorf("exit %d, %d sources\n%s", res.code, len(res.sources), res.stderr)
		}
		if !strings.Contains(res.stderr, "fifo: not a regular file") {
			t.Errorf("stderr: %s", res.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("hashr-scan blocked on a fifo")
	}
}

func TestUnreadableFile(t *testing.T) {
	if os.Geteuid() == 0 {
		// Root reads every file: run this test again as nobody.
		runAsNobody(t, "TestUnreadableFile")
		return
	}
	dir := t.TempDir()
	writeSource(t, filepath.Join(dir, "a.tar"), 1024)
	must(t, os.Chmod(filepath.Join(dir, "a.tar"), 0))
	must(t, os.Mkdir(filepath.Join(dir, "locked"), 0))
	writeSource(t, filepath.Join(dir, "z.tar"), 1024)
	res := scan(t, dir)
	if res.code != 3 || len(res.errors) != 2 {
		t.Fatalf("exit %d, errors %+v", res.code, res.errors)
	}
	for i, want := range []string{"opening: permission denied", "reading the directory: permission denied"} {
		if res.errors[i].Message != want {
			t.Errorf("error %d: %q, want %q", i, res.errors[i].Message, want)
		}
	}
	if len(res.sources) != 1 || res.sources[0].ID != "z.tar" {
		t.Errorf("the walk did not go on: %+v", res.sources)
	}
}

// Records come in filepath.WalkDir order within a REPO, REPOs in the order
// given.
func TestOrder(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"b/z.tar", "b/a/x.tar", "a.tar", "c.tar", "b/a.tar", "B.tar", "b-c/d.tar"} {
		must(t, os.MkdirAll(filepath.Join(dir, "one", filepath.Dir(p)), 0o755))
		writeSource(t, filepath.Join(dir, "one", p), 600)
	}
	must(t, os.MkdirAll(filepath.Join(dir, "two"), 0o755))
	writeSource(t, filepath.Join(dir, "two", "0.tar"), 600)
	var want []string
	for _, root := range []string{"two", "one"} {
		filepath.WalkDir(filepath.Join(dir, root), func(path string, d fs.DirEntry, err error) error {
			if d.Type().IsRegular() {
				want = append(want, path)
			}
			return err
		})
	}
	for range 3 {
		res := scan(t, filepath.Join(dir, "two"), filepath.Join(dir, "one"))
		var got []string
		for _, s := range res.sources {
			got = append(got, s.URI)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("order:\n got %q\nwant %q", got, want)
		}
	}
}

// testFormatsAndRepo checks that --formats (any case, spaced) keeps only
// its formats, and --repo names the sources' repo.
func testFormatsAndRepo(t *testing.T, dir string) {
	res := scan(t, "--formats", " DEB , rpm", "--repo", "mirror", dir)
	if res.code != 0 || len(res.sources) != 2 {
		t.Fatalf("exit %d, %d sources: %s", res.code, len(res.sources), res.stderr)
	}
	for _, s := range res.sources {
		if s.Repo != "mirror" || (s.Format != "deb" && s.Format != "rpm") {
			t.Errorf("source %+v", s)
		}
	}
	if !strings.Contains(res.stderr, "skipped (format not in --formats)") {
		t.Errorf("stderr: %s", res.stderr)
	}
}

func TestFlags(t *testing.T) {
	dir := formatsDir()
	t.Run("unknown format", func(t *testing.T) {
		res := scan(t, "--formats", "deb,floppy", dir)
		if res.code != 2 || len(res.sources) != 0 {
			t.Errorf("exit %d, %d sources", res.code, len(res.sources))
		}
		if !strings.Contains(res.stderr, `unknown format "floppy" in --formats; valid formats: deb, rpm, zip, tar`) {
			t.Errorf("stderr: %s", res.stderr)
		}
	})
	t.Run("no REPO", func(t *testing.T) {
		if res := scan(t); res.code != 2 || !strings.Contains(res.stderr, "no REPO given") {
			t.Errorf("exit %d: %s", res.code, res.stderr)
		}
	})
	t.Run("unknown flag", func(t *testing.T) {
		if res := scan(t, "--nope", dir); res.code != 2 {
			t.Errorf("exit %d: %s", res.code, res.stderr)
		}
	})
	t.Run("formats and repo", func(t *testing.T) { testFormatsAndRepo(t, dir) })
	t.Run("environment", func(t *testing.T) {
		t.Setenv("HASHR_FORMATS", "oci")
		res := scan(t, dir)
		if len(res.sources) != 2 {
			t.Errorf("HASHR_FORMATS=oci: %d sources, want 2 (the layout and its tar)", len(res.sources))
		}
		t.Setenv("HASHR_FORMATS", "nonsense")
		if res := scan(t, dir); res.code != 2 {
			t.Errorf("HASHR_FORMATS=nonsense: exit %d", res.code)
		}
	})
	t.Run("no zip extensions", func(t *testing.T) {
		res := scan(t, "--zip-exts", "", "--formats", "zip", dir)
		if len(res.sources) != 0 || !strings.Contains(res.stderr, "2 skipped (zip, extension not in --zip-exts)") {
			t.Errorf("%d sources: %s", len(res.sources), res.stderr)
		}
	})
	t.Run("quiet", func(t *testing.T) {
		if res := scan(t, "--quiet", dir); res.stderr != "" {
			t.Errorf("--quiet printed %q", res.stderr)
		}
	})
	t.Run("single file", func(t *testing.T) {
		path := filepath.Join(dir, "sample.iso")
		res := scan(t, path)
		if len(res.sources) != 1 || res.sources[0].RepoPath != path || res.sources[0].ID != "sample.iso" {
			t.Errorf("%+v", res.sources)
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// runAsNobody runs one test of this package's test binary as the user
// nobody, with setpriv, and fails if it does not pass there. That user may
// read nothing of the checkout (a clone under a directory only root may
// enter) nor of t.TempDir (made 0700): the test gets what it needs from
// the checkout through the environment, and its binary in a directory of
// its own that anyone may enter.
func runAsNobody(t *testing.T, test string) {
	t.Helper()
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Fatalf("running as root needs setpriv (Debian package util-linux) to drop privileges: %v", err)
	}
	dir, err := os.MkdirTemp("", "hashr-scan-nobody-")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	must(t, os.Chmod(dir, 0o755))
	bin := filepath.Join(dir, "scan.test")
	data, err := os.ReadFile(os.Args[0])
	must(t, err)
	must(t, os.WriteFile(bin, data, 0o755))
	cmd := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups",
		bin, "-test.run=^"+test+"$", "-test.v", "-test.count=1")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TMPDIR=/tmp", "HOME=/tmp", tarHeadEnv+"="+hex.EncodeToString(tarHead(t)))
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+test) {
		t.Fatalf("%s as nobody: %v\n%s", test, err, out)
	}
}
