package load

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/db/dbtest"
)

// checkCounts compares a database with what the stream's own data says it
// must hold.
func checkCounts(t *testing.T, url string, want expected) {
	t.Helper()
	pathsQuery := "SELECT coalesce(sum(json_array_length(paths)), 0) FROM samples_sources"
	if strings.HasPrefix(url, "postgres") {
		pathsQuery = "SELECT coalesce(sum(cardinality(paths)), 0) FROM samples_sources"
	}
	got := expected{
		sources: dbtest.Count(t, url, "SELECT count(*) FROM sources"),
		samples: dbtest.Count(t, url, "SELECT count(*) FROM samples"),
		links:   dbtest.Count(t, url, "SELECT count(*) FROM samples_sources"),
		paths:   dbtest.Count(t, url, pathsQuery),
		done:    dbtest.Count(t, url, "SELECT count(*) FROM jobs WHERE status = 'done'"),
		partial: dbtest.Count(t, url, "SELECT count(*) FROM jobs WHERE status = 'partial'"),
		failed:  dbtest.Count(t, url, "SELECT count(*) FROM jobs WHERE status = 'failed'"),
	}
	if got != want {
		t.Fatalf("database holds %+v, the stream says %+v", got, want)
	}
}

func TestLoadRoundTripAndIdempotency(t *testing.T) {
	sources := makeSources(1, 40, 30)
	input := ndjson(t, sources)
	want := expect(sources)
	_, bs := backends(t)
	for _, b := range bs {
		t.Run(b.name, func(t *testing.T) {
			status, stdout, stderr := runLoad(t, input, "--db", b.url, "--batch", "100")
			if status != 0 {
				t.Fatalf("exit %d\n%s", status, stderr)
			}
			checkCounts(t, b.url, want)
			if !strings.Contains(stderr, "loaded 40 sources (34 done, 6 partial, 0 failed)") {
				t.Errorf("summary: %s", stderr)
			}
			// Stdout carries the error records that came in, unchanged.
			var errs int
			for line := range strings.Lines(stdout) {
				if !bytes.Contains(input, []byte(strings.TrimSpace(line))) || !strings.Contains(line, `"type":"error"`) {
					t.Fatalf("unexpected stdout line %s", line)
				}
				errs++
			}
			if errs != 6 {
				t.Fatalf("%d error records on stdout, want 6", errs)
			}
			var jobErr string
			if err := dbtest.Open(t, b.url).QueryRow("SELECT error FROM jobs WHERE status = 'partial' AND id = $1", sources[3].id).Scan(&jobErr); err != nil {
				t.Fatal(err)
			}
			if jobErr != "1 of its members failed their own checks; its other samples are trusted\nextract: x: member 3 is truncated" {
				t.Fatalf("job error %q", jobErr)
			}

			first := dbtest.Dump(t, b.url)
			status, _, stderr = runLoad(t, input, "--db", b.url)
			if status != 0 {
				t.Fatalf("second load: exit %d\n%s", status, stderr)
			}
			if !strings.Contains(stderr, ", 0 new samples") {
				t.Errorf("second load summary: %s", stderr)
			}
			if d := dbtest.Diff(first, dbtest.Dump(t, b.url)); d != "" {
				t.Fatalf("loading the stream twice changed the database:\n%s", d)
			}
		})
	}
}

// A stream cut before a source's end record commits nothing of that
// source, and says so.
func TestCutStreamLeavesNothingOfTheOpenSource(t *testing.T) {
	sources := makeSources(2, 10, 20)
	input := ndjson(t, sources)
	lastStart := bytes.LastIndex(input, []byte(`{"type":"source"`))
	cut := input[:lastStart+(len(input)-lastStart)/2]
	cut = cut[:bytes.LastIndexByte(cut, '\n')+1]
	_, bs := backends(t)
	for _, b := range bs {
		t.Run(b.name, func(t *testing.T) {
			status, stdout, stderr := runLoad(t, cut, "--db", b.url, "--batch", "1")
			if status != 3 {
				t.Fatalf("exit %d, want 3\n%s", status, stderr)
			}
			if !strings.Contains(stderr, sources[9].id+": the input ended before its end record: nothing of it was loaded") {
				t.Errorf("stderr: %s", stderr)
			}
			if !strings.Contains(stdout, `"stage":"load"`) {
				t.Errorf("no error record on stdout: %s", stdout)
			}
			checkCounts(t, b.url, expect(sources[:9]))
		})
	}
}

