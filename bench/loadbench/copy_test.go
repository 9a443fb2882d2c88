package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/db/pgtest"
)

// LOADBENCH_LOG keeps the bench's own server's log, never another's that
// happens to sit beside it in the temporary directory (a concurrent test's
// server: once the last of them was the one kept).
func TestLogStatementsKeepsItsOwnServersLog(t *testing.T) {
	pg := pgtest.Start(t)
	// Another server's log, named after pgtest's, sorting after any of them.
	other := filepath.Join(os.TempDir(), "hashr-pgtest-~other-"+strconv.Itoa(os.Getpid()))
	if err := os.MkdirAll(other, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(other) })
	if err := os.WriteFile(filepath.Join(other, "server.log"), []byte("another server's log\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "statements.log")
	save, err := logStatements(pg, dst)
	if err != nil {
		t.Fatal(err)
	}
	if err := pg.Exec(context.Background(), "postgres", "SELECT 'logged by this server'"); err != nil {
		t.Fatal(err)
	}
	if err := save(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(got), "port "+strconv.Itoa(pg.Port)) || !strings.Contains(string(got), "logged by this server") {
		t.Errorf("LOADBENCH_LOG kept a log that is not the bench's server's:\n%s", got)
	}
}
