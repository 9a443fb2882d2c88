package db

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/hashr-dev/hashr/internal/db/citustest"
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
	want := exportedSamples(t, "sqlite:"+t.TempDir()+"/hashr.db", nil)
	if len(want) != 1640 || !slices.IsSorted(want) {
		t.Fatalf("sqlite exported %d samples (sorted: %v), want 1640 in order", len(want), slices.IsSorted(want))
	}
	got := exportedSamples(t, pg.NewDatabase(t), analyze)
	if !slices.Equal(got, want) {
		t.Fatalf("postgres exported %d samples, not those of sqlite (%d)", len(got), len(want))
	}
}

// The same on Citus, whose coordinator sorted all 42M rows of a 30M-sample
// set for the one statement, and failed as PostgreSQL did.
func TestSamplesOnCitusNeedNoTemporaryFiles(t *testing.T) {
	want := exportedSamples(t, "sqlite:"+t.TempDir()+"/hashr.db", nil)
	cluster := citustest.Start(t, 2)
	got := exportedSamples(t, cluster.NewDatabase(t), func(t *testing.T, url string) {
		// After the load: the coordinator's reads alone are limited.
		name := citustest.Query(t, url, "SELECT current_database()")[0]
		citustest.Query(t, url, "ALTER DATABASE "+name+" SET work_mem = '64kB'")
		citustest.Query(t, url, "ALTER DATABASE "+name+" SET temp_file_limit = '64kB'")
	})
	if !slices.Equal(got, want) {
		t.Fatalf("citus exported %d samples, not those of sqlite (%d)", len(got), len(want))
	}
}

// exportedSamples loads 40 sources of 80 files each, half of each
// source's files in the next source too, into the database at url, calls
// prepare (if any) on it, and reads its samples a few links a page.
func exportedSamples(t *testing.T, url string, prepare func(t *testing.T, url string)) []string {
	var sources []*Source
	for i := range 40 {
		var files []File
		for j := range 80 {
			files = append(files, content(fmt.Sprintf("usr/share/s%d/f%d", i, j), fmt.Sprintf("content %d", i*40+j)))
		}
		sources = append(sources, source(t, fmt.Sprintf("s%d.deb", i), files...))
	}
	load(t, open(t, url, Options{}), sources...)
	if prepare != nil {
		prepare(t, url)
	}
	r := openReader(t, url)
	r.samplesPage = 50 // many pages, samples' links split across two
	var got []string
	err := r.Samples(context.Background(), Filter{}, true, func(s *SampleLinks) error {
		var links []string
		for _, l := range s.Links {
			links = append(links, fmt.Sprintf("%x:%d:%s", l.Source[:4], l.Code, strings.Join(l.Paths, ",")))
		}
		got = append(got, fmt.Sprintf("%x %s", s.SHA256, strings.Join(links, " ")))
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	return got
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