// checkBrokenStream loads input into a new database: the exit status
// and a message saying msg, and then the counts want.
func checkBrokenStream(t *testing.T, input, msg string, wantStatus int, want expected) {
	t.Helper()
	url := sqliteURL(t)
	status, _, stderr := runLoad(t, []byte(input), "--db", url)
	if status != wantStatus || !strings.Contains(stderr, msg) {
		t.Fatalf("exit %d, want %d; stderr should say %q:\n%s", status, wantStatus, msg, stderr)
	}
	checkCounts(t, url, want)
}

// withoutFileSHA256 is the stream full with the sha256 dropped from the
// file records of the source whose sha256 is source.
func withoutFileSHA256(full []byte, source string) string {
	var noHash []string
	for _, l := range strings.SplitAfter(string(full), "\n") {
		if strings.Contains(l, `"type":"file"`) && strings.Contains(l, source) {
			var f map[string]any
			json.Unmarshal([]byte(l), &f)
			delete(f, "sha256")
			b, _ := json.Marshal(f)
			l = string(b) + "\n"
		}
		noHash = append(noHash, l)
	}
	return strings.Join(noHash, "")
}

// Records that break the order of the contract are reported, and the
// sources they concern are not loaded in part.
func TestBrokenStreams(t *testing.T) {
	sources := makeSources(3, 3, 4)
	full := ndjson(t, sources)
	noHash := withoutFileSHA256(full, sources[0].sha256)
	for _, tc := range []struct {
		name, input, stderr string
		status              int
		want                expected
	}{
		{
			name:   "file outside a source",
			input:  `{"type":"file","path":"a","sha256":"` + strings.Repeat("a", 64) + `"}` + "\n" + string(full),
			stderr: "outside a source", status: 3, want: expect(sources),
		},
		{
			name:   "files without sha256",
			input:  noHash,
			stderr: "have no sha256", status: 3,
			want: func() expected {
				e := expect(sources[1:])
				e.sources++
				e.partial++ // the files without sha256 are not loaded, the others are
				return e
			}(),
		},
		{
			name:   "source without sha256",
			input:  strings.Replace(string(full), `,"sha256":"`+sources[1].sha256+`"}`, `}`, 1),
			stderr: "source record has no sha256", status: 3,
			want: func() expected {
				e := expect(append([]testSource{sources[0]}, sources[2]))
				e.failed++ // its job is recorded, failed
				return e
			}(),
		},
		{
			name:   "end of another source",
			input:  strings.Replace(string(full), `{"type":"end","source":"`+sources[1].sha256, `{"type":"end","source":"`+sources[2].sha256, 1),
			stderr: "the end record of another source", status: 3,
			want: expect(append([]testSource{sources[0]}, sources[2])),
		},
		{
			name:   "unreadable end record",
			input:  strings.Replace(string(full), `{"type":"end","source":"`+sources[1].sha256+`","files":`, `{"type":"end","source":"`+sources[1].sha256+`","files":"x","was":`, 1),
			stderr: "its end record is unreadable", status: 3,
			want: expect(append([]testSource{sources[0]}, sources[2])),
		},
		{
			name:   "not json",
			input:  "garbage\n" + string(full) + `{"type":"custom","x":1}` + "\n",
			stderr: "not a JSON object", status: 3, want: expect(sources),
		},
	} {
		t.Run(tc.name, func(t *testing.T) { checkBrokenStream(t, tc.input, tc.stderr, tc.status, tc.want) })
	}
}

func TestUnknownRecordsPassThrough(t *testing.T) {
	in := `{"type":"custom","b":2,"a":[1, 2]}` + "\n"
	status, stdout, stderr := runLoad(t, []byte(in), "--db", sqliteURL(t), "--quiet")
	if status != 0 || stdout != in || stderr != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", status, stdout, stderr)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--db", "mysql://x/y"},
		{"--schema", "other"},
		{"--schema", "hashr", "--db", "sqlite:x.db"},
		{"--batch", "0"},
		{"--payload-max", "-1"},
	} {
		status, _, stderr := runLoad(t, nil, args...)
		if status != 2 || !strings.Contains(stderr, "hashr-load: error: ") {
			t.Errorf("%v: exit %d, stderr %s", args, status, stderr)
		}
	}
	t.Setenv("HASHR_DB", "nonsense")
	if status, _, stderr := runLoad(t, nil); status != 2 || !strings.Contains(stderr, "--db") {
		t.Errorf("HASHR_DB=nonsense: exit %d, stderr %s", status, stderr)
	}
}
