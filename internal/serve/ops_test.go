package serve

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashr-dev/hashr/internal/lockedbuf"
)

// TestOperations: the bearer token, CORS off unless asked, the access
// log in both formats with the client's bytes escaped.
func TestOperations(t *testing.T) {
	url := "sqlite:" + filepath.Join(t.TempDir(), "hashr.db")
	buildSet(t, url)
	t.Run("token", func(t *testing.T) { testToken(t, url) })
	t.Run("cors", func(t *testing.T) { testCORS(t, url) })
	t.Run("access log", func(t *testing.T) { testAccessLog(t, url) })
}

func testToken(t *testing.T, url string) {
	a := digests(contentOf["docs/a.txt"])
	_, ts := newTestServer(t, url, &options{maxBulk: 10, token: "s3cret"}, nil)
	for header, want := range map[string]int{"": 401, "Bearer wrong": 401, "s3cret": 401, "Bearer s3cret": 200} {
		req, _ := http.NewRequest(http.MethodGet, ts.URL+"/lookup/md5/"+a["md5"], nil)
		if header != "" {
			req.Header.Set("Authorization", header)
		}
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Authorization %q: %d, want %d", header, resp.StatusCode, want)
		}
	}
	if code, _ := get(t, ts, "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz without the token: %d, want 200 (load balancers have none)", code)
	}
}

func testCORS(t *testing.T, url string) {
	_, off := newTestServer(t, url, nil, nil)
	resp, err := off.Client().Get(off.URL + "/info")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if v := resp.Header.Get("Access-Control-Allow-Origin"); v != "" {
		t.Errorf("CORS by default: %q, want none", v)
	}
	_, on := newTestServer(t, url, &options{maxBulk: 10, corsOrigin: "https://misp.example"}, nil)
	req, _ := http.NewRequest(http.MethodOptions, on.URL+"/bulk/md5", nil)
	resp, err = on.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "https://misp.example" {
		t.Errorf("preflight with --cors-origin: %d %v", resp.StatusCode, resp.Header)
	}
}

func testAccessLog(t *testing.T, url string) {
	for _, format := range []string{"text", "json"} {
		var logs lockedbuf.Buffer
		_, ts := newTestServer(t, url, &options{maxBulk: 10, logFormat: format}, &logs)
		req, _ := http.NewRequest(http.MethodGet, ts.URL+"/lookup/md5/%1b%5b31mred", nil)
		req.Header.Set("User-Agent", `evil" 200 forged`)
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		line := logs.String()
		if strings.Count(line, "\n") != 1 || format == "text" && !strings.Contains(line, `"evil\" 200 forged"`) {
			t.Errorf("%s log %q: want one line, the client's quote escaped", format, line)
		}
		if format == "json" {
			var e accessEntry
			if err := json.Unmarshal([]byte(line), &e); err != nil || e.Status != 400 || e.Method != "GET" || e.UserAgent != `evil" 200 forged` {
				t.Errorf("json log %q: %+v %v", line, e, err)
			}
		} else if !strings.HasPrefix(line, "hashr-serve: 127.0.0.1:") || !strings.Contains(line, " 400 ") {
			t.Errorf("text log %q", line)
		}
	}
}

// A client that sends its headers a byte at a time is cut off after the
// header timeout (slowloris), and one whose headers are too large gets 431.
func TestSlowAndLargeClients(t *testing.T) {
	url := "sqlite:" + filepath.Join(t.TempDir(), "hashr.db")
	buildSet(t, url)
	old := readHeaderTimeout
	readHeaderTimeout = 300 * time.Millisecond
	t.Cleanup(func() { readHeaderTimeout = old })
	addr := startMain(t, "--db", url)

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	conn.Write([]byte("GET /info HTTP/1.1\r\nHost: x\r\n"))
	for i := 0; i < 40; i++ { // 4 s of trickling, far past the timeout
		if _, err := conn.Write([]byte("X")); err != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, _ := bufio.NewReader(conn).ReadString('\n')
	if took := time.Since(start); took > 3*time.Second || strings.Contains(resp, "200") {
		t.Errorf("a trickling client held the connection %s and got %q; want it closed after ~300ms", took, resp)
	}

	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/info", nil)
	req.Header.Set("X-Big", strings.Repeat("x", 64<<10))
	resp2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("64 KiB of headers: %d, want 431", resp2.StatusCode)
	}
}

