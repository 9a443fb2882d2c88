package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashr-dev/hashr/pkg/records"
)

// redrawEvery throttles the line to 5 redraws a second: often enough to
// look alive, rarely enough to cost nothing.
const redrawEvery = 200 * time.Millisecond

// rateWindow is how far back the rate looks: long enough to smooth over
// sources of different sizes, short enough to follow a change of pace.
const rateWindow = 10 * time.Second

// Meter counts what a pipeline has done and draws it as one line on a
// terminal. A source is done when its end record comes, or, in a stream
// that has none yet (before hashr-extract), when the next source begins;
// the bytes done are the sizes of the sources done, and, of the source
// under way, the sizes of its files so far up to its own size.
type Meter struct {
	name  string
	out   io.Writer
	now   func() time.Time
	width func() int // the terminal's columns; 0 when unknown

	mu       sync.Mutex
	shown    bool   // the line is on the screen
	last     string // the line last drawn
	lastDraw time.Time
	samples  []sample // for the rate, the last rateWindow and one before

	selfCounted bool
	counted     bool // something was counted: there is a line to draw
	planned     bool
	plan        records.Plan // the totals of every plan record seen
	sources     int64        // sources done
	files       int64
	bytes       int64 // the sizes of the sources done
	open        bool  // a source is under way
	openSize    int64
	openFiles   int64 // the sizes of its files so far

	kick chan struct{} // draws at once: the first count
	quit chan struct{}
	done chan struct{}
}

type sample struct {
	at             time.Time
	bytes, sources int64
}

func newMeter(name string, out io.Writer, now func() time.Time, width func() int) *Meter {
	if now == nil {
		now = time.Now
	}
	if width == nil {
		width = func() int { return 0 }
	}
	return &Meter{name: name, out: out, now: now, width: width,
		kick: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
}

// start redraws the line until stop.
func (m *Meter) start() {
	go func() {
		defer close(m.done)
		tick := time.NewTicker(redrawEvery)
		defer tick.Stop()
		for {
			select {
			case <-m.quit:
				select {
				case <-m.kick: // what was counted shows, if only for an instant
					m.redraw(m.now())
				default:
				}
				return
			case <-tick.C:
			case <-m.kick:
			}
			m.redraw(m.now())
		}
	}()
}

// stop ends the redraws and clears the line.
func (m *Meter) stop() {
	close(m.quit)
	<-m.done
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.shown {
		io.WriteString(m.out, clearLine)
		m.shown = false
	}
}

// redraw draws the line if it changed, at most every redrawEvery.
func (m *Meter) redraw(now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.counted || !m.lastDraw.IsZero() && now.Sub(m.lastDraw) < redrawEvery {
		return
	}
	m.addSample(now)
	line := m.truncate(m.lineLocked(now))
	if line == m.last && m.shown {
		return
	}
	io.WriteString(m.out, clearLine+line)
	m.shown, m.last, m.lastDraw = true, line, now
}

// writeOver writes a message where the line is, clearing it first; the
// next redraw puts the line back under the message. m.mu is held.
func (m *Meter) writeOver(b []byte) (int, error) {
	if !m.shown {
		return m.out.Write(b)
	}
	m.shown = false
	if _, err := m.out.Write(append([]byte(clearLine), b...)); err != nil {
		return 0, err
	}
	return len(b), nil
}

func (m *Meter) truncate(line string) string {
	w := m.width()
	if r := []rune(line); w > 1 && len(r) > w-1 {
		return string(r[:w-1]) // a wrapped line could not be redrawn in place
	}
	return line
}

// CountsItself says the stage reports its records itself, with the
// methods below, instead of having those it writes counted.
func (m *Meter) CountsItself() {
	if m != nil {
		m.mu.Lock()
		m.selfCounted = true
		m.mu.Unlock()
	}
}

func (m *Meter) countsItself() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.selfCounted
}

// Plan adds a plan record's totals.
func (m *Meter) Plan(sources, bytes int64) {
	m.update(func() {
		m.planned = true
		m.plan.Sources += sources
		m.plan.Bytes += bytes
	})
}

// Source counts a source record: a source of size bytes begins.
func (m *Meter) Source(size int64) {
	m.update(func() {
		m.closeSource()
		m.open, m.openSize, m.openFiles = true, size, 0
	})
}

// File counts a file record of size bytes.
func (m *Meter) File(size int64) {
	m.update(func() {
		m.files++
		if m.open {
			m.openFiles += size
		}
	})
}

// End counts an end record: the source under way is done.
func (m *Meter) End() { m.update(m.closeSource) }

