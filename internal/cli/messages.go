package cli

import (
	"fmt"
	"strings"
)

// Errorf prints "NAME: error: ..." on stderr. It does not change the exit
// status; Failf does.
func (p *Program) Errorf(format string, args ...any) { p.print("error: ", format, args...) }

// Failf reports a failure of one source, member or input line: the message
// goes to stderr, and the run ends with exit status 3 unless it ends worse.
func (p *Program) Failf(format string, args ...any) {
	p.failures.Add(1)
	p.print("error: ", format, args...)
}

// Failures is the number of failures reported with Failf so far.
func (p *Program) Failures() int64 { return p.failures.Load() }

// Hint prints "NAME: hint: ..." after an error, saying how to fix it.
func (p *Program) Hint(format string, args ...any) { p.print("hint: ", format, args...) }

// Warnf prints "NAME: warning: ..." unless --quiet.
func (p *Program) Warnf(format string, args ...any) {
	if !p.Quiet {
		p.print("warning: ", format, args...)
	}
}

// Infof prints a line for people unless --quiet.
func (p *Program) Infof(format string, args ...any) {
	if !p.Quiet {
		p.print("", format, args...)
	}
}

// Verbosef prints a line only with --verbose.
func (p *Program) Verbosef(format string, args ...any) {
	if p.Verbose && !p.Quiet {
		p.print("", format, args...)
	}
}

func (p *Program) print(kind, format string, args ...any) {
	msg := fmt.Sprintf(format, escapeArgs(args)...)
	p.msgMu.Lock()
	defer p.msgMu.Unlock()
	for line := range strings.SplitSeq(strings.TrimRight(msg, "\n"), "\n") {
		fmt.Fprintf(p.Stderr, "%s: %s%s\n", p.Name, kind, line)
	}
}
