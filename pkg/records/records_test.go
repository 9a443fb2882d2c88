package records

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// jsonValue decodes data into a generic value whose numbers keep their
// digits, so two encodings of one JSON value compare equal.
func jsonValue(t *testing.T, data []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decoding %s: %v", data, err)
	}
	return v
}

// randomJSON makes an arbitrary JSON value, nested up to depth.
func randomJSON(r *rand.Rand, depth int) any {
	kind := r.IntN(8)
	if depth <= 0 && kind >= 6 {
		kind = r.IntN(6)
	}
	switch kind {
	case 0:
		return nil
	case 1:
		return r.IntN(2) == 0
	case 2:
		return json.Number(fmt.Sprint(r.Int64() - r.Int64()))
	case 3:
		// Numbers a float64 would round or cannot hold must survive too.
		return json.Number([]string{"12345678901234567890123", "1e400", "-0.0000000001", "3.14159265358979323846264"}[r.IntN(4)])
	case 4, 5:
		return randomString(r)
	case 6:
		n := r.IntN(4)
		a := make([]any, n)
		for i := range a {
			a[i] = randomJSON(r, depth-1)
		}
		return a
	default:
		n := r.IntN(4)
		m := make(map[string]any, n)
		for range n {
			m[randomString(r)] = randomJSON(r, depth-1)
		}
		return m
	}
}

func randomString(r *rand.Rand) string {
	pieces := []string{"a", "Z", "<", ">", "&", "\"", "\\", "\n", "\t", "\u2028", "é", "日本", "\x00", "😀", " ", "/", "!", "\u007f"}
	var b strings.Builder
	for range r.IntN(8) {
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	return b.String()
}

func randomName(r *rand.Rand) string {
	names := []string{"x_note", "case", "Path", "SHA256", "type2", "ticket", "Größe", "a<b", ""}
	return names[r.IntN(len(names))] + fmt.Sprint(r.IntN(3))
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSpace(buf.Bytes())
}

// Records of types no stage knows come out of a Reader and a Writer as the
// very bytes that went in.
func TestUnknownTypesPassThroughByteForByte(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		obj := map[string]any{"type": "custom-" + randomString(r)}
		for range r.IntN(6) {
			obj[randomName(r)] = randomJSON(r, 3)
		}
		line := mustJSON(t, obj)
		if i%3 == 0 {
			// Spacing inside the object is kept too.
			line = bytes.ReplaceAll(line, []byte(`":`), []byte(`" : `))
		}
		raw, err := NewReader(bytes.NewReader(append(line, '\n')), "stdin").Next()
		if err != nil {
			t.Fatalf("reading %s: %v", line, err)
		}
		var out bytes.Buffer
		w := NewWriter(&out)
		if err := w.WriteRaw(raw); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if want := append(line, '\n'); !bytes.Equal(out.Bytes(), want) {
			t.Fatalf("pass-through changed the record:\n in: %s\nout: %s", want, out.Bytes())
		}
	}
}

// randomRecord is a random object of type typ: some of its declared
// string fields, its typed fields, and unknown members.
func randomRecord(r *rand.Rand, typ string, declared []string) map[string]any {
	obj := map[string]any{"type": typ}
	for _, f := range declared {
		if r.IntN(2) == 0 {
			obj[f] = randomString(r) + "x" // non-empty: empty strings are omitted
		}
	}
	switch typ {
	case TypeSource:
		obj["size"] = json.Number(fmt.Sprint(r.Int64N(1 << 50)))
		if r.IntN(2) == 0 {
			obj["wim_image"] = json.Number(fmt.Sprint(r.IntN(5))) // 0 is a value: the ISO without its image
		}
		if r.IntN(2) == 0 {
			parts := make([]any, 1+r.IntN(3))
			for i := range parts {
				parts[i] = "/p/" + randomString(r)
			}
			obj["parts"] = parts
		}
	case TypeFile:
		obj["path"] = "p/" + randomString(r)
		obj["size"] = json.Number("0")
		obj["seen"] = r.IntN(2) == 0
	case TypeError:
		obj["stage"], obj["message"] = "hash", randomString(r)
	case TypeEnd:
		obj["source"] = randomString(r) + "s"
		obj["files"], obj["errors"], obj["bytes"] = json.Number("0"), json.Number("3"), json.Number("12345678901")
		obj["ms"] = map[string]any{"extract": json.Number("5"), randomString(r): json.Number("0")}
	}
	for range r.IntN(5) {
		name := randomName(r)
		if _, isDeclared := obj[name]; !isDeclared {
			obj[name] = randomJSON(r, 3)
		}
	}
	return obj
}

