package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
)

// endless never ends and never blocks, as a local file read in a loop.
type endless struct{}

func (endless) Read(p []byte) (int, error) { return len(p), nil }

func TestInterruptibleStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r := Interruptible(ctx, endless{})
	if _, err := io.ReadFull(r, make([]byte, 10)); err != nil {
		t.Fatalf("before cancel: %v", err)
	}
	cancel()
	n, err := io.Copy(io.Discard, r) // would never return without the check
	if !errors.Is(err, context.Canceled) || n != 0 {
		t.Fatalf("after cancel: copied %d bytes, err %v; want 0, context.Canceled", n, err)
	}
	var b bytes.Buffer
	if _, err := io.Copy(&b, Interruptible(context.Background(), bytes.NewReader([]byte("abc")))); err != nil || b.String() != "abc" {
		t.Fatalf("uncancelled copy: %q, %v", b.String(), err)
	}
}
