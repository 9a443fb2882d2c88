package cli

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashr-dev/hashr/internal/lockedbuf"
	"github.com/hashr-dev/hashr/pkg/records"
)

// Exactly one stage of a pipeline draws: the one whose stdout is not a
// pipe, and only on a terminal, unless told otherwise.
func TestWhichStageDraws(t *testing.T) {
	for _, tc := range []struct {
		mode           progressMode
		quiet          bool
		stdout, stderr streamKind
		draws          bool
	}{
		{"", false, streamPipe, streamTerminal, false},      // a stage in the middle
		{"", false, streamTerminal, streamTerminal, true},   // the last stage, on the screen
		{"", false, streamFile, streamTerminal, true},       // the last stage, > out.ndjson or > /dev/null
		{"auto", false, streamFile, streamTerminal, true},   //
		{"auto", false, streamFile, streamFile, false},      // 2> log: never into a file
		{"auto", false, streamFile, streamPipe, false},      // 2>&1 | less
		{"auto", true, streamFile, streamTerminal, false},   // --quiet
		{"always", false, streamPipe, streamTerminal, true}, // the last stage, piped into jq
		{"always", false, streamPipe, streamFile, false},    // still never into a file
		{"never", false, streamFile, streamTerminal, false},
	} {
		if got := drawsProgress(tc.mode, tc.quiet, tc.stdout, tc.stderr); got != tc.draws {
			t.Errorf("--progress %q, quiet %v, stdout %d, stderr %d: draws %v, want %v", tc.mode, tc.quiet, tc.stdout, tc.stderr, got, tc.draws)
		}
	}
}

// What a stage's stdout is, told from the real thing.
func TestKindOfStreams(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if k := kindOf(w); k != streamPipe {
		t.Errorf("a pipe: %d", k)
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "out.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if k := kindOf(f); k != streamFile {
		t.Errorf("a regular file: %d", k)
	}
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	if k := kindOf(null); k != streamFile {
		t.Errorf("/dev/null: %d", k)
	}
	if k := kindOf(&bytes.Buffer{}); k != streamOther {
		t.Errorf("a buffer: %d", k)
	}
	if c1, c2, err := socketPair(); err == nil {
		defer c1.Close()
		defer c2.Close()
		if k := kindOf(c1); k != streamPipe {
			t.Errorf("a socket: %d", k)
		}
	}
}

func socketPair() (*os.File, *os.File, error) {
	dir, err := os.MkdirTemp("", "sock")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(dir)
	l, err := net.Listen("unix", filepath.Join(dir, "s"))
	if err != nil {
		return nil, nil, err
	}
	defer l.Close()
	c, err := net.Dial("unix", filepath.Join(dir, "s"))
	if err != nil {
		return nil, nil, err
	}
	defer c.Close()
	f, err := c.(*net.UnixConn).File()
	return f, f, err
}

// fakeClock is a clock the test moves.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func (c *fakeClock) add(d time.Duration) time.Time { c.t = c.t.Add(d); return c.t }

// testMeter is program's meter drawing to the buffer it returns, on a
// fake clock; width, if not nil, is the terminal's.
func testMeter(program string, width func() int) (*Meter, *bytes.Buffer, *fakeClock) {
	out := &bytes.Buffer{}
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	return newMeter(program, out, clock.now, width), out, clock
}

func TestMeterLine(t *testing.T) {
	m, out, clock := testMeter("hashr-load", nil)
	m.redraw(clock.now())
	if out.Len() != 0 {
		t.Fatalf("drew %q before anything was counted", out.String())
	}
	m.Record([]byte(`{"type":"plan","sources":4,"bytes":4194304}`))
	m.Record([]byte(`{"type":"source","uri":"/a.deb","size":1048576}`))
	m.redraw(clock.now())
	if want := clearLine + "hashr-load: 0/4 sources · 0 B/4.0 MiB"; out.String() != want {
		t.Fatalf("got %q, want %q", out.String(), want)
	}
	out.Reset()
	// Files count the source under way in part, up to its size.
	for range 3 {
		m.Record([]byte(`{"type":"file","path":"x","size":300000}`))
	}
	m.Record([]byte(`{"type":"error","stage":"extract","message":"x"}`)) // not counted
	m.Record([]byte(`{"type":"end","source":"s","files":3}`))
	m.Record([]byte(`{"type":"source","uri":"/b.deb","size":1048576}`))
	m.Record([]byte(`{"type":"file","path":"y","size":5000000}`)) // bigger than its source: decompressed
	m.redraw(clock.add(2 * time.Second))
	want := clearLine + "hashr-load: 1/4 sources · 4 files · 2.0 MiB/4.0 MiB · 1.0 MiB/s · ETA 0:02"
	if out.String() != want {
		t.Fatalf("got %q, want %q", out.String(), want)
	}
}

// Without a plan (a stream that did not come from hashr-scan), counts
// without totals or ETA.
func TestMeterLineWithoutPlan(t *testing.T) {
	m, out, clock := testMeter("hashr-hash", nil)
	m.File(1 << 30)
	for range 3100 {
		m.File(0)
	}
	m.redraw(clock.now())
	if want := clearLine + "hashr-hash: 0 sources · 3.1k files"; out.String() != want {
		t.Fatalf("got %q, want %q", out.String(), want)
	}
}

