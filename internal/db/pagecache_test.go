package db

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/hashr-dev/hashr/internal/hugeheap"
)

// TestReservePageCache runs its checks in a process of its own: SQLite
// takes a page cache buffer only before it starts, and other tests start
// it in this one.
func TestReservePageCache(t *testing.T) {
	if !transparentHugePages() {
		if err := reservePageCache(1); err == nil {
			t.Fatal("reservePageCache reserved a buffer where there are no huge pages")
		}
		t.Skip("no transparent huge pages here: nothing reserved")
	}
	if os.Getenv("HASHR_TEST_PAGECACHE_CHILD") == "1" {
		checkReservedPageCache(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestReservePageCache$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "HASHR_TEST_PAGECACHE_CHILD=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the test in a process of its own: %v\n%s", err, out)
	}

	// Here SQLite has started: the buffer is refused, and SQLite goes on
	// with its own allocator.
	sqldb := fillSQLite(t, filepath.Join(t.TempDir(), "started.db"))
	if err := sqldb.Close(); err != nil {
		t.Fatal(err)
	}
	if err := reservePageCache(1); !errors.Is(err, errPageCacheTooLate) {
		t.Errorf("reservePageCache after SQLite started: %v, want %v", err, errPageCacheTooLate)
	}
}

// checkReservedPageCache, in a process where SQLite has not started,
// reserves the buffer and reads a file through it.
func checkReservedPageCache(t *testing.T) {
	if err := ReservePageCache(2); err != nil {
		t.Fatalf("ReservePageCache before SQLite started: %v", err)
	}
	if err := ReservePageCache(2); err != nil {
		t.Fatalf("ReservePageCache again: %v", err)
	}
	if len(pageCacheBuffer)%hugeheap.PageSize != 0 {
		t.Fatalf("buffer of %d bytes: want whole huge pages", len(pageCacheBuffer))
	}
	sqldb := fillSQLite(t, filepath.Join(t.TempDir(), "reserved.db"))
	defer sqldb.Close()
	var n, total int64
	if err := sqldb.QueryRow(`SELECT count(*), sum(length(v)) FROM t`).Scan(&n, &total); err != nil {
		t.Fatal(err)
	}
	if n != fillRows || total != fillRows*1000 {
		t.Fatalf("read %d rows of %d bytes, want %d of %d", n, total, fillRows, fillRows*1000)
	}
	used, overflow := sqliteStatus(t, sqlite3.SQLITE_STATUS_PAGECACHE_USED), sqliteStatus(t, sqlite3.SQLITE_STATUS_PAGECACHE_OVERFLOW)
	if used < 100 {
		t.Errorf("%d pages in the buffer, %d bytes of pages outside it: want the file's pages in the buffer", used, overflow)
	}

	// A one-pass reader's connections keep as many pages as were
	// reserved for each.
	wantKiB := int64(hugePageCacheKiB)
	if len(pageCacheBuffer) < 2*int(wantKiB)*1024 {
		t.Errorf("buffer of %d bytes for two caches of %d KiB", len(pageCacheBuffer), wantKiB)
	}
	ctx := context.Background()
	loc := Location{Driver: SQLite, Target: filepath.Join(t.TempDir(), "hashr.db")}
	l, err := Open(ctx, loc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := OpenOnePassReader(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var cacheSize int64
	if err := r.db.QueryRow(`PRAGMA cache_size`).Scan(&cacheSize); err != nil {
		t.Fatal(err)
	}
	if cacheSize != -wantKiB {
		t.Errorf("a one-pass reader's cache_size %d, want %d", cacheSize, -wantKiB)
	}
}

const fillRows = 1000

// fillSQLite creates a SQLite file of a few hundred pages.
func fillSQLite(t *testing.T, path string) *sql.DB {
	t.Helper()
	sqldb, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	sqldb.SetMaxOpenConns(1)
	for _, stmt := range []string{
		`CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)`,
		`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) INSERT INTO t SELECT i, randomblob(1000) FROM n`,
	} {
		if _, err := sqldb.Exec(stmt); err != nil {
			sqldb.Close()
			t.Fatal(err)
		}
	}
	return sqldb
}

// sqliteStatus is sqlite3_status's current value of op.
func sqliteStatus(t *testing.T, op int32) int64 {
	tls := libc.NewTLS()
	defer tls.Close()
	cur, high := libc.Xmalloc(tls, 8), libc.Xmalloc(tls, 8)
	defer libc.Xfree(tls, cur)
	defer libc.Xfree(tls, high)
	if rc := sqlite3.Xsqlite3_status64(tls, op, cur, high, 0); rc != sqlite3.SQLITE_OK {
		t.Fatalf("sqlite3_status64(%d): %d", op, rc)
	}
	return int64(binary.NativeEndian.Uint64(libc.GoBytes(cur, 8)))
}
