package db

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/hashr-dev/hashr/internal/hugeheap"
)

// sqlitePageSize is the page size of the files hashr-load creates
// (SQLite's default); a file of larger pages gets its pages from SQLite's
// allocator, as without the buffer.
const sqlitePageSize = 4096

// hugePageCacheKiB is the page cache of a one-pass reader's connection
// when its buffer is on huge pages (ReservePageCache): over
// /usr/share/man against the bench's 3M-sample set, hashr-lookup read
// 42,000 pages with pread(2) at SQLite's 2,000 KiB, 37,000 at 8 MiB,
// 30,700 at 16 MiB and 25,600 at 32 MiB (strace), each read about 3.6 µs
// of CPU on the 2-vCPU VM: the interior pages above the leaves stay
// cached from one batch to the next. On 4 KiB pages a larger cache cost
// more in page faults than it saved in reads (lookup20c); on huge pages
// its faults are a few. (SQLite's default cache_size is -2000, 2,000 KiB.)
const hugePageCacheKiB = 16 << 10

// ReservePageCache gives SQLite's page caches in this process one buffer
// on huge pages for conns connections, in place of SQLite's allocator,
// and OpenOnePassReader's connections then keep hugePageCacheKiB of pages
// each. Where the kernel gives no huge pages (transparent huge pages
// neither "madvise" nor "always", or not Linux) it reserves nothing and
// says so: SQLite threads its free list through every slot of the buffer
// when it starts, which on 4 KiB pages is a fault a slot before the first
// page is read. It must come before the process opens SQLite: afterwards
// it changes nothing and returns an error. The buffer is kept until the
// process exits.
//
// Why: modernc's allocator gives each 4 KiB page with its header an 8 KiB
// slot, two page faults a page when first used, and at close it returns
// the slots to the kernel one 64 KiB region at a time (madvise). On the
// 2-vCPU VM a fault on fresh memory costs about 12 µs; hashr-lookup over
// /usr/share/man took some 2,000 faults in SQLite's caches and 21-102
// madvise calls at close, 5-20 ms after its last record was written. A
// 2 MiB huge page is one fault (64 MiB touched: 16,390 faults and 0.20 s
// of CPU on 4 KiB pages, 34 faults and 5 ms on huge pages), and memory
// SQLite does not free is not returned at close.
func ReservePageCache(conns int) error {
	pageCacheOnce.Do(func() { pageCacheErr = reservePageCache(conns) })
	return pageCacheErr
}

var (
	pageCacheOnce sync.Once
	pageCacheErr  error
)

// errPageCacheTooLate is ReservePageCache's error once SQLite has started.
var errPageCacheTooLate = errors.New("SQLite has started in this process already")

// transparentHugePages says whether the kernel gives huge pages to memory
// that asks for them (madvise) or to all.
func transparentHugePages() bool {
	mode := hugeheap.Mode()
	return mode == "always" || mode == "madvise"
}

func reservePageCache(conns int) error {
	if !transparentHugePages() {
		return errors.New("reserving SQLite's page cache: this system gives no huge pages")
	}
	tls := libc.NewTLS()
	defer tls.Close()
	args := libc.Xmalloc(tls, 3*8) // sqlite3_config's variadic arguments
	if args == 0 {
		return errors.New("reserving SQLite's page cache: out of memory")
	}
	defer libc.Xfree(tls, args)
	// The header SQLite keeps with each page in the cache; a slot must
	// hold the page and its header.
	hdr := libc.Xmalloc(tls, 8)
	if hdr == 0 {
		return errors.New("reserving SQLite's page cache: out of memory")
	}
	defer libc.Xfree(tls, hdr)
	if rc := sqlite3.Xsqlite3_config(tls, sqlite3.SQLITE_CONFIG_PCACHE_HDRSZ, libc.VaList(args, hdr)); rc != sqlite3.SQLITE_OK {
		return pageCacheConfigError(rc)
	}
	slot := (sqlitePageSize + int(int32(binary.NativeEndian.Uint32(libc.GoBytes(hdr, 4)))) + 7) &^ 7
	cacheKiB := hugePageCacheKiB
	perConn := cacheKiB*1024/slot + 1
	buf, err := hugePageBuffer(max(conns, 1) * perConn * slot)
	if err != nil {
		return fmt.Errorf("reserving SQLite's page cache: %w", err)
	}
	// Every slot of the buffer: it is mapped (and faulted in) whole.
	slots := len(buf) / slot
	addr := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	if rc := sqlite3.Xsqlite3_config(tls, sqlite3.SQLITE_CONFIG_PAGECACHE, libc.VaList(args, addr, int32(slot), int32(slots))); rc != sqlite3.SQLITE_OK {
		freeHugePageBuffer(buf)
		return pageCacheConfigError(rc)
	}
	pageCacheBuffer = buf
	onePassCacheKiB.Store(int64(cacheKiB))
	return nil
}

// onePassCacheKiB is the page cache of OpenOnePassReader's connections, in
// KiB: what ReservePageCache reserved for each, or 0 for SQLite's default.
var onePassCacheKiB atomic.Int64

// pageCacheBuffer is the buffer SQLite was given, which it uses until the
// process exits.
var pageCacheBuffer []byte

func pageCacheConfigError(rc int32) error {
	if rc == sqlite3.SQLITE_MISUSE {
		return fmt.Errorf("reserving SQLite's page cache: %w", errPageCacheTooLate)
	}
	return fmt.Errorf("reserving SQLite's page cache: sqlite3_config returned %d", rc)
}
