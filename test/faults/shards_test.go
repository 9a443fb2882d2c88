package faults

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/testcorpus"
)

// examples/Makefile deals the source records into shards by size, largest
// first, to the shard with the fewest bytes so far: every record lands in
// exactly one shard (other records in shard 0), the shards' bytes are as
// even as that greedy deal makes them, and each shard starts with its
// largest source.
func TestMakefileDealsShardsBySize(t *testing.T) {
	testcorpus.NeedTools(t, "make", "awk", "sort")
	_, here, _, _ := runtime.Caller(0)
	makefile := filepath.Join(filepath.Dir(here), "..", "..", "examples", "Makefile")
	work := t.TempDir()
	lines := writeSourcesToDeal(t, filepath.Join(work, "sources.ndjson"))
	const shards = 3
	var targets []string
	for i := range shards {
		targets = append(targets, filepath.Join(work, fmt.Sprintf("shard-%d.ndjson", i)))
	}
	cmd := exec.Command("make", append([]string{"-s", "-f", makefile, "SHARDS=3", "REPO=/repo", "WORK=" + work}, targets...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make: %v\n%s", err, out)
	}

	var all []string
	bytes := make([]int64, shards)
	for i, target := range targets {
		var held []string
		held, bytes[i] = readShard(t, i, target)
		all = append(all, held...)
	}
	slices.Sort(all)
	want := slices.Clone(lines)
	slices.Sort(want)
	if !slices.Equal(all, want) {
		t.Fatalf("the shards do not hold each record exactly once:\ngot  %q\nwant %q", all, want)
	}
	// The greedy deal gives the two big sources a shard each and the
	// rest to the third, whose bytes stay below either big one.
	want3 := []int64{80 << 20, 65 << 20, 700 + 3 + 90 + 0 + 4096 + 12 + 90 + 1<<20 + 555}
	if !slices.Equal(bytes, want3) {
		t.Errorf("bytes per shard %v, want %v", bytes, want3)
	}
}

// writeSourcesToDeal writes the records the Makefile deals to name, and
// returns their lines: sizes in no order, two of them far above the rest
// (as chromium and thunderbird among Debian packages), one record without
// a size, strings holding tabs and a "size" key, and one error record.
func writeSourcesToDeal(t *testing.T, name string) []string {
	t.Helper()
	sizes := []int64{700, 80 << 20, 3, 90, 0, 65 << 20, 4096, 12, 90, 1 << 20, 555}
	var lines []string
	for i, size := range sizes {
		rec := map[string]any{"type": "source", "id": fmt.Sprintf("p%d", i), "uri": fmt.Sprintf("/repo/p%d.deb", i),
			"format": "deb", "description": "tab\there \"size\":999999999999", "size": size}
		if i == 4 {
			delete(rec, "size")
		}
		b, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, string(b))
	}
	lines = append(lines, `{"type":"error","uri":"/repo/unreadable","error":"permission denied"}`)
	if err := os.WriteFile(name, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return lines
}

// readShard reads shard i's file and returns its lines and its sources'
// bytes together. Only shard 0 may hold records other than sources, and a
// shard's sources come largest first.
func readShard(t *testing.T, i int, name string) (lines []string, bytes int64) {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var first int64 = -1
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		var rec struct {
			Type string `json:"type"`
			Size int64  `json:"size"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("shard %d: %v: %s", i, err, sc.Text())
		}
		if rec.Type != "source" {
			if i != 0 {
				t.Errorf("shard %d holds a %s record; only shard 0 should", i, rec.Type)
			}
			continue
		}
		if first < 0 {
			first = rec.Size
		} else if rec.Size > first {
			t.Errorf("shard %d: a source of %d bytes after its first of %d: not largest first", i, rec.Size, first)
		}
		bytes += rec.Size
	}
	return lines, bytes
}
