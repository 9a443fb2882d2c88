package scan

import (
	"archive/tar"
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/objstore"
	"github.com/hashr-dev/hashr/internal/objstore/objstoretest"
	"github.com/hashr-dev/hashr/pkg/records"
)

func scanMain(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	status := Main(args, strings.NewReader(""), &out, &errb)
	// The plan record comes first; the tests here look at the sources.
	plan, rest, _ := strings.Cut(out.String(), "\n")
	if status == 2 {
		return status, out.String(), errb.String() // bad usage: nothing scanned
	}
	if !strings.HasPrefix(plan, `{"type":"plan",`) {
		t.Fatalf("hashr-scan's first record is not a plan: %s", plan)
	}
	return status, rest, errb.String()
}

// quick_sha256 of a listed object is exactly the documented string's
// SHA-256.
func TestListingQuick(t *testing.T) {
	sum := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
	o := objstore.Object{Size: 42, MD5: "0123456789abcdef0123456789abcdef", ETag: "0123456789abcdef0123456789abcdef"}
	if got, want := listingQuick(o), sum("md5:0123456789abcdef0123456789abcdef:42"); got != want {
		t.Errorf("with an MD5: %s, want %s", got, want)
	}
	o = objstore.Object{Size: 42, ETag: "9b2cf535f27731c974343645a3985328-3"}
	if got, want := listingQuick(o), sum("etag:9b2cf535f27731c974343645a3985328-3:42"); got != want {
		t.Errorf("multipart: %s, want %s", got, want)
	}
}

// An S3 listing, page by page, gives one source per object with the
// listing's size, MD5 and ETag, and the format of its first bytes.
func TestScanS3(t *testing.T) {
	tarball := makeTar(t, "a.txt", "hello")
	objects := map[string][]byte{"p/x.tar": tarball, "p/notes.txt": []byte("no format"), "q/y.tar": tarball}
	for i := range 3 {
		objects[fmt.Sprintf("p/many/%d.tar", i)] = tarball
	}
	s := objstoretest.S3(t, "bkt", objects)
	t.Setenv("AWS_ENDPOINT_URL", s.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKID")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	status, out, stderr := scanMain(t, "s3://bkt/p/")
	if status != 0 {
		t.Fatalf("status %d\n%s", status, stderr)
	}
	var uris []string
	sum := md5.Sum(tarball)
	for line := range strings.Lines(out) {
		rec, err := records.Unmarshal([]byte(strings.TrimSpace(line)))
		if err != nil {
			t.Fatal(err)
		}
		src := rec.(*records.Source)
		uris = append(uris, src.URI)
		if src.Format != "tar" || src.Repo != "targz" || *src.Size != int64(len(tarball)) {
			t.Errorf("%s: format %q repo %q size %d", src.URI, src.Format, src.Repo, *src.Size)
		}
		if got := string(src.Extra["md5"]); got != `"`+hex.EncodeToString(sum[:])+`"` {
			t.Errorf("%s: md5 %s", src.URI, got)
		}
		if src.QuickSHA256 != listingQuick(objstore.Object{MD5: hex.EncodeToString(sum[:]), Size: int64(len(tarball))}) {
			t.Errorf("%s: quick_sha256 %s", src.URI, src.QuickSHA256)
		}
	}
	want := []string{"s3://bkt/p/many/0.tar", "s3://bkt/p/many/1.tar", "s3://bkt/p/many/2.tar", "s3://bkt/p/x.tar"}
	if strings.Join(uris, " ") != strings.Join(want, " ") {
		t.Errorf("sources %v, want %v (key order, the .txt skipped)", uris, want)
	}
	// A listing refused is an error record, and exit 3.
	s.Faults.Add(objstoretest.Fault{Match: "/bkt", Status: 403})
	if status, out, _ := scanMain(t, "s3://bkt/p/"); status != 3 || !strings.Contains(out, `"type":"error"`) || !strings.Contains(out, "403") {
		t.Errorf("403: status %d\n%s", status, out)
	}
}

// An http(s) URL is one source with HashR's quick hash of its bytes.
func TestScanURL(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), (21<<20)/16) // over 20 MiB: first and last 10 MiB
	tarball := append(makeTar(t, "a.txt", "hello"), big...)
	s := objstoretest.Files(t, map[string][]byte{"/f/x.tar": tarball}, false)
	list := filepath.Join(t.TempDir(), "urls")
	os.WriteFile(list, []byte("# one\n"+s.URL+"/f/x.tar\n"), 0o644)
	status, out, stderr := scanMain(t, "--urls", list)
	if status != 0 {
		t.Fatalf("status %d\n%s", status, stderr)
	}
	rec, err := records.Unmarshal([]byte(strings.TrimSpace(out)))
	if err != nil {
		t.Fatal(err)
	}
	src := rec.(*records.Source)
	h := sha256.New()
	h.Write(tarball[:10<<20])
	h.Write(tarball[len(tarball)-10<<20:])
	if src.QuickSHA256 != hex.EncodeToString(h.Sum(nil)) || src.Format != "tar" || *src.Size != int64(len(tarball)) || src.Mtime == "" {
		t.Errorf("source %+v", src)
	}
	bad := filepath.Join(t.TempDir(), "bad")
	os.WriteFile(bad, []byte("/not/a/url\n"), 0o644)
	if status, _, stderr := scanMain(t, "--urls", bad); status != 2 || !strings.Contains(stderr, "bad:1") {
		t.Errorf("a line that is not a URL: status %d\n%s", status, stderr)
	}
	if status, out, _ := scanMain(t, s.URL+"/f/missing.tar"); status != 3 || !strings.Contains(out, "404") {
		t.Errorf("404: status %d\n%s", status, out)
	}
}

// makeTar is a tar of name, body pairs.
func makeTar(t *testing.T, files ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := 0; i+1 < len(files); i += 2 {
		if err := tw.WriteHeader(&tar.Header{Name: files[i], Mode: 0o644, Size: int64(len(files[i+1])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(files[i+1]))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
