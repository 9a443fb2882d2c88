package hugeheap

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"unsafe"
)

// TestReserveMarksTheHeapsNextPages checks that the heap's pages after
// Reserve are marked for huge pages and that they were not before. The
// mark is the VMA's "hg" flag in /proc/self/smaps: whether the kernel
// then finds free huge pages is its own matter.
func TestReserveMarksTheHeapsNextPages(t *testing.T) {
	if !worthAsking() {
		t.Skip("transparent huge pages are not on \"madvise\" here (or overcommit is strict, or 32-bit): Reserve does nothing")
	}
	before := make([]byte, 32<<20)
	if markedHuge(t, before) {
		t.Fatal("a heap allocation is marked for huge pages before Reserve: the test cannot tell what Reserve does")
	}
	Reserve(256 << 20)
	after := make([]byte, 32<<20)
	if !markedHuge(t, after) {
		t.Error("an allocation after Reserve is not marked for huge pages")
	}
	var stats runtime.MemStats
	runtime.ReadMemStats(&stats)
	if stats.HeapAlloc > 200<<20 {
		t.Errorf("heap holds %d MiB after Reserve: the reserved bytes were not freed", stats.HeapAlloc>>20)
	}
	runtime.KeepAlive(before)
	runtime.KeepAlive(after)
}

// markedHuge says whether the mapping holding b's middle has the "hg"
// (MADV_HUGEPAGE) flag.
func markedHuge(t *testing.T, b []byte) bool {
	t.Helper()
	addr := uintptr(unsafe.Pointer(unsafe.SliceData(b))) + uintptr(len(b)/2)
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skipf("reading the process's mappings: %v", err)
	}
	defer f.Close()
	inside := false
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := s.Text()
		var lo, hi uintptr
		if n, _ := fmt.Sscanf(line, "%x-%x ", &lo, &hi); n == 2 {
			inside = lo <= addr && addr < hi
			continue
		}
		if flags, ok := strings.CutPrefix(line, "VmFlags:"); ok && inside {
			return slices.Contains(strings.Fields(flags), "hg")
		}
	}
	if err := s.Err(); err != nil {
		t.Fatalf("reading /proc/self/smaps: %v", err)
	}
	t.Fatalf("no mapping in /proc/self/smaps holds address %#x", addr)
	return false
}
