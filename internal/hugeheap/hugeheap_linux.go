package hugeheap

import (
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Reserve asks for huge pages under the next n bytes of the Go heap, and
// says whether it did. It allocates n bytes, which the runtime maps fresh
// and does not touch, marks their huge pages MADV_HUGEPAGE, and frees them
// at once (a collection): the runtime keeps the mapping, with the mark, and
// gives its pages to later allocations, which then fault in 2 MiB at a
// time.
//
// Call it first in main. The n bytes are untouched only while the heap
// has never been collected: the runtime places them after its highest
// page in use, and once pages above that have been used and freed, it
// zeroes all n bytes, a fault for each 4 KiB (33,000 for 128 MiB). So
// Reserve does nothing once the heap has been collected or holds pages
// freed; nor where it would change nothing or could hurt: where the kernel
// gives huge pages to all memory already, or to none; where
// GODEBUG=disablethp=1 asks the runtime for none (also the way to turn
// this off); under strict overcommit (vm.overcommit_memory 2), where the n
// bytes mapped would count against the commit limit though untouched; and
// on 32-bit systems, whose address space is small.
func Reserve(n int) bool {
	if n < PageSize || !worthAsking() || !neverCollected() {
		return false
	}
	b := make([]byte, n)
	base := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	first := int(-base & (PageSize - 1))            // to the first huge page boundary
	last := n - int((base+uintptr(n))&(PageSize-1)) // to the last
	if first < last {
		// Best effort: a kernel that refuses leaves the pages small.
		_ = unix.Madvise(b[first:last], unix.MADV_HUGEPAGE)
	}
	runtime.KeepAlive(b)
	b = nil
	// Free the n bytes now: left to the next collection, whose goal they
	// would have raised by n times GOGC, the heap would first grow past
	// them into pages not marked.
	runtime.GC()
	return true
}

// neverCollected says whether the heap has had no collection and holds no
// freed pages: then an allocation's pages are all fresh.
func neverCollected() bool {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}, {Name: "/memory/classes/heap/free:bytes"}}
	metrics.Read(s)
	for _, v := range s {
		if v.Value.Kind() != metrics.KindUint64 || v.Value.Uint64() != 0 {
			return false
		}
	}
	return true
}

// worthAsking says whether marking the heap MADV_HUGEPAGE gives it huge
// pages it would not have had, safely (see Reserve).
func worthAsking() bool {
	if strconv.IntSize < 64 || strings.Contains(os.Getenv("GODEBUG"), "disablethp=1") || Mode() != "madvise" {
		return false
	}
	overcommit, err := os.ReadFile("/proc/sys/vm/overcommit_memory")
	return err == nil && strings.TrimSpace(string(overcommit)) != "2"
}

// Mode is the kernel's transparent huge pages setting: "always" (all
// memory), "madvise" (memory that asks) or "never"; "" where it has none.
func Mode() string {
	setting, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil {
		return ""
	}
	_, chosen, _ := strings.Cut(string(setting), "[")
	chosen, _, _ = strings.Cut(chosen, "]")
	return chosen
}
