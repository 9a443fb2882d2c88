package scan

import (
	"strings"
	"testing"
	"time"

	"github.com/hashr-dev/hashr/internal/httpclient/httpclienttest"
)

// A server that writes bytes on an idle keep-alive connection makes Go's
// HTTP client log "Unsolicited response received on idle HTTP channel"
// through the standard log package: that line (with the server's bytes
// in it) must not reach stderr raw when hashr-scan asks a URL for its
// size and first bytes; --verbose shows it, escaped.
func TestUnsolicitedResponseIsNotLoggedRaw(t *testing.T) {
	url := httpclienttest.JunkServer(t, "hello", "hashr-scan")
	logged := httpclienttest.CaptureLog(t)
	for _, args := range [][]string{nil, {"--verbose"}} {
		res := scan(t, append(args, url+"/x.bin")...)
		time.Sleep(200 * time.Millisecond) // the client logs from its own goroutine
		if httpclienttest.LoggedRaw(logged.String(), res.stderr, "hashr-scan") {
			t.Errorf("%v: the client's log line reached stderr raw:\nlog: %q\nstderr: %q", args, logged.String(), res.stderr)
		}
		if args != nil && !strings.Contains(res.stderr, `Unsolicited response`) {
			t.Errorf("--verbose: the client's log line is not shown, escaped:\n%q", res.stderr)
		}
	}
}
