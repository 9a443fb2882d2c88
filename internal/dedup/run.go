package dedup

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"time"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/store"
	"github.com/hashr-dev/hashr/pkg/records"
)

// run is hashr-dedup: it marks the stream's file records against the store.
func run(ctx context.Context, p *cli.Program, opts options) error {
	defer boundHeap()()
	s, err := openStore(p, opts.storeDir)
	if err != nil {
		return err
	}
	d := &deduper{p: p, opts: opts, marker: s.NewMarker(), acct: newAccounts()}

	// Reading and parsing run on their own goroutine, a chunk ahead of the
	// store's lookups and writes.
	full := make(chan *chunk, 2)
	free := make(chan *chunk, 3)
	for range cap(free) {
		free <- &chunk{}
	}
	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	go readChunks(readCtx, p, opts.inputs, full, free)

	for {
		select {
		case <-ctx.Done():
			return ctx.Err() // cli names it an interruption
		case c, ok := <-full:
			if !ok {
				p.Verbosef("%d file records: %d new, %d seen", d.files, d.files-d.seen, d.seen)
				return nil
			}
			// A chunk is handled whole: its records are written only once
			// its new digests are committed, so an interruption between
			// chunks leaves output and store agreeing.
			if err := d.handle(c); err != nil {
				return err
			}
			if c.err != nil {
				return c.err
			}
			free <- c
		}
	}
}

// deduper is the state of one run, used by the main goroutine only.
type deduper struct {
	p      *cli.Program
	opts   options
	marker *store.Marker
	acct   *accounts

	items []store.Item
	seenS []bool
	out   []byte

	files, seen int64
}

// handle marks a chunk's file records seen or new in the store and
// writes the chunk's records out, in their order, in one write.
func (d *deduper) handle(c *chunk) error {
	start := time.Now()
	seen, err := d.mark(c, start)
	if err != nil {
		return err
	}
	// The chunk's time, shared evenly by its records.
	perRecord := (c.parse + time.Since(start)) / time.Duration(max(len(c.lines), 1))
	out := d.out[:0]
	j := 0
	for i := range c.lines {
		l := &c.lines[i]
		var isSeen bool
		if l.kind == kindFile {
			isSeen = seen[j]
			j++
		}
		if out, err = d.appendLine(out, l, isSeen, perRecord); err != nil {
			return err
		}
	}
	d.out = out
	if len(out) == 0 {
		return nil
	}
	if _, err := d.p.Stdout.Write(out); err != nil {
		return fmt.Errorf("writing records: %w", err)
	}
	return nil
}

// mark looks the chunk's file digests up in the store, adding the new
// ones; the result says, in their order, which were seen before.
func (d *deduper) mark(c *chunk, now time.Time) ([]bool, error) {
	d.items = d.items[:0]
	for i := range c.lines {
		if l := &c.lines[i]; l.kind == kindFile {
			d.items = append(d.items, store.Item{Key: l.key, Source: l.srcKey, HasSource: l.hasSrc})
		}
	}
	if cap(d.seenS) < len(d.items) {
		d.seenS = make([]bool, len(d.items))
	}
	seen := d.seenS[:len(d.items)]
	if err := d.marker.Mark(d.items, seen, now); err != nil {
		return nil, hintFor(d.p, err)
	}
	return seen, nil
}

// appendLine appends what one input line becomes in the output, and
// accounts it to its source.
func (d *deduper) appendLine(out []byte, l *line, isSeen bool, perRecord time.Duration) ([]byte, error) {
	switch l.kind {
	case kindOther:
		out = append(out, l.text...)
		out = append(out, '\n')
	case kindBad:
		// Reported, and an error record in its place, as every stage does.
		bad := d.p.BadLine(&records.LineError{Where: l.where(), Err: l.err})
		out = append(out, bad.Line...)
		out = append(out, '\n')
	case kindFile:
		d.files++
		t := d.acct.of(l.source)
		t.time += perRecord
		if isSeen {
			d.seen++
			if d.opts.dropSeen {
				t.dropped++
				return out, nil
			}
		}
		out = appendWithSeen(out, l, isSeen)
	case kindFileBad:
		return d.appendFileBad(out, l, perRecord)
	case kindEnd:
		return d.appendEnd(out, l)
	}
	return out, nil
}

// appendFileBad appends the error record that takes the place of a file
// record hashr-dedup cannot read, and reports it.
func (d *deduper) appendFileBad(out []byte, l *line, perRecord time.Duration) ([]byte, error) {
	t := d.acct.of(l.source)
	t.time += perRecord
	t.failed++
	path, _, _ := records.StringField(l.text, "path")
	out, err := appendErrorRecord(out, l, path)
	if err != nil {
		return out, err
	}
	source := string(l.source)
	if source == "" {
		source = "(none)"
	}
	d.p.Failf("%s: file %q of source %s: %v", l.where(), path, source, l.err)
	return out, nil
}

// appendEnd appends a source's end record with this stage's counts.
func (d *deduper) appendEnd(out []byte, l *line) ([]byte, error) {
	end, err := d.acct.closeSource(l.text)
	if err != nil {
		// Not an end record hashr can read: pass it on as it is,
		// downstream judges it.
		d.p.Failf("%s: %v", l.where(), err)
		out = append(out, l.text...)
		return append(out, '\n'), nil
	}
	enc, err := records.Marshal(end)
	if err != nil {
		return out, fmt.Errorf("%s: encoding end record: %w", l.where(), err)
	}
	out = append(out, enc...)
	return append(out, '\n'), nil
}

// appendWithSeen appends the record's own bytes with "seen" set: an
// existing seen value is replaced, otherwise the member goes last.
func appendWithSeen(out []byte, l *line, seen bool) []byte {
	value := "false"
	if seen {
		value = "true"
	}
	if l.seenAt >= 0 {
		out = append(out, l.text[:l.seenAt]...)
		out = append(out, value...)
		out = append(out, l.text[l.seenEnd:]...)
	} else {
		// A file record has a "type" member at least, and ends with "}".
		out = append(out, l.text[:len(l.text)-1]...)
		out = append(out, `,"seen":`...)
		out = append(out, value...)
		out = append(out, '}')
	}
	return append(out, '\n')
}

func appendErrorRecord(out []byte, l *line, path string) ([]byte, error) {
	enc, err := records.Marshal(&records.Error{
		Stage:   "dedup",
		Source:  string(l.source),
		Path:    path,
		Message: fmt.Sprintf("%s: %v", l.where(), l.err),
	})
	if err != nil {
		return out, fmt.Errorf("%s: encoding error record: %w", l.where(), err)
	}
	out = append(out, enc...)
	return append(out, '\n'), nil
}

// boundHeap keeps the process's memory small and flat. Its live heap is
// bounded by design (block cache, pending digests, chunks in flight: about
// 130 MiB) and almost all of it is byte slices the collector need not scan,
// so collecting when the heap has grown by half rather than doubled, and
// returning freed memory to the system before the process passes 224 MiB,
// costs next to no CPU. GOGC and GOMEMLIMIT, when set, win. The returned
// function restores the settings (the command also runs in-process, in
// tests).
func boundHeap() (restore func()) {
	percent, limit := -2, int64(-1)
	if os.Getenv("GOGC") == "" {
		percent = debug.SetGCPercent(50)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		limit = debug.SetMemoryLimit(224 << 20)
	}
	return func() {
		if percent != -2 {
			debug.SetGCPercent(percent)
		}
		if limit >= 0 {
			debug.SetMemoryLimit(limit)
		}
	}
}
