package serve

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// PyHashlookup's exchanges with hashr-serve, recorded once from the real
// client (PyHashlookup 1.2.8 from github.com/hashlookup/PyHashlookup, run by
// Debian's python3 with python3-requests and python3-dnspython) and kept in
// testdata/pyhashlookup: conn-N.client are the bytes it sent on its N-th
// connection, conn-N.server what the server answered. CI cannot fetch
// PyHashlookup, so TestPyHashlookupReplay sends the client's bytes again
// and wants the same answer, byte for byte but for what differs between
// two builds of the set (normalize).
const exchangesDir = "testdata/pyhashlookup"

// TestPyHashlookupReplay replays the recorded connections against a set
// built the same way.
func TestPyHashlookupReplay(t *testing.T) {
	clients, _ := filepath.Glob(filepath.Join(exchangesDir, "conn-*.client"))
	if len(clients) == 0 {
		t.Fatalf("no recorded exchanges in %s: record them with TestCapturePyHashlookup", exchangesDir)
	}
	for name, url := range backends(t) {
		t.Run(name, func(t *testing.T) {
			set := buildSet(t, url)
			_, ts := newTestServer(t, url, nil, nil)
			for _, client := range clients {
				sent, err := os.ReadFile(client)
				if err != nil {
					t.Fatal(err)
				}
				want, err := os.ReadFile(strings.TrimSuffix(client, ".client") + ".server")
				if err != nil {
					t.Fatal(err)
				}
				got := replay(t, ts.Listener.Addr().String(), sent)
				if g, w := normalize(got, set.dir), normalize(want, "$SET"); g != w {
					t.Errorf("%s: the answers differ from those recorded.\ngot:\n%s\nwant:\n%s", client, g, w)
				}
			}
		})
	}
}

// replay sends a connection's bytes, as the client sent them (its
// requests one after the other), and returns the bytes of the answers.
func replay(t *testing.T, addr string, sent []byte) []byte {
	requests := 0
	for br := bufio.NewReader(bytes.NewReader(sent)); ; requests++ {
		req, err := http.ReadRequest(br)
		if err != nil {
			break
		}
		io.Copy(io.Discard, req.Body)
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := conn.Write(sent); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	br := bufio.NewReader(io.TeeReader(conn, &got))
	for i := range requests {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("reading answer %d of %d: %v", i+1, requests, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return got.Bytes()
}

// What differs between two builds of the same set, or two servers: the
// time, the load time and the version; and where the set's files are, in
// "uri" (and so each answer's length).
var volatile = []*regexp.Regexp{
	regexp.MustCompile(`(?m)^Date: .*\r$`),
	regexp.MustCompile(`(?m)^Content-Length: .*\r$`),
	regexp.MustCompile(`"hashr:last-load": "[^"]*"`),
	regexp.MustCompile(`"hashr:version": "[^"]*"`),
}

func normalize(b []byte, setDir string) string {
	s := strings.ReplaceAll(string(b), setDir, "$SET")
	for _, re := range volatile {
		s = re.ReplaceAllStringFunc(s, func(m string) string {
			name, _, _ := strings.Cut(m, ":")
			return name + ": …"
		})
	}
	return s
}

// TestCapturePyHashlookup records PyHashlookup's exchanges into
// testdata/pyhashlookup. It runs only when HASHR_CAPTURE_PYHASHLOOKUP
// names a PyHashlookup source tree (git clone
// https://github.com/hashlookup/PyHashlookup).
func TestCapturePyHashlookup(t *testing.T) {
	src := os.Getenv("HASHR_CAPTURE_PYHASHLOOKUP")
	if src == "" {
		t.Skip("set HASHR_CAPTURE_PYHASHLOOKUP=PYHASHLOOKUP_SOURCE to record PyHashlookup's exchanges")
	}
	url := "sqlite:" + filepath.Join(t.TempDir(), "hashr.db")
	set := buildSet(t, url)
	s, ts := newTestServer(t, url, nil, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rec := &recordingListener{Listener: ln}
	srv := &http.Server{Handler: s.Handler()}
	go srv.Serve(rec)
	a := digests(contentOf["docs/a.txt"])
	_, tree1 := get(t, ts, "/parents/"+a["sha1"]+"/0/0")
	tree1 = between(tree1, `"parents": ["`, `"`) // the first of the two trees by SHA-256
	out, err := exec.Command("/usr/bin/python3", filepath.Join(exchangesDir, "exchanges.py"), src,
		"http://"+ln.Addr().String(), a["md5"], a["sha1"], a["sha256"], tree1).CombinedOutput()
	if err != nil {
		t.Fatalf("PyHashlookup: %v\n%s", err, out)
	}
	t.Logf("PyHashlookup's answers:\n%s", out)
	srv.Close()
	old, _ := filepath.Glob(filepath.Join(exchangesDir, "conn-*"))
	for _, f := range old {
		os.Remove(f)
	}
	for i, c := range rec.conns {
		c.mu.Lock()
		os.WriteFile(filepath.Join(exchangesDir, fmt.Sprintf("conn-%d.client", i+1)), c.in.Bytes(), 0o644)
		os.WriteFile(filepath.Join(exchangesDir, fmt.Sprintf("conn-%d.server", i+1)),
			[]byte(strings.ReplaceAll(c.out.String(), set.dir, "$SET")), 0o644)
		c.mu.Unlock()
	}
}

// recordingListener keeps every byte of every connection, both ways.
type recordingListener struct {
	net.Listener
	mu    sync.Mutex
	conns []*recordingConn
}

func (l *recordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	rc := &recordingConn{Conn: c}
	l.mu.Lock()
	l.conns = append(l.conns, rc)
	l.mu.Unlock()
	return rc, nil
}

type recordingConn struct {
	net.Conn
	mu      sync.Mutex
	in, out bytes.Buffer
}

func (c *recordingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.mu.Lock()
	c.in.Write(b[:n])
	c.mu.Unlock()
	return n, err
}

func (c *recordingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.mu.Lock()
	c.out.Write(b[:n])
	c.mu.Unlock()
	return n, err
}
