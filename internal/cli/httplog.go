package cli

import (
	"log"
	"strings"
)

// RouteClientLog sends what Go's HTTP client logs through the standard
// log package to --verbose, escaped. The client logs there, not through
// any error it returns, when a server writes on an idle keep-alive
// connection ("Unsolicited response received on idle HTTP channel
// starting with ..."): a line that would reach stderr raw, with the
// server's bytes (terminal escapes, a forged "error:" line) in it and
// none of the stage's form. Every stage that makes HTTP requests calls
// it for the length of its run; it returns the function that puts the
// log back as it was.
func (p *Program) RouteClientLog() (restore func()) {
	out, flags, prefix := log.Writer(), log.Flags(), log.Prefix()
	log.SetOutput(clientLog{p})
	log.SetFlags(0)
	log.SetPrefix("")
	return func() {
		log.SetOutput(out)
		log.SetFlags(flags)
		log.SetPrefix(prefix)
	}
}

// clientLog is the standard log's writer while RouteClientLog holds it.
type clientLog struct{ p *Program }

func (l clientLog) Write(b []byte) (int, error) {
	l.p.Verbosef("http client: %q", strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
