package lookup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/db"
)

// knownSet writes a SQLite hash set holding n samples, "sample i", in one
// source, and returns its URL and the samples' sha256 in hex.
func knownSet(t *testing.T, n int) (url string, known []string) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "set.db")
	loc, err := db.ParseLocation("sqlite:" + path)
	if err != nil {
		t.Fatal(err)
	}
	l, err := db.Open(ctx, loc, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	rows := db.NewFileRows(n, func() (string, error) { return t.TempDir(), nil })
	defer rows.Close()
	for i := range n {
		data := fmt.Sprintf("sample %d", i)
		sum := sha256.Sum256([]byte(data))
		known = append(known, hex.EncodeToString(sum[:]))
		if err := rows.Add(db.File{SHA256: sum[:], Size: int64(len(data)), Path: fmt.Sprintf("f/%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	src := sha256.Sum256([]byte("source"))
	s := &db.Source{SHA256: src[:], ID: "set.tar", Repo: "test", Format: "tar", Files: rows,
		Job: db.Job{Status: db.StatusDone, FilesExtracted: int64(n), FilesLoaded: int64(n)}}
	if _, err := l.Load(ctx, []*db.Source{s}); err != nil {
		t.Fatal(err)
	}
	return "sqlite:" + path, known
}

// Batches that SQLite answers on several connections at once are written
// in input order, each line with its own answer: a known key (with its
// path) or an unknown one, in batches of 3.
func TestSQLiteBatchesAnsweredAtOnceKeepInputOrder(t *testing.T) {
	url, known := knownSet(t, 300)
	var in strings.Builder
	var want []string // sha256, then "known" or "unknown"
	for i, k := range known {
		unknown := sha256.Sum256([]byte(fmt.Sprintf("not loaded %d", i)))
		fmt.Fprintf(&in, "%s\n%x\n", k, unknown)
		want = append(want, k+" known f/"+fmt.Sprint(i), hex.EncodeToString(unknown[:])+" unknown")
	}
	var stdout, stderr bytes.Buffer
	if code := Main([]string{"--quiet", "--db", url, "--batch", "3"}, strings.NewReader(in.String()), &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d lines for %d keys", len(lines), len(want))
	}
	for i, line := range lines {
		var r struct {
			SHA256 string
			Known  bool
			Paths  []string
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		got := r.SHA256 + " unknown"
		if r.Known {
			got = r.SHA256 + " known " + strings.Join(r.Paths, " ")
		}
		if got != want[i] {
			t.Fatalf("line %d: %s, want %s", i+1, got, want[i])
		}
	}
}

// batches says that the queries ended once, before it sends the last
// batch (a SQLite lookup then takes more connections), or after the last
// when it was full.
func TestBatchesSayOnceThatTheQueriesEnded(t *testing.T) {
	for n, want := range map[int][]int{5: {0, 0, 1}, 4: {0, 0}, 0: nil} {
		queries := make(chan *query, n)
		for range n {
			queries <- &query{}
		}
		close(queries)
		ended := 0
		var endedBefore []int // ended's calls before each batch
		for range batches(queries, 2, func() { ended++ }) {
			endedBefore = append(endedBefore, ended)
		}
		if fmt.Sprint(endedBefore) != fmt.Sprint(want) || ended != 1 {
			t.Errorf("%d queries in batches of 2: ended called %d times, %v before each batch, want once, %v", n, ended, endedBefore, want)
		}
	}
}

// Over files, the database opens while they are hashed; one that does not
// open still ends the run with its error alone, nothing written.
func TestMissingDatabaseOverFilesEndsTheRun(t *testing.T) {
	tree := t.TempDir()
	for i := range 50 {
		if err := os.WriteFile(filepath.Join(tree, fmt.Sprintf("f%d", i)), []byte(fmt.Sprint(i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var stdout, stderr bytes.Buffer
	missing := "sqlite:" + filepath.Join(t.TempDir(), "missing.db")
	code := Main([]string{"--quiet", "--db", missing, "--batch", "3", tree}, strings.NewReader(""), &stdout, &stderr)
	if code != cli.ExitFatal || stdout.Len() > 0 || !strings.Contains(stderr.String(), "no such file (hashr-load creates it)") || strings.Count(stderr.String(), "\n") != 1 {
		t.Errorf("exit %d, stdout %q, stderr %q: want %d, nothing written, the database's error alone", code, stdout.String(), stderr.String(), cli.ExitFatal)
	}
}
