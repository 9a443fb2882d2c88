package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

// program builds a tiny command the way stages do, recording what it saw.
func program(t *testing.T, run func(ctx context.Context, p *Program, n int) error) (*Program, func(args ...string) (int, string)) {
	t.Helper()
	var stderr bytes.Buffer
	p := New("hashr-test", strings.NewReader(""), &bytes.Buffer{}, &stderr)
	exec := func(args ...string) (int, string) {
		stderr.Reset()
		var n int
		cmd := p.Command("hashr-test [--count N]", "a test command", "Long help.", "  hashr-test --count 3",
			func(ctx context.Context, _ []string) error { return run(ctx, p, n) })
		cmd.Flags().IntVar(&n, "count", 1, "how many")
		return p.Execute(cmd, args), stderr.String()
	}
	return p, exec
}

func TestExitStatuses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		run    func(ctx context.Context, p *Program, n int) error
		status int
		stderr string
	}{
		{"ok", nil, func(context.Context, *Program, int) error { return nil }, 0, ""},
		{"fatal", nil, func(context.Context, *Program, int) error { return errors.New("opening store: locked") }, 1,
			"hashr-test: error: opening store: locked\n"},
		{"usage from run", nil, func(context.Context, *Program, int) error { return Usagef("--count must be positive") }, 2,
			"hashr-test: error: --count must be positive\nhashr-test: hint: run 'hashr-test --help' for usage\n"},
		{"unknown flag", []string{"--nope"}, func(context.Context, *Program, int) error { return nil }, 2,
			"hashr-test: error: unknown flag: --nope\nhashr-test: hint: run 'hashr-test --help' for usage\n"},
		{"bad flag value", []string{"--count", "x"}, func(context.Context, *Program, int) error { return nil }, 2, "invalid argument"},
		{"partial", nil, func(_ context.Context, p *Program, _ int) error { p.Failf("reading %q: gone", "a"); return nil }, 3,
			"hashr-test: error: reading \"a\": gone\n"},
		{"fatal beats partial", nil, func(_ context.Context, p *Program, _ int) error {
			p.Failf("one")
			return errors.New("two")
		}, 1, "error: two"},
		{"panic", nil, func(context.Context, *Program, int) error { panic("boom") }, 1, "internal error: boom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, exec := program(t, tc.run)
			status, stderr := exec(tc.args...)
			if status != tc.status || !strings.Contains(stderr, tc.stderr) {
				t.Fatalf("status %d, stderr %q; want %d and %q", status, stderr, tc.status, tc.stderr)
			}
		})
	}
}

func TestEnvironmentDefaults(t *testing.T) {
	var got int
	_, exec := program(t, func(_ context.Context, _ *Program, n int) error { got = n; return nil })

	t.Setenv("HASHR_COUNT", "7")
	if status, _ := exec(); status != 0 || got != 7 {
		t.Fatalf("with HASHR_COUNT=7: status %d, count %d", status, got)
	}
	if status, _ := exec("--count", "9"); status != 0 || got != 9 {
		t.Fatalf("the command line must win over the environment: status %d, count %d", status, got)
	}
	t.Setenv("HASHR_COUNT", "many")
	status, stderr := exec()
	if status != 2 || !strings.Contains(stderr, `HASHR_COUNT="many"`) {
		t.Fatalf("bad HASHR_COUNT: status %d, stderr %q", status, stderr)
	}
}

func TestHelpNamesEnvironmentVariables(t *testing.T) {
	var stderr bytes.Buffer
	p := New("hashr-test", strings.NewReader(""), &bytes.Buffer{}, &stderr)
	var n int
	cmd := p.Command("hashr-test", "s", "Long.", "  hashr-test", func(context.Context, []string) error { return nil })
	cmd.Flags().IntVar(&n, "max-depth", 0, "how deep")
	if status := p.Execute(cmd, []string{"--help"}); status != 0 {
		t.Fatalf("--help: status %d", status)
	}
	for _, want := range []string{"[$HASHR_MAX_DEPTH]", "[$HASHR_QUIET]", "[$HASHR_VERBOSE]", "Exit status: 0 all done", "hashr-test"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("--help does not mention %q:\n%s", want, stderr.String())
		}
	}
}

