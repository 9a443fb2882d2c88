package hugeheap

import (
	"bytes"
	"os"
	"runtime"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// hugePage is the size of an x86-64 and arm64 huge page.
const hugePage = 2 << 20

// Reserve asks for huge pages under the next n bytes of the Go heap. It
// allocates n bytes, which the runtime maps fresh and does not touch,
// marks their huge pages MADV_HUGEPAGE, and frees them at once (a
// collection): the runtime keeps the mapping, with the mark, and gives its
// pages to later allocations, which then fault in 2 MiB at a time.
//
// It does nothing where it would change nothing or could hurt: where the
// kernel gives huge pages to all memory already, or to none; where
// GODEBUG=disablethp=1 asks the runtime for none (also the way to turn
// this off); under strict overcommit (vm.overcommit_memory 2), where the
// n bytes mapped would count against the commit limit though untouched;
// and on 32-bit systems, whose address space is small.
func Reserve(n int) {
	if !worthAsking() || n < hugePage {
		return
	}
	b := make([]byte, n)
	base := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	first := int(-base & (hugePage - 1))            // to the first huge page boundary
	last := n - int((base+uintptr(n))&(hugePage-1)) // to the last
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
}

// worthAsking says whether marking the heap MADV_HUGEPAGE gives it huge
// pages it would not have had, safely (see Reserve).
func worthAsking() bool {
	if strconv.IntSize < 64 || strings.Contains(os.Getenv("GODEBUG"), "disablethp=1") {
		return false
	}
	mode, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil || !bytes.Contains(mode, []byte("[madvise]")) {
		return false
	}
	overcommit, err := os.ReadFile("/proc/sys/vm/overcommit_memory")
	return err == nil && strings.TrimSpace(string(overcommit)) != "2"
}