func (m *Meter) closeSource() {
	if m.open {
		m.sources++
		m.bytes += m.openSize
		m.open = false
	}
}

func (m *Meter) update(f func()) {
	if m == nil {
		return
	}
	m.mu.Lock()
	f()
	first := !m.counted
	m.counted = true
	m.mu.Unlock()
	if first {
		select {
		case m.kick <- struct{}{}:
		default:
		}
	}
}

// Record counts one record line: plan, source, file and end records
// count, the others do not.
func (m *Meter) Record(line []byte) {
	if m == nil || len(line) == 0 || line[0] != '{' {
		return
	}
	var typ string
	var size, sources, bytes int64
	err := records.Members(line, func(name, value []byte) bool {
		switch string(name) {
		case "type":
			typ, _ = records.StringValue(value)
		case "size":
			size = jsonCount(value)
		case "sources":
			sources = jsonCount(value)
		case "bytes":
			bytes = jsonCount(value)
		}
		return true
	})
	if err != nil {
		return
	}
	switch typ {
	case records.TypePlan:
		m.Plan(sources, bytes)
	case records.TypeSource:
		m.Source(size)
	case records.TypeFile:
		m.File(size)
	case records.TypeEnd:
		m.End()
	}
}

// jsonCount reads a JSON number that counts something; anything else is 0.
func jsonCount(v []byte) int64 {
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

func (m *Meter) bytesDone() int64 {
	if m.open {
		return m.bytes + min(m.openFiles, m.openSize)
	}
	return m.bytes
}

func (m *Meter) addSample(now time.Time) {
	m.samples = append(m.samples, sample{at: now, bytes: m.bytesDone(), sources: m.sources})
	// Keep one sample older than the window, so the window is always full.
	drop := 0
	for drop+1 < len(m.samples) && now.Sub(m.samples[drop+1].at) >= rateWindow {
		drop++
	}
	m.samples = m.samples[drop:]
}

// lineLocked is the progress line, e.g.
// "hashr-load: 12/49 sources · 3.1k files · 812 MiB/2.0 GiB · 41 MiB/s · ETA 0:32".
func (m *Meter) lineLocked(now time.Time) string {
	done := m.bytesDone()
	parts := []string{fmt.Sprintf("%d sources", m.sources)}
	if m.sources == 1 {
		parts[0] = "1 source"
	}
	if m.planned {
		parts[0] = fmt.Sprintf("%d/%d sources", m.sources, m.plan.Sources)
	}
	if m.files > 0 {
		parts = append(parts, countString(m.files)+" files")
	}
	switch {
	case m.planned && m.plan.Bytes > 0:
		parts = append(parts, byteString(done)+"/"+byteString(m.plan.Bytes))
	case done > 0:
		parts = append(parts, byteString(done))
	}
	first := m.samples[0]
	elapsed := now.Sub(first.at).Seconds()
	if elapsed < 1 {
		return m.name + ": " + strings.Join(parts, " · ")
	}
	byteRate := float64(done-first.bytes) / elapsed
	sourceRate := float64(m.sources-first.sources) / elapsed
	if byteRate > 0 {
		parts = append(parts, byteString(int64(byteRate))+"/s")
	}
	if m.planned {
		var left float64 = -1
		switch {
		case m.plan.Bytes > 0 && byteRate > 0:
			left = float64(max(m.plan.Bytes-done, 0)) / byteRate
		case m.plan.Bytes == 0 && sourceRate > 0:
			left = float64(max(m.plan.Sources-m.sources, 0)) / sourceRate
		}
		if left >= 0 {
			parts = append(parts, "ETA "+durationString(time.Duration(left*float64(time.Second))))
		}
	}
	return m.name + ": " + strings.Join(parts, " · ")
}

// countString writes a count short: 812, 3.1k, 12.4M.
func countString(n int64) string {
	switch {
	case n < 1000:
		return strconv.FormatInt(n, 10)
	case n < 1_000_000:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	}
	return fmt.Sprintf("%.1fM", float64(n)/1e6)
}

// byteString writes a size in binary units: 512 B, 3.4 KiB, 812 MiB, 2.0 GiB.
func byteString(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	v := float64(n)
	unit := "B"
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB", "PiB"} {
		if v < 1024 {
			break
		}
		v /= 1024
		unit = u
	}
	if v >= 100 {
		return fmt.Sprintf("%.0f %s", v, unit)
	}
	return fmt.Sprintf("%.1f %s", v, unit)
}

// durationString writes a time left as m:ss, or h:mm:ss from an hour.
func durationString(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}