func TestCleanupsRunOnEveryExit(t *testing.T) {
	for _, fail := range []bool{false, true} {
		ran := 0
		_, exec := program(t, func(_ context.Context, p *Program, _ int) error {
			p.OnExit(func() { ran++ })
			if fail {
				panic("crash")
			}
			return nil
		})
		exec()
		if ran != 1 {
			t.Fatalf("fail=%v: clean-up ran %d times", fail, ran)
		}
	}
}

func TestQuietAndVerbose(t *testing.T) {
	_, exec := program(t, func(_ context.Context, p *Program, _ int) error {
		p.Infof("info")
		p.Verbosef("detail")
		p.Warnf("careful")
		p.Errorf("bad")
		return nil
	})
	if _, stderr := exec("--quiet"); stderr != "hashr-test: error: bad\n" {
		t.Fatalf("--quiet: %q", stderr)
	}
	if _, stderr := exec("--verbose"); !strings.Contains(stderr, "detail") || !strings.Contains(stderr, "info") {
		t.Fatalf("--verbose: %q", stderr)
	}
	if _, stderr := exec(); strings.Contains(stderr, "detail") {
		t.Fatalf("default shows verbose lines: %q", stderr)
	}
}

func TestRecordsReportsBadLinesAndMissingFiles(t *testing.T) {
	var stderr bytes.Buffer
	p := New("hashr-test", strings.NewReader("{\"type\":\"a\"}\nbad\n{\"type\":\"b\"}\n"), &bytes.Buffer{}, &stderr)
	var types []string
	for raw, err := range p.Records(context.Background(), []string{"-", "/nonexistent/in.ndjson"}) {
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, raw.Type)
		if raw.Type == "error" && !strings.Contains(string(raw.Line), `"message":"stdin:2: not a JSON object`) {
			t.Errorf("the bad line's error record: %s", raw.Line)
		}
	}
	if strings.Join(types, ",") != "a,error,b" {
		t.Fatalf("records %v", types)
	}
	for _, want := range []string{"hashr-test: error: stdin:2: not a JSON object", `opening input "/nonexistent/in.ndjson": no such file or directory`} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	if p.Failures() != 2 {
		t.Fatalf("failures = %d, want 2", p.Failures())
	}
}

func TestRecordsStopsWhenCancelled(t *testing.T) {
	blocked, _ := io.Pipe() // a stdin nobody writes
	p := New("hashr-test", blocked, &bytes.Buffer{}, &bytes.Buffer{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, err := range p.Records(ctx, nil) {
		if !errors.Is(err, ErrInterrupted) {
			t.Fatalf("got %v, want ErrInterrupted", err)
		}
		return
	}
	t.Fatal("sequence ended without ErrInterrupted")
}

// --max-line (and HASHR_MAX_LINE) caps the lines Records reads: a longer
// one is an error record naming its line, and the next lines still come.
func TestRecordsMaxLine(t *testing.T) {
	long := `{"type":"file","path":"` + strings.Repeat("x", 3000) + `"}`
	for _, tc := range []struct {
		name string
		args []string
		env  string
	}{{"flag", []string{"--max-line", "2KiB"}, ""}, {"environment", nil, "2K"}} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("HASHR_MAX_LINE", tc.env)
			}
			var stdout, stderr bytes.Buffer
			p := New("hashr-test", strings.NewReader("{\"type\":\"a\"}\n"+long+"\n{\"type\":\"b\"}\n"), &stdout, &stderr)
			cmd := p.Command("hashr-test", "a test command", "Long help.", "", func(ctx context.Context, _ []string) error {
				for raw, err := range p.Records(ctx, nil) {
					if err != nil {
						return err
					}
					fmt.Fprintf(&stdout, "%s\n", raw.Line)
				}
				return nil
			})
			p.AddInputFlags(cmd)
			status := p.Execute(cmd, tc.args)
			want := `{"type":"a"}
{"type":"error","stage":"test","message":"stdin:2: line longer than the limit of 2 KiB: skipped (the limit is set with --max-line)"}
{"type":"b"}
`
			if status != ExitPartial || stdout.String() != want {
				t.Errorf("status %d, stdout:\n%s\nwant 3 and:\n%s\nstderr: %s", status, stdout.String(), want, stderr.String())
			}
		})
	}
}
