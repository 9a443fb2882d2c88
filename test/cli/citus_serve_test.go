package cli_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// sameServed checks that hashr-serve answers every endpoint of its API
// with the same bytes over Citus as over one PostgreSQL holding the same
// rows: lookups by each digest (known, failed and unknown), bulks, a
// file's parents and a source's children (paged), and /info but for the
// time of the last load, which differs between the two loads.
func sameServed(t *testing.T, pgURL, citusURL string, hashed, stream []byte) {
	t.Helper()
	fromPG, fromCitus := startServe(t, pgURL), startServe(t, citusURL)
	requests := servedRequests(t, hashed, stream)
	for _, req := range requests {
		a, b := serveAnswer(t, fromPG, req), serveAnswer(t, fromCitus, req)
		if req.path == "/info" {
			a, b = withoutLastLoad(t, a), withoutLastLoad(t, b)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("hashr-serve %s %s: Citus answers\n%s\nPostgreSQL\n%s", req.method, req.path, b, a)
		}
	}
	if len(requests) < 20 {
		t.Errorf("only %d requests compared; the stream gave too few hashes", len(requests))
	}
}

type serveRequest struct {
	method, path, body string
}

// servedRequests are the requests compared: for some of the files,
// lookups by md5, sha1 and sha256 and their parents; a bulk of them all
// and an unknown one, by each digest; each source's children in pages of
// two; an unknown hash; /info.
func servedRequests(t *testing.T, hashed, stream []byte) []serveRequest {
	t.Helper()
	var reqs []serveRequest
	bulk := map[string][]string{}
	n := 0
	for line := range bytes.Lines(hashed) {
		var f struct{ Type, MD5, SHA1, SHA256 string }
		if json.Unmarshal(line, &f) != nil || f.Type != "file" || f.SHA256 == "" {
			continue
		}
		for algo, h := range map[string]string{"md5": f.MD5, "sha1": f.SHA1, "sha256": f.SHA256} {
			bulk[algo] = append(bulk[algo], h)
		}
		if n++; n <= 12 {
			reqs = append(reqs,
				serveRequest{"GET", "/lookup/md5/" + f.MD5, ""},
				serveRequest{"GET", "/lookup/sha1/" + strings.ToUpper(f.SHA1), ""},
				serveRequest{"GET", "/lookup/sha256/" + f.SHA256, ""},
				serveRequest{"GET", "/parents/" + f.SHA1 + "/2/0", ""})
		}
	}
	unknown := map[string]string{"md5": strings.Repeat("0", 32), "sha1": strings.Repeat("0", 40), "sha256": strings.Repeat("0", 64)}
	for _, algo := range []string{"md5", "sha1", "sha256"} {
		body, err := json.Marshal(map[string][]string{"hashes": append(bulk[algo], unknown[algo])})
		if err != nil {
			t.Fatal(err)
		}
		reqs = append(reqs, serveRequest{"POST", "/bulk/" + algo, string(body)},
			serveRequest{"GET", "/lookup/" + algo + "/" + unknown[algo], ""})
	}
	for line := range bytes.Lines(stream) {
		var src struct{ Type, SHA256 string }
		if json.Unmarshal(line, &src) == nil && src.Type == "source" {
			reqs = append(reqs, serveRequest{"GET", "/children/" + src.SHA256 + "/2/0", ""},
				serveRequest{"GET", "/children/" + src.SHA256 + "/2/2", ""})
		}
	}
	return append(reqs, serveRequest{"GET", "/info", ""})
}

// startServe runs hashr-serve (this test binary under that name, which
// testscript puts on $PATH) over url on a free loopback port, and returns
// its base URL; the test's end stops it with SIGTERM.
func startServe(t *testing.T, url string) string {
	t.Helper()
	addrFile := filepath.Join(t.TempDir(), "addr")
	cmd := exec.Command("hashr-serve", "--quiet", "--db", url, "--listen", "127.0.0.1:0", "--addr-file", addrFile)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting hashr-serve: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		if err := <-exited; err != nil {
			t.Errorf("hashr-serve over %s: %v\n%s", url, err, stderr.String())
		}
	})
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if b, err := os.ReadFile(addrFile); err == nil && len(b) > 0 && b[len(b)-1] == '\n' {
			return "http://" + strings.TrimSpace(string(b))
		}
		select {
		case err := <-exited:
			t.Fatalf("hashr-serve over %s exited before listening: %v\n%s", url, err, stderr.String())
		default:
		}
	}
	t.Fatalf("hashr-serve over %s did not listen within 20 s\n%s", url, stderr.String())
	return ""
}

// serveAnswer is the status line and body of one request.
func serveAnswer(t *testing.T, base string, req serveRequest) []byte {
	t.Helper()
	r, err := http.NewRequest(req.method, base+req.path, strings.NewReader(req.body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatalf("hashr-serve %s %s: %v", req.method, req.path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(bufio.NewReader(resp.Body))
	if err != nil {
		t.Fatalf("hashr-serve %s %s: reading the answer: %v", req.method, req.path, err)
	}
	return fmt.Appendf(nil, "%d %s", resp.StatusCode, body)
}

// withoutLastLoad is /info's answer without hashr:last-load.
func withoutLastLoad(t *testing.T, answer []byte) []byte {
	t.Helper()
	status, body, _ := bytes.Cut(answer, []byte(" "))
	var info map[string]any
	if err := json.Unmarshal(body, &info); err != nil {
		t.Fatalf("/info: %v: %s", err, answer)
	}
	if _, ok := info["hashr:last-load"]; !ok {
		t.Fatalf("/info has no hashr:last-load: %s", answer)
	}
	delete(info, "hashr:last-load")
	out, _ := json.Marshal(info)
	return append(append(status, ' '), out...)
}
