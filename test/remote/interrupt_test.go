package remote

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashr-dev/hashr/internal/fetch"
	"github.com/hashr-dev/hashr/internal/formats/oci/ocitest"
	"github.com/hashr-dev/hashr/internal/lockedbuf"
	"github.com/hashr-dev/hashr/internal/objstore/objstoretest"
	"github.com/hashr-dev/hashr/pkg/records"
)

// fetchChildEnv makes this test binary run as hashr-fetch (see TestMain).
const fetchChildEnv = "HASHR_REMOTE_TEST_FETCH_CHILD"

// interruptedFetch runs hashr-fetch as a process of its own on input,
// waits until a .part in work matching partSuffix holds partBytes bytes
// (a download stalled half-way) and its stdout holds done (a source that
// finished first), sends it SIGTERM and returns its stdout. The run must
// exit 1 and keep the .part.
func interruptedFetch(t *testing.T, input, work, partSuffix string, partBytes int64, done string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "--work", work, "--retries", "1", "--idle-timeout", "30s")
	cmd.Env = append(os.Environ(), fetchChildEnv+"=1")
	cmd.Stdin = strings.NewReader(input)
	var stdout, stderr lockedbuf.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if part := findPart(work, partSuffix); part != "" && strings.Contains(stdout.String(), done) {
			if info, err := os.Stat(part); err == nil && info.Size() == partBytes {
				break
			}
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("no %s of %d bytes in %s after 20s\nstderr:\n%s", partSuffix, partBytes, work, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("hashr-fetch after SIGTERM: %v, want exit status 1\nstderr:\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("stderr does not say the run was interrupted:\n%s", stderr.String())
	}
	part := findPart(work, partSuffix)
	if info, err := os.Stat(part); part == "" || err != nil || info.Size() != partBytes {
		t.Fatalf("after SIGTERM, want %s of %d bytes kept in %s: %v", partSuffix, partBytes, work, err)
	}
	return stdout.String()
}

// findPart finds, anywhere under work, a file whose name ends in suffix.
func findPart(work, suffix string) string {
	var found string
	filepath.WalkDir(work, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, suffix) {
			found = p
		}
		return nil
	})
	return found
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// A bucket or HTTPS download interrupted by SIGTERM half-way keeps its
// .part; the next run asks only for the rest (Range) and verifies the
// whole (size, the store's MD5, the sha256 of the bytes).
func TestInterruptedDownloadResumes(t *testing.T) {
	big := make([]byte, 1<<20)
	rand.Read(big)
	good := []byte("good bytes\n")
	for _, store := range []string{"s3", "gs", "https"} {
		t.Run(store, func(t *testing.T) {
			s, goodURI, bigURI := serveGoodAndBig(t, store, good, big)
			s.Faults.Add(objstoretest.Fault{Match: "big.bin", Stall: true, Times: 1})
			input := sourceLines(t,
				records.Source{ID: "good.bin", URI: goodURI},
				records.Source{ID: "big.bin", URI: bigURI, Size: records.Int64(int64(len(big)))})
			work := t.TempDir()
			half := int64(len(big) / 2)

			out := interruptedFetch(t, input, work, "-big.bin.part", half, `"id":"good.bin"`)
			if !strings.Contains(out, `"id":"good.bin"`) || strings.Contains(out, `"id":"big.bin"`) {
				t.Errorf("the interrupted run wrote:\n%s\nwant the good source's record only", out)
			}
			if f := findPart(work, "-big.bin"); f != "" {
				t.Fatalf("an interrupted download is in place: %s", f)
			}
			checkResumesFrom(t, s, input, work, big, half)
		})
	}
}

// serveGoodAndBig serves good as d/good.bin and big as d/big.bin from a
// store of the kind named (s3, gs or https), and returns their URIs.
func serveGoodAndBig(t *testing.T, store string, good, big []byte) (s *objstoretest.Server, goodURI, bigURI string) {
	t.Helper()
	switch store {
	case "s3":
		s = objstoretest.S3(t, "b", map[string][]byte{"d/good.bin": good, "d/big.bin": big})
		setS3Env(t, s)
		return s, "s3://b/d/good.bin", "s3://b/d/big.bin"
	case "gs":
		s = objstoretest.GCS(t, "b", map[string][]byte{"d/good.bin": good, "d/big.bin": big})
		t.Setenv("STORAGE_EMULATOR_HOST", s.URL)
		return s, "gs://b/d/good.bin", "gs://b/d/big.bin"
	default:
		s = objstoretest.Files(t, map[string][]byte{"/d/good.bin": good, "/d/big.bin": big}, true)
		return s, s.URL + "/d/good.bin", s.URL + "/d/big.bin"
	}
}

