// Package hugeheap asks Linux for transparent huge pages under the Go
// heap, for a command whose heap grows to hundreds of megabytes
// (hashr-load's batches).
//
// Most distributions give transparent huge pages only to memory that asks
// for them (/sys/kernel/mm/transparent_hugepage/enabled is "madvise"),
// and the Go runtime does not ask for its heap's (it stopped in Go
// 1.21.1). Every 4 KiB page the heap touches first is then a page fault:
// hashr-load took about 65,000 over loadbench's 200,000 records, and on a
// virtual machine, where a fault costs microseconds, they were a third of
// its processor time. A huge page is one fault for 512 pages.
package hugeheap

// PageSize is the size of an x86-64 and arm64 huge page.
const PageSize = 2 << 20
