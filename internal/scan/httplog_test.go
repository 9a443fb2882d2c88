package scan

import (
	"bufio"
	"bytes"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// A server that writes bytes on an idle keep-alive connection makes Go's
// HTTP client log "Unsolicited response received on idle HTTP channel"
// through the standard log package: that line (with the server's bytes
// in it) must not reach stderr raw when hashr-scan asks a URL for its
// size and first bytes; --verbose shows it, escaped.
func TestUnsolicitedResponseIsNotLoggedRaw(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	hold := make(chan struct{})
	defer close(hold)
	go serveWithJunk(ln, hold, "hello")
	var logged bytes.Buffer
	log.SetOutput(&logged) // stands for the process's stderr
	defer log.SetOutput(os.Stderr)
	for _, args := range [][]string{nil, {"--verbose"}} {
		res := scan(t, append(args, "http://"+ln.Addr().String()+"/x.bin")...)
		time.Sleep(200 * time.Millisecond) // the client logs from its own goroutine
		forged := strings.HasPrefix(res.stderr, "hashr-scan: error: forged") || strings.Contains(res.stderr, "\nhashr-scan: error: forged")
		if strings.Contains(logged.String(), "Unsolicited") || strings.ContainsAny(res.stderr, "\x1b\x07\r") || forged {
			t.Errorf("%v: the client's log line reached stderr raw:\nlog: %q\nstderr: %q", args, logged.String(), res.stderr)
		}
		if args != nil && !strings.Contains(res.stderr, `Unsolicited response`) {
			t.Errorf("--verbose: the client's log line is not shown, escaped:\n%q", res.stderr)
		}
	}
}

// serveWithJunk answers each connection's one request with body, and
// after it terminal escapes and a forged message, and holds the
// connection open until hold is closed.
func serveWithJunk(ln net.Listener, hold <-chan struct{}, body string) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer conn.Close()
			req, err := http.ReadRequest(bufio.NewReader(conn))
			if err != nil {
				return
			}
			head := "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
			if req.Method != http.MethodHead {
				head += body
			}
			// In the same write: the client, done with the answer, finds
			// the rest on a connection it holds idle.
			conn.Write([]byte(head + "\x1b]0;owned\x07\x1b[2Jhashr-scan: error: forged\r\n"))
			<-hold
		}()
	}
}
