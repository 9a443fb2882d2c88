package db

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/hashr-dev/hashr/internal/hugeheap"
)

// hugePageBuffer maps at least n bytes of memory, whole huge pages aligned
// to one, and asks for them to be huge pages. Without transparent huge
// pages it is ordinary memory. The memory is not the Go heap's: SQLite
// keeps pointers into it.
func hugePageBuffer(n int) ([]byte, error) {
	size := uintptr(n+hugeheap.PageSize-1) &^ (hugeheap.PageSize - 1)
	// Map a huge page more, to start on a huge page boundary, and unmap
	// the ends left over. (By pointer: unix.Munmap of part of a slice
	// from unix.Mmap unmaps all of it.)
	m, err := unix.MmapPtr(-1, 0, nil, size+hugeheap.PageSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, fmt.Errorf("mapping %d bytes: %w", size, err)
	}
	head := -uintptr(m) & (hugeheap.PageSize - 1)
	if head > 0 {
		_ = unix.MunmapPtr(m, head)
	}
	start := unsafe.Add(m, head)
	if tail := hugeheap.PageSize - head; tail > 0 {
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
