package scan

import (
	"bytes"
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashr-dev/hashr/internal/db"
	"github.com/hashr-dev/hashr/internal/db/pgtest"
	"github.com/hashr-dev/hashr/pkg/records"
)

// scanIDs runs hashr-scan and returns the IDs of the sources it emitted,
// and its stderr.
func scanIDs(t *testing.T, args ...string) (status int, ids []string, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	status = Main(args, nil, &out, &errOut)
	r := records.NewReader(&out, "stdout")
	for {
		raw, err := r.Next()
		if err != nil {
			break
		}
		if rec, err := raw.Decode(); err == nil {
			if s, ok := rec.(*records.Source); ok {
				ids = append(ids, s.ID)
			}
		}
	}
	return status, ids, errOut.String()
}

// jobsRepo makes a repository of two packages and records a job for each
// in a database: the deb's done, the rpm's failed.
func jobsRepo(t *testing.T, dbURL string, schema string) (repo string, debQuick string) {
	t.Helper()
	repo = t.TempDir()
	for _, name := range []string{"hello_1.0-1_all.deb", "hello-hashr-1.0-1.noarch.rpm"} {
		data, err := os.ReadFile(filepath.Join(formatsDir(), name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(repo, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	if status := Main([]string{"--quiet", repo}, nil, &out, os.Stderr); status != 0 {
		t.Fatalf("scan: exit %d", status)
	}
	loc, err := db.ParseLocation(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	loader, err := db.Open(context.Background(), loc, db.Options{Schema: schema, RetryFor: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer loader.Close()
	var batch []*db.Source
	r := records.NewReader(&out, "scan")
	for {
		raw, err := r.Next()
		if err != nil {
			break
		}
		if raw.Type != records.TypeSource {
			continue // the plan record
		}
		rec, _ := raw.Decode()
		s := rec.(*records.Source)
		quick, _ := hex.DecodeString(s.QuickSHA256)
		job := db.Job{Status: db.StatusDone}
		if s.Format == "rpm" {
			job = db.Job{Status: db.StatusFailed, Error: "extract: truncated", Errors: 1}
		} else {
			debQuick = s.QuickSHA256
		}
		batch = append(batch, &db.Source{QuickSHA256: quick, ID: s.ID, Job: job})
	}
	if _, err := loader.Load(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	return repo, debQuick
}

// --db skips the sources whose job is done, retries the failed ones, and
// --reprocess brings a done one back.
func TestDBSkipsDoneJobs(t *testing.T) {
	pg := pgtest.Start(t)
	for _, b := range []struct{ name, url, schema string }{
		{"sqlite", "sqlite:" + filepath.Join(t.TempDir(), "hashr.db"), db.SchemaNative},
		{"postgres", pg.NewDatabase(t), db.SchemaNative},
		{"hashr", pg.NewDatabase(t), db.SchemaHashR},
	} {
		t.Run(b.name, func(t *testing.T) {
			repo, debQuick := jobsRepo(t, b.url, b.schema)
			status, ids, stderr := scanIDs(t, "--db", b.url, "--verbose", repo)
			if status != 0 || strings.Join(ids, ",") != "hello-hashr-1.0-1.noarch.rpm" {
				t.Fatalf("exit %d, sources %v; want only the rpm (its job failed)\n%s", status, ids, stderr)
			}
			if !strings.Contains(stderr, "its job is done in") || !strings.Contains(stderr, "1 skipped (job done in --db)") {
				t.Errorf("stderr does not say why the deb was skipped:\n%s", stderr)
			}
			status, ids, stderr = scanIDs(t, "--db", b.url, "--reprocess", strings.ToUpper(debQuick), repo)
			if status != 0 || len(ids) != 2 {
				t.Fatalf("--reprocess: exit %d, sources %v; want both\n%s", status, ids, stderr)
			}
		})
	}
}

func TestDBFlagErrors(t *testing.T) {
	repo := t.TempDir()
	for _, tc := range []struct {
		args   []string
		status int
		stderr string
	}{
		{[]string{"--reprocess", strings.Repeat("a", 64), repo}, 2, "--reprocess needs --db"},
		{[]string{"--db", "sqlite:x.db", "--reprocess", "abc", repo}, 2, "--reprocess: want quick_sha256 values"},
		{[]string{"--db", "mysql://h/d", repo}, 2, "--db: database"},
		{[]string{"--db", "postgres://nobody@127.0.0.1:1/none?connect_timeout=2", repo}, 1, "reading the jobs of postgres://"},
	} {
		status, _, stderr := scanIDs(t, tc.args...)
		if status != tc.status || !strings.Contains(stderr, tc.stderr) {
			t.Errorf("%v: exit %d, want %d; stderr should say %q:\n%s", tc.args, status, tc.status, tc.stderr, stderr)
		}
	}
	// A database that does not exist yet has no done jobs, and is not created.
	missing := filepath.Join(t.TempDir(), "new.db")
	if status, _, stderr := scanIDs(t, "--db", "sqlite:"+missing, repo); status != 0 {
		t.Fatalf("exit %d\n%s", status, stderr)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Fatalf("scan --db created %s", missing)
	}
}