// A record a stage decodes and writes again keeps every field it had,
// declared or not, as the same JSON value.
func TestKnownTypesKeepEveryField(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	declared := map[string][]string{
		TypeSource: {"repo", "repo_path", "id", "uri", "format", "mtime", "quick_sha256", "description", "local", "sha256"},
		TypeFile:   {"source", "path", "path_raw", "mode", "mtime", "local", "fs", "md5", "sha1", "sha256", "sha512", "crc32", "blake3", "ssdeep", "tlsh", "mime"},
		TypeError:  {"stage", "source", "id", "uri", "path", "message"},
		TypeEnd:    {"source"},
	}
	for i := range 3000 {
		typ := []string{TypeSource, TypeFile, TypeError, TypeEnd}[i%4]
		obj := randomRecord(r, typ, declared[typ])
		line := mustJSON(t, obj)
		raw, err := NewReader(bytes.NewReader(line), "stdin").Next()
		if err != nil {
			t.Fatalf("reading %s: %v", line, err)
		}
		rec, err := raw.Decode()
		if err != nil {
			t.Fatalf("decoding %s: %v", line, err)
		}
		out, err := Marshal(rec)
		if err != nil {
			t.Fatalf("encoding %s: %v", line, err)
		}
		if got, want := jsonValue(t, out), jsonValue(t, line); !reflect.DeepEqual(got, want) {
			t.Fatalf("decode+encode changed the record:\n in: %s\nout: %s", line, out)
		}
		if !bytes.HasPrefix(out, []byte(`{"type":"`+typ+`"`)) {
			t.Fatalf("type is not the first field: %s", out)
		}
	}
}

