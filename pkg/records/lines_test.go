package records

import (
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
)

// repeatReader gives n bytes of b without holding them: a 40 MiB line
// costs the test no memory, so the reader's own use can be measured.
type repeatReader struct {
	b byte
	n int64
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), r.n)]
	for i := range p {
		p[i] = r.b
	}
	r.n -= int64(len(p))
	return len(p), nil
}

// A line over the limit is an error naming its line number, reading goes
// on with the next line, and the memory used stays near the limit however
// long the line is (before, every byte of it was kept).
func TestReaderSkipsOverLongLineInBoundedMemory(t *testing.T) {
	const limit = 1 << 20
	in := io.MultiReader(
		strings.NewReader(`{"type":"file","path":"a"}`+"\n"),
		&repeatReader{'x', 40 << 20},
		strings.NewReader("\n"+`{"type":"file","path":"b"}`+"\n"),
	)
	r := NewReader(in, "stdin")
	r.SetMaxLine(limit)

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var got []string
	for {
		raw, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var lineErr *LineError
		var tooLong *TooLongError
		switch {
		case errors.As(err, &lineErr) && errors.As(err, &tooLong):
			got = append(got, "error "+lineErr.Where)
		case err != nil:
			t.Fatalf("Next: %v", err)
		default:
			got = append(got, raw.Where+" "+string(raw.Line))
		}
	}
	runtime.ReadMemStats(&after)

	want := []string{`stdin:1 {"type":"file","path":"a"}`, "error stdin:2", `stdin:3 {"type":"file","path":"b"}`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("read\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > limit+8<<20 {
		t.Errorf("reading a 40 MiB line with a 1 MiB limit allocated %d MiB", alloc>>20)
	}
}

func TestLineReaderEdges(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		max      int
		want     []string // "!" for a line over the limit
		cut      bool     // the last line has no newline
	}{
		{"empty", "", 4, nil, false},
		{"crlf", "ab\r\ncd\n", 4, []string{"ab", "cd"}, false},
		{"unterminated", "ab\ncd", 4, []string{"ab", "cd"}, true},
		{"exactly the limit", "abcd\n", 4, []string{"abcd"}, false},
		{"one over", "abcde\nf\n", 4, []string{"!", "f"}, false},
		{"one over at the end", "a\nabcde", 4, []string{"a", "!"}, true},
		{"blank lines count", "\n\na\n", 4, []string{"", "", "a"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := NewLineReader(strings.NewReader(tc.in), tc.max)
			var got []string
			for {
				line, err := l.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				var tooLong *TooLongError
				if errors.As(err, &tooLong) {
					if tooLong.Line != int64(len(got)+1) {
						t.Errorf("too long line numbered %d, want %d", tooLong.Line, len(got)+1)
					}
					got = append(got, "!")
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, string(line))
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") || l.Unterminated() != tc.cut {
				t.Errorf("got %q (unterminated %v), want %q (%v)", got, l.Unterminated(), tc.want, tc.cut)
			}
		})
	}
}

func TestReaderRejectsInvalidUTF8AndIgnoresBOM(t *testing.T) {
	r := NewReader(strings.NewReader("\xef\xbb\xbf{\"type\":\"a\"}\n{\"type\":\"b\",\"x\":\"\xff\"}\n{\"type\":\"c\"}\n"), "in")
	raw, err := r.Next()
	if err != nil || raw.Type != "a" {
		t.Fatalf("first line after a BOM: %v, %v", raw, err)
	}
	_, err = r.Next()
	var lineErr *LineError
	if !errors.As(err, &lineErr) || lineErr.Where != "in:2" || !strings.Contains(err.Error(), "not UTF-8: byte 17") {
		t.Fatalf("invalid UTF-8: got %v", err)
	}
	if raw, err = r.Next(); err != nil || raw.Type != "c" {
		t.Fatalf("after the bad line: %v, %v", raw, err)
	}
}