// startMain runs hashr-serve's Main in-process on a free port and returns
// its address; the test's end sends SIGTERM and checks the exit status 0.
func startMain(t *testing.T, args ...string) string {
	t.Helper()
	addr, exited, stderr := launchMain(t, args...)
	t.Cleanup(func() { stopMain(t, exited, stderr) })
	return addr
}

// launchMain runs hashr-serve's Main in-process on a free port and returns
// its address, its exit status's channel and its stderr, once it listens.
func launchMain(t *testing.T, args ...string) (string, chan int, *lockedbuf.Buffer) {
	t.Helper()
	addrFile := filepath.Join(t.TempDir(), "addr")
	stderr := &lockedbuf.Buffer{}
	exited := make(chan int, 1)
	go func() {
		exited <- Main(append([]string{"--listen", "127.0.0.1:0", "--addr-file", addrFile, "--quiet"}, args...), nil, &bytes.Buffer{}, stderr)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(addrFile)
		if err == nil {
			return strings.TrimSpace(string(b)), exited, stderr
		}
		select {
		case code := <-exited:
			t.Fatalf("hashr-serve exited %d before listening: %s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("hashr-serve did not listen within 10 s: %s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func stopMain(t *testing.T, exited chan int, stderr *lockedbuf.Buffer) {
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	select {
	case code := <-exited:
		if code != 0 {
			t.Errorf("hashr-serve after SIGTERM: exit %d, want 0; stderr:\n%s", code, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Errorf("hashr-serve did not stop within 20 s of SIGTERM")
	}
}

// SIGTERM stops the server with exit status 0 (startMain's clean-up checks
// it; before, the shared plumbing made it 1); bad flags exit 2, a missing
// database 1.
func TestGracefulShutdownAndUsage(t *testing.T) {
	url := "sqlite:" + filepath.Join(t.TempDir(), "hashr.db")
	buildSet(t, url)
	addr := startMain(t, "--db", url)
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/healthz: %v %v", resp, err)
	}
	resp.Body.Close()

	for _, args := range [][]string{
		{"--log-format", "xml"}, {"--max-bulk", "0"}, {"--db", "mysql://x"}, {"extra"},
		{"--token-file", filepath.Join(t.TempDir(), "none")}, {"--cors-origin", "misp.example"}, {"--max-bulks", "-1"},
	} {
		var stderr bytes.Buffer
		if code := Main(args, nil, &bytes.Buffer{}, &stderr); code != 2 || !strings.Contains(stderr.String(), "hashr-serve: error: ") {
			t.Errorf("hashr-serve %v: exit %d, %q; want 2 with an error", args, code, stderr.String())
		}
	}
	var stderr bytes.Buffer
	if code := Main([]string{"--db", "sqlite:" + filepath.Join(t.TempDir(), "missing.db")}, nil, &bytes.Buffer{}, &stderr); code != 1 {
		t.Errorf("a database that does not exist: exit %d, want 1: %s", code, stderr.String())
	}
}

// A request in flight when SIGTERM comes is answered in full before
// hashr-serve exits (0): a bulk request whose body is half sent at the
// signal, and finished after it.
func TestShutdownFinishesRequestInFlight(t *testing.T) {
	url := "sqlite:" + filepath.Join(t.TempDir(), "hashr.db")
	buildSet(t, url)
	addr, exited, stderr := launchMain(t, "--db", url)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := fmt.Sprintf(`{"hashes": [%q]}`, digests(contentOf["b.txt"])["sha1"])
	fmt.Fprintf(conn, "POST /bulk/sha1 HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", addr, len(body), body[:5])
	time.Sleep(300 * time.Millisecond) // the server has read the headers: the request is in flight
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	select {
	case code := <-exited:
		t.Fatalf("hashr-serve exited %d with a request in flight: %s", code, stderr.String())
	case <-time.After(500 * time.Millisecond):
	}
	if _, err := io.WriteString(conn, body[5:]); err != nil {
		t.Fatalf("sending the rest of the body after SIGTERM: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("the request in flight at SIGTERM: %v", err)
	}
	answer, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(answer), strings.ToUpper(digests(contentOf["b.txt"])["sha256"])) {
		t.Errorf("the request in flight at SIGTERM: %d %s, want b.txt's record", resp.StatusCode, answer)
	}
	select {
	case code := <-exited:
		if code != 0 {
			t.Errorf("hashr-serve after SIGTERM: exit %d, want 0; stderr:\n%s", code, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Errorf("hashr-serve did not stop within 20 s of its last request")
	}
}
