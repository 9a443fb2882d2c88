package cli

import (
	"runtime/debug"
	"testing"
)

// TestCollectLessOften checks the GC target, that GOGC wins over it, and
// that the previous setting comes back.
func TestCollectLessOften(t *testing.T) {
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)

	t.Setenv("GOGC", "")
	restore := CollectLessOften(400)
	if got := debug.SetGCPercent(400); got != 400 {
		t.Errorf("GC percent while running = %d, want 400", got)
	}
	restore()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GC percent after running = %d, want 100 back", got)
	}

	t.Setenv("GOGC", "50")
	debug.SetGCPercent(50)
	restore = CollectLessOften(400)
	if got := debug.SetGCPercent(50); got != 50 {
		t.Errorf("GC percent with GOGC=50 = %d, want 50", got)
	}
	restore()
}