// The line is redrawn at most 5 times a second, and only when it changed.
func TestMeterThrottles(t *testing.T) {
	m, out, clock := testMeter("hashr-load", nil)
	m.Source(10)
	m.redraw(clock.now())
	draws := func() int { return strings.Count(out.String(), clearLine) }
	if draws() != 1 {
		t.Fatalf("first draw: %q", out.String())
	}
	m.End()
	m.redraw(clock.add(100 * time.Millisecond))
	if draws() != 1 {
		t.Fatalf("redrew 100 ms after the last: %q", out.String())
	}
	m.redraw(clock.add(100 * time.Millisecond))
	if draws() != 2 || !strings.HasSuffix(out.String(), "1 source · 10 B") {
		t.Fatalf("200 ms after: %q", out.String())
	}
	m.redraw(clock.add(200 * time.Millisecond))
	if draws() != 2 {
		t.Fatalf("redrew an unchanged line: %q", out.String())
	}
}

// A message clears the line first; the next redraw puts it back, and the
// end clears it for good.
func TestMeterMessagesAndEnd(t *testing.T) {
	m, out, clock := testMeter("hashr-load", nil)
	m.Source(10)
	m.redraw(clock.now())
	(meterMessages{m}).Write([]byte("hashr-load: error: x\n"))
	m.redraw(clock.add(time.Second)) // unchanged, but no longer on the screen
	m.start()
	m.stop()
	want := clearLine + "hashr-load: 0 sources" + clearLine + "hashr-load: error: x\n" +
		clearLine + "hashr-load: 0 sources" + clearLine
	if out.String() != want {
		t.Fatalf("got  %q\nwant %q", out.String(), want)
	}
}

// A line wider than the terminal would wrap, and \r could not redraw it.
func TestMeterFitsTheTerminal(t *testing.T) {
	m, out, clock := testMeter("hashr-load", func() int { return 20 })
	m.Plan(1000, 1<<40)
	m.redraw(clock.now())
	if got := strings.TrimPrefix(out.String(), clearLine); got != "hashr-load: 0/1000 " {
		t.Fatalf("got %q", got)
	}
}

// Records split across writes are counted once whole.
func TestRecordWatcherJoinsSplitWrites(t *testing.T) {
	var sink bytes.Buffer
	m := newMeter("hashr-x", &bytes.Buffer{}, nil, nil)
	rw := &recordWatcher{w: &sink, m: m}
	stream := `{"type":"plan","sources":2,"bytes":30}` + "\n" + `{"type":"source","size":10}` + "\n" +
		`{"type":"file","path":"a","size":4}` + "\n" + `{"type":"end","source":"s"}` + "\n"
	for i := 0; i < len(stream); i += 7 {
		rw.Write([]byte(stream[i:min(i+7, len(stream))]))
	}
	if sink.String() != stream {
		t.Fatalf("the stream changed on its way: %q", sink.String())
	}
	if m.plan.Sources != 2 || m.plan.Bytes != 30 || m.sources != 1 || m.files != 1 || m.bytes != 10 {
		t.Fatalf("counted plan %+v, %d sources, %d files, %d bytes", m.plan, m.sources, m.files, m.bytes)
	}
}

// waitForLines waits until the terminal shows n progress lines, if the
// command draws.
func waitForLines(t *testing.T, draws bool, term *lockedbuf.Buffer, n int) {
	for deadline := time.Now().Add(5 * time.Second); draws && strings.Count(term.String(), "sources ·") < n; {
		if time.Now().After(deadline) {
			t.Errorf("fewer than %d progress lines after 5 s: %q", n, term.String())
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A command draws when its stdout is not a pipe, not when it is: a fake
// terminal on stderr, and stdout told to be a pipe or a file. Its records
// reach stdout unchanged either way.
func TestCommandDrawsUnlessStdoutIsAPipe(t *testing.T) {
	for _, tc := range []struct {
		stdout streamKind
		args   []string
		draws  bool
	}{
		{streamFile, nil, true},
		{streamPipe, nil, false},
		{streamPipe, []string{"--progress", "always"}, true},
		{streamFile, []string{"--progress", "never"}, false},
	} {
		var stdout bytes.Buffer
		stderr := &lockedbuf.Buffer{}
		p := New("hashr-test", strings.NewReader(""), &stdout, stderr)
		p.progress.classify = func(w any) streamKind {
			if w == any(stderr) {
				return streamTerminal
			}
			return tc.stdout
		}
		cmd := p.Command("hashr-test", "a test command", "Long help.", "", func(ctx context.Context, _ []string) error {
			w := records.NewWriter(p.Stdout)
			w.Write(&records.Plan{Sources: 1, Bytes: 5})
			w.Write(&records.Source{URI: "/a", Size: records.Int64(5)})
			w.Flush()
			// Where it draws: the line, a message over it, the line again
			// under the message.
			waitForLines(t, tc.draws, stderr, 1)
			p.Errorf("a message")
			waitForLines(t, tc.draws, stderr, 2)
			return nil
		})
		if status := p.Execute(cmd, tc.args); status != 0 {
			t.Fatalf("%v: status %d: %s", tc, status, stderr.String())
		}
		got := stderr.String()
		if drew := strings.Contains(got, "hashr-test: 0/1 sources · 0 B/5 B"); drew != tc.draws {
			t.Errorf("%v: drew %v, want %v: %q", tc, drew, tc.draws, got)
		}
		if tc.draws && !strings.HasSuffix(got, clearLine) {
			t.Errorf("%v: the line is not cleared at the end: %q", tc, got)
		}
		if !strings.Contains(got, "hashr-test: error: a message\n") {
			t.Errorf("%v: the message is lost: %q", tc, got)
		}
		want := `{"type":"plan","sources":1,"bytes":5}` + "\n" + `{"type":"source","uri":"/a","size":5}` + "\n"
		if stdout.String() != want {
			t.Errorf("%v: stdout %q", tc, stdout.String())
		}
		if p.Stdout != any(&stdout) || p.Stderr != any(stderr) {
			t.Errorf("%v: the streams were not put back", tc)
		}
	}
}
