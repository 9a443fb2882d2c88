package cli

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// A pipeline's stages share one terminal on stderr. If each drew a bar
// they would overwrite one another, so exactly one draws: the last stage,
// the one whose stdout is not a pipe into another stage (a terminal, a
// file, /dev/null). It counts the sources, files and bytes its records
// carry against the totals of the plan record hashr-scan writes before
// the sources, and shows one line, redrawn in place:
//
//	hashr-load: 12/49 sources · 3.1k files · 812 MiB/2.0 GiB · 41 MiB/s · ETA 0:32
//
// The stages whose stdout is a pipe draw nothing; their messages (errors,
// the final summary) start by clearing the line they may be written over.

// Values of --progress.
const (
	ProgressAuto   = "auto"   // draw if stdout is not a pipe
	ProgressAlways = "always" // draw even if stdout is a pipe (into jq, gzip…)
	ProgressNever  = "never"
)

// progressMode is the value of --progress.
type progressMode string

func (m *progressMode) String() string {
	if *m == "" {
		return ProgressAuto
	}
	return string(*m)
}

func (m *progressMode) Set(s string) error {
	switch s {
	case ProgressAuto, ProgressAlways, ProgressNever:
		*m = progressMode(s)
		return nil
	}
	return fmt.Errorf("%q is not one of auto, always, never", s)
}

func (m *progressMode) Type() string { return "auto|always|never" }

// progressHelp is --progress's help.
const progressHelp = "draw the pipeline's progress line on stderr, if a terminal: auto (only if stdout is not a pipe: only the last stage of a pipeline draws), always (even into a pipe), never"

// streamKind is what a command's stdout or stderr is connected to.
type streamKind int

const (
	streamOther    streamKind = iota // not a file: an in-process test's buffer
	streamPipe                       // a pipe or socket: another process reads it
	streamTerminal                   // a terminal
	streamFile                       // a regular file, /dev/null or another device
)

// kindOf says what w is connected to.
func kindOf(w any) streamKind {
	f, ok := w.(*os.File)
	if !ok {
		return streamOther
	}
	info, err := f.Stat()
	switch {
	case err != nil:
		return streamOther
	case info.Mode()&(os.ModeNamedPipe|os.ModeSocket) != 0:
		return streamPipe
	case info.Mode()&os.ModeCharDevice != 0 && term.IsTerminal(int(f.Fd())):
		return streamTerminal
	}
	return streamFile
}

// drawsProgress is the rule for which stage draws the progress line.
func drawsProgress(mode progressMode, quiet bool, stdout, stderr streamKind) bool {
	if mode == ProgressNever || quiet || stderr != streamTerminal {
		return false
	}
	return mode == ProgressAlways || stdout != streamPipe
}

// progressState is a Program's part in the progress line.
type progressState struct {
	mode progressMode
	// classify tells what a stream is; tests swap it for a fake terminal.
	classify func(any) streamKind
	// now and width are the clock and the terminal's width (0: unknown);
	// tests swap them too.
	now   func() time.Time
	width func() int

	meter *Meter
}

// addProgressFlag adds --progress to cmd.
func (p *Program) addProgressFlag(cmd *cobra.Command) {
	cmd.PersistentFlags().Var(&p.progress.mode, "progress", progressHelp)
}

// startProgress decides, once the flags are parsed, whether this command
// draws the progress line, and routes stdout and stderr through it.
func (p *Program) startProgress() {
	st := &p.progress
	classify := st.classify
	if classify == nil {
		classify = kindOf
	}
	stdout, stderr := classify(p.Stdout), classify(p.Stderr)
	// The streams are put back when the command ends, after its last
	// message, for a Program that runs again (in tests).
	origOut, origErr := p.Stdout, p.Stderr
	p.OnExit(func() { p.Stdout, p.Stderr = origOut, origErr })
	if !drawsProgress(st.mode, p.Quiet, stdout, stderr) {
		if stderr == streamTerminal && st.mode != ProgressNever {
			// Another stage may be drawing on this terminal: a message
			// first clears its line, so as not to be written over it.
			p.Stderr = clearingWriter{p.Stderr}
		}
		return
	}
	m := newMeter(p.Name, p.Stderr, st.now, st.width)
	if st.width == nil {
		if f, ok := p.Stderr.(*os.File); ok {
			m.width = func() int { w, _, _ := term.GetSize(int(f.Fd())); return w }
		}
	}
	st.meter = m
	p.Stderr = meterMessages{m}
	p.Stdout = &recordWatcher{w: p.Stdout, m: m, onTerminal: stdout == streamTerminal}
	m.start()
}

// stopProgress clears the progress line for good.
func (p *Program) stopProgress() {
	if m := p.progress.meter; m != nil {
		m.stop()
	}
}

// Meter is the progress line of the command that draws it, or nil in the
// others; its methods do nothing on nil. A stage's records are counted as
// it writes them to stdout; a stage that writes what it counts later, or
// not at all (hashr-scan holds its sources back, hashr-load consumes
// them), calls CountsItself and reports them itself.
func (p *Program) Meter() *Meter { return p.progress.meter }

// clearLine returns the cursor to the start of the line and clears it.
const clearLine = "\r\x1b[K"

// clearingWriter starts every write by clearing the terminal's line.
type clearingWriter struct{ w io.Writer }

func (c clearingWriter) Write(b []byte) (int, error) {
	if _, err := c.w.Write(append([]byte(clearLine), b...)); err != nil {
		return 0, err
	}
	return len(b), nil
}

// meterMessages writes the drawing command's messages on stderr: the line
// is cleared first and redrawn, under them, at the next tick.
type meterMessages struct{ m *Meter }

func (mm meterMessages) Write(b []byte) (int, error) {
	mm.m.mu.Lock()
	defer mm.m.mu.Unlock()
	return mm.m.writeOver(b)
}

// recordWatcher passes the drawing command's stdout through, counting the
// records in it. On a terminal the line is cleared before records go out.
type recordWatcher struct {
	w          io.Writer
	m          *Meter
	onTerminal bool

	mu      sync.Mutex // writes may come from several goroutines
	partial []byte     // the start of a record the last write ended in
}

// maxPartial bounds the part of a record kept between writes; a longer
// one (a huge record, or output that is no records at all) is not counted.
const maxPartial = 1 << 20

func (rw *recordWatcher) Write(b []byte) (int, error) {
	var n int
	var err error
	if rw.onTerminal {
		rw.m.mu.Lock()
		if rw.m.shown {
			rw.m.out.Write([]byte(clearLine))
			rw.m.shown = false
		}
		n, err = rw.w.Write(b)
		rw.m.mu.Unlock()
	} else {
		n, err = rw.w.Write(b)
	}
	if !rw.m.countsItself() {
		rw.mu.Lock()
		rw.count(b[:n])
		rw.mu.Unlock()
	}
	return n, err
}

// count hands each whole line written to the meter.
func (rw *recordWatcher) count(b []byte) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if len(rw.partial)+len(b) <= maxPartial {
				rw.partial = append(rw.partial, b...)
			} else {
				rw.partial = rw.partial[:0]
			}
			return
		}
		line := b[:i]
		if len(rw.partial) > 0 {
			line = append(rw.partial, line...)
			rw.partial = rw.partial[:0]
		}
		rw.m.Record(line)
		b = b[i+1:]
	}
}
