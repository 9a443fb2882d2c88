package serve

import (
	"runtime/debug"
	"testing"
)

// TestCollectLessOften checks hashr-serve's GC target, that GOGC wins
// over it, and that the previous setting comes back.
func TestCollectLessOften(t *testing.T) {
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)

	t.Setenv("GOGC", "")
	restore := collectLessOften()
	if got := debug.SetGCPercent(serveGCPercent); got != serveGCPercent {
		t.Errorf("GC percent while serving = %d, want %d", got, serveGCPercent)
	}
	restore()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GC percent after serving = %d, want 100 back", got)
	}

	t.Setenv("GOGC", "50")
	debug.SetGCPercent(50)
	restore = collectLessOften()
	if got := debug.SetGCPercent(50); got != 50 {
		t.Errorf("GC percent with GOGC=50 = %d, want 50", got)
	}
	restore()
}
