package db

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hashr-dev/hashr/internal/db/dbtest"
	"github.com/hashr-dev/hashr/internal/db/pgtest"
)

// A transaction the server aborts to break a deadlock is sent again, from
// the same rows, and the caller sees no error.
func TestDeadlockIsRetried(t *testing.T) {
	pg := pgtest.Start(t)
	url := pg.NewDatabase(t)
	var logs logLines
	l := open(t, url, Options{RetryFor: 30 * time.Second, Logf: logs.logf})
	s0, s1 := samplesSortingApart()
	s1WithoutMD5 := s1
	s1WithoutMD5.MD5 = nil
	load(t, l, source(t, "first.deb", s1WithoutMD5))

	// Another session holds s1's row, so the loader, having inserted s0,
	// waits for s1 (which gains its md5: a new sample's row alone would
	// be written by COPY, not upserted); then that session wants s0: a
	// deadlock, which the loader's session detects first (the other one
	// waits longer).
	ctx := context.Background()
	tx := holdSample(t, url, s1)
	done := make(chan Stats)
	go func() {
		st, err := l.Load(ctx, []*Source{source(t, "second.deb", s0, s1)})
		if err != nil {
			t.Error(err)
		}
		done <- st
	}()
	time.Sleep(500 * time.Millisecond) // the loader now waits for s1
	if _, err := tx.Exec(ctx, "INSERT INTO samples (sha256) VALUES ($1) ON CONFLICT DO NOTHING", s0.SHA256); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	st := <-done
	got := logs.all()
	if st.Attempts < 2 || !strings.Contains(strings.Join(got, "\n"), "retrying in") {
		t.Fatalf("%d attempts, logs %q: the deadlock was not retried", st.Attempts, got)
	}
	t.Logf("%s", got[0])
	if got := dbtest.Count(t, url, "SELECT count(*) FROM samples_sources"); got != 3 {
		t.Fatalf("%d links after the retry, want 3", got)
	}
}

// logLines collects a loader's log lines, from any goroutine.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) logf(f string, a ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(f, a...))
}

func (l *logLines) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lines)
}

// samplesSortingApart returns two samples, s0 sorting before s1 (their
// sha256 starts with 0x10 and 0xe0).
func samplesSortingApart() (s0, s1 File) {
	for i := 0; s0.SHA256 == nil || s1.SHA256 == nil; i++ {
		f := content("p", strings.Repeat("x", i))
		switch f.SHA256[0] {
		case 0x10:
			s0 = f
		case 0xe0:
			s1 = f
		}
	}
	return s0, s1
}

// holdSample opens another session to url and, in a transaction it
// returns open, updates f's sample row, so that a loader wanting the row
// waits. The session waits 20 s before it looks for deadlocks.
func holdSample(t *testing.T, url string, f File) pgx.Tx {
	t.Helper()
	ctx := context.Background()
	other, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close(ctx) })
	tx, err := other.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SET LOCAL deadlock_timeout = '20s'"); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "UPDATE samples SET mime = 'held' WHERE sha256 = $1", f.SHA256); err != nil {
		t.Fatal(err)
	}
	return tx
}

// Citus reports a worker lost mid-transaction as internal_error (XX000)
// with a message naming the connection (seen in
// TestCitusWorkerRestartIsRetried): retried. Other internal errors, and
// the same words in an error of another class, are not.
func TestCitusLostWorkerIsRetryable(t *testing.T) {
	l := &pgLoader{}
	for _, c := range []struct {
		code, message string
		want          bool
	}{
		{"XX000", "failure on connection marked as essential: 127.0.0.1:42061", true},
		{"XX000", "connection to the remote node postgres@127.0.0.1:9702 failed with the following error: Connection refused", true},
		{"XX000", "could not establish any connections to the node 127.0.0.1:9702 after 5000 ms", true},
		{"XX000", "connection not open", true},
		{"XX000", "cache lookup failed for relation 16384", false},
		{"23505", "failure on connection marked as essential", false},
		{"08006", "connection to the remote node postgres@127.0.0.1:9702 failed", true},
	} {
		err := fmt.Errorf("writing samples: %w", &pgconn.PgError{Code: c.code, Message: c.message})
		if got := l.retryable(err); got != c.want {
			t.Errorf("%s %q: retryable %v, want %v", c.code, c.message, got, c.want)
		}
	}
}