// A field named like a declared one but in another case is an extra field,
// not the declared one (encoding/json alone would mix them up).
func TestFieldNamesMatchExactly(t *testing.T) {
	rec, err := Unmarshal([]byte(`{"type":"file","path":"a","Path":"b","SHA256":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	f := rec.(*File)
	if f.Path != "a" || f.SHA256 != "" {
		t.Fatalf("Path=%q SHA256=%q, want a and empty", f.Path, f.SHA256)
	}
	out, _ := Marshal(f)
	if want := `{"type":"file","path":"a","Path":"b","SHA256":"x"}`; string(out) != want {
		t.Fatalf("got %s, want %s", out, want)
	}
}

// MarshalAppend writes Marshal's bytes after what the buffer holds, and
// on an error gives the buffer back as it was.
func TestMarshalAppendAppendsOrLeavesTheBuffer(t *testing.T) {
	f := &File{Path: "a", Extra: Extra{"note": json.RawMessage(`"x"`)}}
	want, err := Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	buf := append(make([]byte, 0, 4), "abc"...)
	out, err := MarshalAppend(buf, f)
	if err != nil || string(out) != "abc"+string(want) {
		t.Fatalf("got %s, %v, want abc%s", out, err, want)
	}
	bad := &File{Path: "b", Extra: Extra{"note": json.RawMessage(`{`)}}
	out, err = MarshalAppend(out[:3], bad)
	if err == nil || string(out) != "abc" {
		t.Fatalf("a bad extra field: got %q, %v, want abc and an error", out, err)
	}
}

func TestMarshalDoesNotEscapeHTML(t *testing.T) {
	out, err := Marshal(&File{Path: "a<b>&c", Extra: Extra{"note": json.RawMessage(`"<&>"`)}})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"type":"file","path":"a<b>&c","note":"<&>"}`; string(out) != want {
		t.Fatalf("got %s, want %s", out, want)
	}
}

func TestZeroValuesThatMeanSomethingAreWritten(t *testing.T) {
	out, _ := Marshal(&File{Path: "e", Size: Int64(0), Seen: Bool(false)})
	if want := `{"type":"file","path":"e","size":0,"seen":false}`; string(out) != want {
		t.Fatalf("got %s, want %s", out, want)
	}
	out, _ = Marshal(&End{Source: "s"})
	if want := `{"type":"end","source":"s","files":0,"errors":0,"bytes":0}`; string(out) != want {
		t.Fatalf("got %s, want %s", out, want)
	}
}

func TestReaderReportsBadLinesAndGoesOn(t *testing.T) {
	input := strings.Join([]string{
		`{"type":"file","path":"a"}`,
		``,
		`not json`,
		`{"type":"file","path":"b"`,
		`[1,2]`,
		`{"path":"no type"}`,
		`{"type":7}`,
		`{"type":"file","path":"c"}`,
		`{"type":"end","source":"s","files":"many"}`,
	}, "\n") // no newline after the last line
	r := NewReader(strings.NewReader(input), "in.ndjson")
	var got []string
	for {
		raw, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var le *LineError
		if errors.As(err, &le) {
			got = append(got, "bad "+le.Where)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, derr := raw.Decode(); derr != nil {
			got = append(got, "undecodable "+raw.Where+": "+derr.Error())
			continue
		}
		got = append(got, raw.Where)
	}
	want := []string{
		"in.ndjson:1", "bad in.ndjson:3", "bad in.ndjson:4", "bad in.ndjson:5", "bad in.ndjson:6",
		"bad in.ndjson:7", "in.ndjson:8",
		`undecodable in.ndjson:9: in.ndjson:9: end record: field "files": want an integer, got JSON string`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestReaderHasNoLineLengthLimit(t *testing.T) {
	first := `{"type":"x","v":"` + strings.Repeat("é", 3<<20) + `"}` // 6 MiB in one line
	input := first + "\n" + `{"type":"y"}` + "\n"
	r := NewReader(strings.NewReader(input), "stdin")
	raw, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	if string(raw.Line) != first {
		t.Fatalf("line has %d bytes", len(raw.Line))
	}
	raw, err = r.Next()
	if err != nil || raw.Type != "y" || raw.Where != "stdin:2" {
		t.Fatalf("second record: %+v, %v", raw, err)
	}
}

// Writers shared by goroutines never interleave records, and every write
// to the stream carries whole records only.
func TestWriterWritesWholeRecords(t *testing.T) {
	var out recordingWriter
	w := NewWriter(&out)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				_ = w.Write(&File{Path: fmt.Sprintf("g%d/%d/%s", g, i, strings.Repeat("x", i%300))})
			}
		}()
	}
	wg.Wait()
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, chunk := range out.writes {
		if !bytes.HasSuffix(chunk, []byte("\n")) {
			t.Fatalf("a write ends inside a record: ...%q", chunk[max(0, len(chunk)-40):])
		}
		for line := range bytes.Lines(chunk) {
			if _, err := Unmarshal(line); err != nil {
				t.Fatalf("bad line %q: %v", line, err)
			}
			n++
		}
	}
	if n != 16000 {
		t.Fatalf("got %d records, want 16000", n)
	}
}

func TestWriterFlushesOnItsOwn(t *testing.T) {
	var out recordingWriter
	w := NewWriter(&out)
	_ = w.Write(&File{Path: "a"})
	deadline := time.Now().Add(5 * time.Second)
	for out.len() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("a buffered record never reached the stream")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type recordingWriter struct {
	mu     sync.Mutex
	writes [][]byte
}

func (w *recordingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes = append(w.writes, bytes.Clone(p))
	return len(p), nil
}

func (w *recordingWriter) len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.writes)
}

func TestCheckHex(t *testing.T) {
	for _, tc := range []struct {
		algo, s string
		ok      bool
	}{
		{"sha256", strings.Repeat("a", 64), true},
		{"sha256", strings.Repeat("A", 64), false},
		{"sha256", strings.Repeat("a", 63), false},
		{"md5", strings.Repeat("0", 32), true},
		{"md5", strings.Repeat("g", 32), false},
		{"sha1", "", false},
	} {
		if err := CheckHex(tc.algo, tc.s); (err == nil) != tc.ok {
			t.Errorf("CheckHex(%s, %q) = %v, want ok=%v", tc.algo, tc.s, err, tc.ok)
		}
	}
}

func TestSourceValidate(t *testing.T) {
	for _, tc := range []struct {
		line, err string
	}{
		{`{"type":"source","uri":"/x.wim","wim_image":2,"parts":["/x2.swm","/x3.swm"]}`, ""},
		{`{"type":"source","uri":"/x.iso","wim_image":0}`, ""},
		{`{"type":"source","uri":"/x.wim","wim_image":-1}`, "wim_image -1 is not an image index"},
		{`{"type":"source","uri":"/x.swm","parts":["/x2.swm",""]}`, "parts[1] is empty"},
	} {
		rec, err := Unmarshal([]byte(tc.line))
		if err != nil {
			t.Fatalf("%s: %v", tc.line, err)
		}
		err = rec.(*Source).Validate()
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: Validate() = %v, want %q", tc.line, err, tc.err)
		}
	}
	for line, want := range map[string]string{
		`{"type":"source","uri":"/x.wim","wim_image":"2"}`:   `field "wim_image": want an integer`,
		`{"type":"source","uri":"/x.swm","parts":"/x2.swm"}`: `field "parts": want an array of strings`,
	} {
		if _, err := Unmarshal([]byte(line)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", line, err, want)
		}
	}
}
