package db

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/hashr-dev/hashr/internal/db/pgtest"
)

// Exporting a set must not need the server to sort it on disk. At 30M
// samples, hashr-export's one statement over every link was planned as a
// sort of all 42M joined rows, which filled the disk with temporary files
// ("could not write to file base/pgsql_tmp…: No space left on device")
// and failed. Here a server whose every temporary file may hold at most
// 64 kB, and whose sorts get 64 kB of memory, exports a set of a few
// thousand links: all of it, in SHA-256 order, as SQLite does.
func TestSamplesNeedNoTemporaryFiles(t *testing.T) {
	pg := pgtest.StartWith(t, "work_mem=64kB", "temp_file_limit=64kB")
	urls := map[string]string{"sqlite": "sqlite:" + t.TempDir() + "/hashr.db", "postgres": pg.NewDatabase(t)}
	var sources []*Source
	for i := range 40 {
		var files []File
		for j := range 80 {
			// Half of each source's files are in the next source too.
			files = append(files, content(fmt.Sprintf("usr/share/s%d/f%d", i, j), fmt.Sprintf("content %d", i*40+j)))
		}
		sources = append(sources, source(t, fmt.Sprintf("s%d.deb", i), files...))
	}
	got := map[string][]string{}
	for name, url := range urls {
		load(t, open(t, url, Options{}), sources...)
		if name == "postgres" {
			analyze(t, url) // as autovacuum does a loaded set
		}
		r := openReader(t, url)
		r.samplesPage = 50 // many pages, samples' links split across two
		err := r.Samples(context.Background(), Filter{}, true, func(s *SampleLinks) error {
			var links []string
			for _, l := range s.Links {
				links = append(links, fmt.Sprintf("%x:%d:%s", l.Source[:4], l.Code, strings.Join(l.Paths, ",")))
			}
			got[name] = append(got[name], fmt.Sprintf("%x %s", s.SHA256, strings.Join(links, " ")))
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if len(got["sqlite"]) != 1640 || !slices.IsSorted(got["sqlite"]) {
		t.Fatalf("sqlite exported %d samples (sorted: %v), want 1640 in order", len(got["sqlite"]), slices.IsSorted(got["sqlite"]))
	}
	if !slices.Equal(got["postgres"], got["sqlite"]) {
		t.Fatalf("postgres exported %d samples, not those of sqlite (%d)", len(got["postgres"]), len(got["sqlite"]))
	}
}

// analyze gathers the planner's statistics of the database at url.
func analyze(t *testing.T, url string) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), "ANALYZE"); err != nil {
		t.Fatal(err)
	}
}
