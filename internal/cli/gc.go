package cli

import (
	"os"
	"runtime/debug"
)

// CollectLessOften sets the garbage collector's target to percent unless
// GOGC is set, which wins, for a command whose live heap is small and
// whose allocations are nearly all garbage by its next batch (hashr-serve,
// hashr-lookup): at Go's default of 100 the heap's 4 MB floor made a
// collection nearly every batch. The returned function restores the
// setting (the commands also run in-process, in tests).
func CollectLessOften(percent int) (restore func()) {
	if os.Getenv("GOGC") != "" {
		return func() {}
	}
	before := debug.SetGCPercent(percent)
	return func() { debug.SetGCPercent(before) }
}
