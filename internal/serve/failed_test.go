package serve

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/extract"
	"github.com/hashr-dev/hashr/internal/fetch"
	"github.com/hashr-dev/hashr/internal/load"
	"github.com/hashr-dev/hashr/internal/scan"
)

// onlyFailed is a file that only the failed source holds.
const onlyFailed = "only in a failed source\n"

// addFailedSource loads a third source into the set, failed: it holds
// docs/a.txt, known from the good sources too, and a file of its own. Its
// stream is the real pipeline's with an error record without a path put
// before its end record, as hashr-extract writes when a check covering
// every member fails after the members were read (a gzip CRC, as in
// load_trust.txtar).
func addFailedSource(t *testing.T, set *testSet) {
	t.Helper()
	root, repo := filepath.Join(set.dir, "tree3"), filepath.Join(set.dir, "repo3")
	writeFile(t, filepath.Join(root, "docs/a.txt"), contentOf["docs/a.txt"])
	writeFile(t, filepath.Join(root, "failed.txt"), onlyFailed)
	os.MkdirAll(repo, 0o755)
	if out, err := exec.Command("tar", "-C", root, "-czf", filepath.Join(repo, "tree3.tar.gz"), ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	stream := runStage(t, "hashr-scan", scan.Main, nil, "--quiet", "--repo", "tree", repo)
	stream = runStage(t, "hashr-fetch", fetch.Main, stream, "--quiet", "--work", set.work)
	stream = runStage(t, "hashr-extract", extract.Main, stream, "--quiet", "--no-sandbox", "--hash", "md5,sha1,sha256")
	var failed bytes.Buffer
	for line := range bytes.Lines(stream) {
		var rec struct{ Type, Source string }
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Type == "end" {
			fmt.Fprintf(&failed, `{"type":"error","stage":"extract","source":%q,"id":"tree3.tar.gz","message":"gzip: invalid checksum"}`+"\n", rec.Source)
			line = bytes.Replace(line, []byte(`"errors":0`), []byte(`"errors":1`), 1)
			if !bytes.Contains(line, []byte(`"errors":1`)) {
				line = bytes.Replace(line, []byte(`"type":"end",`), []byte(`"type":"end","errors":1,`), 1)
			}
		}
		failed.Write(line)
	}
	var errs bytes.Buffer
	if code := load.Main([]string{"--db", set.url}, &failed, &bytes.Buffer{}, &errs); code != 0 || !strings.Contains(errs.String(), "1 failed") {
		t.Fatalf("hashr-load of a failed source: exit %d, %s; want it loaded as failed", code, errs.String())
	}
}

// A failed source's samples are not known through the API (404 on
// lookup, absent from bulk, not a parent), as hashr-lookup has it; with
// --include-failed they are, the failed source marked.
func TestFailedSource(t *testing.T) {
	for name, url := range backends(t) {
		t.Run(name, func(t *testing.T) {
			set := buildSet(t, url)
			addFailedSource(t, set)
			_, ts := newTestServer(t, url, nil, nil)
			testFailedUnknown(t, ts)
			_, withFailed := newTestServer(t, url, &options{maxBulk: 2000, bloomFPRate: 0.0001, includeFailed: true}, nil)
			testFailedIncluded(t, withFailed)
		})
	}
}

func testFailedUnknown(t *testing.T, ts *httptest.Server) {
	f, a := digests(onlyFailed), digests(contentOf["docs/a.txt"])
	for _, algo := range []string{"md5", "sha1", "sha256"} {
		if code, body := get(t, ts, "/lookup/"+algo+"/"+f[algo]); code != http.StatusNotFound {
			t.Errorf("lookup %s of a failed source's sample: %d %s, want 404", algo, code, body)
		}
		code, body := do(t, ts, http.MethodPost, "/bulk/"+algo, fmt.Sprintf(`{"hashes": [%q, %q]}`, f[algo], a[algo]))
		var recs []lookupRecord
		if err := json.Unmarshal([]byte(body), &recs); code != http.StatusOK || err != nil {
			t.Fatalf("bulk %s: %d %s %v", algo, code, body, err)
		}
		if len(recs) != 1 || recs[0].SHA256 != strings.ToUpper(a["sha256"]) {
			t.Errorf("bulk %s of a failed source's sample and a.txt: %s, want a.txt alone", algo, body)
		}
		if len(recs) == 1 && (recs[0].ParentTotal != 2 || strings.Contains(body, "tree3") || strings.Contains(body, `"failed": true`)) {
			t.Errorf("bulk %s: a.txt from %d parents, %s; want the 2 good sources, not the failed one", algo, recs[0].ParentTotal, body)
		}
	}
	code, body := get(t, ts, "/info")
	var info infoRecord
	if err := json.Unmarshal([]byte(body), &info); code != http.StatusOK || err != nil || info.FailedSources != 1 || info.IncludesFailed {
		t.Errorf("/info: %d %s, want one failed source, not included", code, body)
	}
}

func testFailedIncluded(t *testing.T, ts *httptest.Server) {
	f := digests(onlyFailed)
	code, body := get(t, ts, "/lookup/sha256/"+f["sha256"])
	var rec lookupRecord
	if err := json.Unmarshal([]byte(body), &rec); code != http.StatusOK || err != nil {
		t.Fatalf("--include-failed: lookup of a failed source's sample: %d %s %v, want 200", code, body, err)
	}
	if len(rec.Sources) != 1 || !rec.Sources[0].Failed || rec.Sources[0].Status != "failed" || rec.FileName != "failed.txt" {
		t.Errorf("--include-failed: %s, want failed.txt from the one source, marked failed", body)
	}
	code, body = do(t, ts, http.MethodPost, "/bulk/sha1", fmt.Sprintf(`{"hashes": [%q]}`, f["sha1"]))
	if code != http.StatusOK || !strings.Contains(body, `"failed": true`) {
		t.Errorf("--include-failed: bulk: %d %s, want the sample, marked failed", code, body)
	}
}
