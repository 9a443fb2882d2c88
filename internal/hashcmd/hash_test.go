package hashcmd

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/digest"
	"github.com/hashr-dev/hashr/pkg/records"
	"github.com/hashr-dev/hashr/pkg/records/recordstest"
)

func TestCloseSource(t *testing.T) {
	a := newAccounts()
	a.spent("s1", 1500*time.Millisecond)
	a.spent("s1", 600*time.Millisecond)
	a.failed("s1")
	a.spent("s2", time.Second)
	raw := rawRecord(t, `{"type":"end","source":"s1","files":3,"errors":1,"bytes":9,"ms":{"extract":4,"hash":1},"x":true}`)
	end, err := closeSource(raw, a)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := records.Marshal(end)
	want := `{"type":"end","source":"s1","files":2,"errors":2,"bytes":9,"ms":{"extract":4,"hash":2101},"x":true}`
	if string(got) != want {
		t.Errorf("end record\n got %s\nwant %s", got, want)
	}
	if _, ok := a.time["s1"]; ok {
		t.Error("s1's figures kept after its end")
	}
	if a.time["s2"] != time.Second {
		t.Error("s2's figures lost")
	}
}

func rawRecord(t *testing.T, line string) *records.Raw {
	t.Helper()
	return recordstest.Raw(t, line)
}

// A record that has everything is passed on as read, without its file
// being opened (here it does not even exist).
func TestNothingToComputeKeepsBytes(t *testing.T) {
	line := `{"type":"file","path":"p", "size":1,"local":"/nonexistent/x","md5":"b1946ac92492d2347c6235b4d2611184","sha1":"f572d396fae9206628714fb2ce00f72e94f2258f","sha256":"5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03","mime":"a/b"}`
	raw := rawRecord(t, line)
	o := handleRecord(raw, options{algos: digest.Default})
	if o.failure != nil || o.out != raw {
		t.Fatalf("outcome %+v", o)
	}
	// Asking for more than it has does open the file.
	o = handleRecord(raw, options{algos: digest.Default | digest.Set(digest.SHA512)})
	if o.failure == nil || !strings.Contains(o.failure.Message, "no such file") {
		t.Fatalf("outcome %+v", o)
	}
}

// Only mime missing: the file is read for its head only; the size it has
// is not checked against the record (only a full read would show it).
func TestMIMEOnly(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	os.WriteFile(path, append([]byte("%PDF-1.7\n"), make([]byte, 1<<20)...), 0o644)
	line := fmt.Sprintf(`{"type":"file","path":"p","size":5,"local":%q,"md5":"b1946ac92492d2347c6235b4d2611184","sha1":"f572d396fae9206628714fb2ce00f72e94f2258f","sha256":"5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"}`, path)
	o := handleRecord(rawRecord(t, line), options{algos: digest.Default})
	if o.failure != nil || !bytes.Contains(o.out.Line, []byte(`"mime":"application/pdf"`)) {
		t.Fatalf("outcome %+v: %s", o, o.out.Line)
	}
}

// An interruption ends the run with ErrInterrupted, having written only
// whole records.
func TestInterrupted(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	os.WriteFile(path, []byte("hello\n"), 0o644)
	in, feed := io.Pipe()
	var out bytes.Buffer
	p := cli.New("hashr-hash", in, &out, io.Discard)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- run(ctx, p, options{algos: digest.Default, workers: 2}) }()
	for range 100 {
		fmt.Fprintf(feed, "{\"type\":\"file\",\"path\":\"p\",\"local\":%q}\n", path)
	}
	cancel() // stdin stays open: the run must not wait for it
	select {
	case err := <-done:
		if !cli.IsInterrupted(err) {
			t.Errorf("run returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not end after the interruption")
	}
	for line := range strings.SplitSeq(strings.TrimSuffix(out.String(), "\n"), "\n") {
		if line == "" {
			continue
		}
		if _, err := records.Unmarshal([]byte(line)); err != nil {
			t.Errorf("half a record written: %q", line)
		}
	}
}
