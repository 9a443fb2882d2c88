package db

import (
	"bytes"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// hugePage is the size of an x86-64 and arm64 huge page.
const hugePage = 2 << 20

// hugePageBuffer maps at least n bytes of memory, whole huge pages aligned
// to one, and asks for them to be huge pages. Without transparent huge
// pages it is ordinary memory. The memory is not the Go heap's: SQLite
// keeps pointers into it.
func hugePageBuffer(n int) ([]byte, error) {
	size := uintptr(n+hugePage-1) &^ (hugePage - 1)
	// Map a huge page more, to start on a huge page boundary, and unmap
	// the ends left over. (By pointer: unix.Munmap of part of a slice
	// from unix.Mmap unmaps all of it.)
	m, err := unix.MmapPtr(-1, 0, nil, size+hugePage, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, fmt.Errorf("mapping %d bytes: %w", size, err)
	}
	head := -uintptr(m) & (hugePage - 1)
	if head > 0 {
		_ = unix.MunmapPtr(m, head)
	}
	start := unsafe.Add(m, head)
	if tail := hugePage - head; tail > 0 {
		_ = unix.MunmapPtr(unsafe.Add(start, size), tail)
	}
	buf := unsafe.Slice((*byte)(start), size)
	// Best effort: where transparent huge pages are off, the kernel
	// refuses and the pages are small ones.
	_ = unix.Madvise(buf, unix.MADV_HUGEPAGE)
	return buf, nil
}

func freeHugePageBuffer(buf []byte) {
	_ = unix.MunmapPtr(unsafe.Pointer(unsafe.SliceData(buf)), uintptr(len(buf)))
}

// transparentHugePages says whether the kernel gives huge pages to memory
// that asks for them (madvise) or to all.
func transparentHugePages() bool {
	mode, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	return err == nil && (bytes.Contains(mode, []byte("[always]")) || bytes.Contains(mode, []byte("[madvise]")))
}