// checkResumesFrom runs hashr-fetch again over the interrupted run's
// input: it asks for big.bin from byte half on, once, writes big's
// record with its bytes, and leaves no .part.
func checkResumesFrom(t *testing.T, s *objstoretest.Server, input, work string, big []byte, half int64) {
	t.Helper()
	before := len(s.Faults.Requests())
	fe := stage(t, fetch.Main, input, "--work", work)
	if fe.status != 0 {
		t.Fatalf("the next run: status %d\n%s", fe.status, fe.stderr)
	}
	srcs := sources(fe.records(t))
	if len(srcs) != 2 || srcs[1].ID != "big.bin" || srcs[1].SHA256 != sha256Hex(big) {
		t.Fatalf("the next run wrote:\n%s", fe.stdout)
	}
	if got, err := os.ReadFile(srcs[1].Local); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("the resumed download holds other bytes (%d, %v)", len(got), err)
	}
	var ranges []string
	for _, r := range s.Faults.Requests()[before:] {
		if strings.Contains(r.Path, "big.bin") {
			ranges = append(ranges, r.Range)
		}
	}
	if want := fmt.Sprintf("bytes=%d-", half); len(ranges) != 1 || ranges[0] != want {
		t.Errorf("the next run asked for big.bin with Range %q, want one request for %q", ranges, want)
	}
	if left := findPart(work, ".part"); left != "" {
		t.Errorf("left in --work: %s", left)
	}
}

// An image pull interrupted by SIGTERM keeps NAME.part/ and the blob under
// way in it; the next run finishes it and verifies every blob.
func TestInterruptedPullResumes(t *testing.T) {
	reg := objstoretest.Registry(t)
	host := pushImages(t, reg)
	img := ocitest.Image(t, "amd64")
	cfg, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	reg.Faults.Add(objstoretest.Fault{Match: cfg.Hex, Stall: true, Times: 1})
	input := sourceLines(t,
		records.Source{ID: "img:2", URI: "oci://" + host + "/test/img:2"},
		records.Source{ID: "img:1", URI: "oci://" + host + "/test/img:1"})
	work := t.TempDir()

	out := interruptedFetch(t, input, work, cfg.Hex+".part", int64(len(raw)/2), `"id":"img:2"`)
	if !strings.Contains(out, `"id":"img:2"`) || strings.Contains(out, `"id":"img:1"`) {
		t.Errorf("the interrupted run wrote:\n%s\nwant img:2's record only", out)
	}
	if left := leftovers(t, work, "img_2"); len(left) != 1 || !strings.HasSuffix(left[0], "img_1.part") {
		t.Errorf("after SIGTERM, --work holds %v besides img:2, want img:1's .part directory", left)
	}

	before := len(reg.Faults.Requests())
	fe := stage(t, fetch.Main, input, "--work", work)
	if fe.status != 0 {
		t.Fatalf("the next run: status %d\n%s", fe.status, fe.stderr)
	}
	srcs := sources(fe.records(t))
	if len(srcs) != 2 || srcs[1].ID != "img:1" {
		t.Fatalf("the next run wrote:\n%s", fe.stdout)
	}
	got, err := os.ReadFile(filepath.Join(srcs[1].Local, "blobs", "sha256", cfg.Hex))
	if err != nil || sha256Hex(got) != cfg.Hex {
		t.Fatalf("the config blob after resuming: %v, sha256 %s, want %s", err, sha256Hex(got), cfg.Hex)
	}
	// The next run asked for the rest of the blob first (this registry
	// fake answers an open range 416, so then it starts again from 0).
	var ranges []string
	for _, r := range reg.Faults.Requests()[before:] {
		if strings.Contains(r.Path, cfg.Hex) && r.Method == "GET" {
			ranges = append(ranges, r.Range)
		}
	}
	if want := fmt.Sprintf("bytes=%d-", len(raw)/2); len(ranges) == 0 || ranges[0] != want {
		t.Errorf("the next run asked for the config blob with Range %q, want %q first", ranges, want)
	}
	if left := leftovers(t, work, "img_2", "img_1"); len(left) > 0 {
		t.Errorf("left in --work: %v", left)
	}
}

// Two records for one image fetched at once share its NAME.part/ under a
// lock: one pulls, the other waits and reuses the result.
func TestSameImageInParallel(t *testing.T) {
	reg := objstoretest.Registry(t)
	host := pushImages(t, reg)
	cfg, err := ocitest.Image(t, "amd64").ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	// Slow the config down so the two pulls overlap.
	reg.Faults.Add(objstoretest.Fault{Match: cfg.Hex, Delay: 300 * time.Millisecond})
	line := sourceLines(t, records.Source{ID: "img:1", URI: "oci://" + host + "/test/img:1"})
	work := t.TempDir()
	fe := stage(t, fetch.Main, line+line, "--work", work, "--workers", "2")
	srcs := sources(fe.records(t))
	if fe.status != 0 || len(srcs) != 2 || srcs[0].Local != srcs[1].Local || srcs[0].SHA256 != srcs[1].SHA256 {
		t.Fatalf("status %d\n%s%s", fe.status, fe.stdout, fe.stderr)
	}
	gets := 0
	for _, r := range reg.Faults.Requests() {
		if strings.Contains(r.Path, cfg.Hex) && r.Method == "GET" {
			gets++
		}
	}
	if gets != 1 {
		t.Errorf("the config blob was downloaded %d times, want once", gets)
	}
	if left := leftovers(t, work, "img_1"); len(left) > 0 {
		t.Errorf("left in --work: %v", left)
	}
}
