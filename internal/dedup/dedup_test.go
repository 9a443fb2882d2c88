package dedup

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
)

// digestHex is the i-th test digest.
func digestHex(i int) string {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(i))
	sum := sha256.Sum256(b[:])
	return hex.EncodeToString(sum[:])
}

// writeStream writes file records numbered ids, each with digest ids[k],
// in sources of per records each closed by an end record.
func writeStream(w io.Writer, ids []int, per int) {
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	for k, id := range ids {
		src := digestHex(1<<40 + k/per)
		if k%per == 0 {
			fmt.Fprintf(bw, `{"type":"source","id":"s%d","sha256":"%s"}`+"\n", k/per, src)
		}
		fmt.Fprintf(bw, `{"type":"file","source":"%s","path":"f%d","sha256":"%s"}`+"\n", src, k, digestHex(id))
		if k%per == per-1 || k == len(ids)-1 {
			fmt.Fprintf(bw, `{"type":"end","source":"%s","files":%d,"errors":0,"bytes":0}`+"\n", src, k%per+1)
		}
	}
}

type outRecord struct {
	Type   string           `json:"type"`
	Path   string           `json:"path"`
	SHA256 string           `json:"sha256"`
	Seen   *bool            `json:"seen"`
	Files  int64            `json:"files"`
	MS     map[string]int64 `json:"ms"`
}

// readOutput decodes every whole line of out; a line cut short by a kill
// at the very end is left out.
func readOutput(t *testing.T, out []byte) []outRecord {
	t.Helper()
	var recs []outRecord
	for line := range bytes.Lines(out) {
		if !bytes.HasSuffix(line, []byte("\n")) {
			break
		}
		var r outRecord
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("output line %q: %v", line, err)
		}
		recs = append(recs, r)
	}
	return recs
}

func runDedup(t *testing.T, in []byte, args ...string) (status int, out []byte, stderr string) {
	t.Helper()
	var stdout, errb bytes.Buffer
	status = Main(args, bytes.NewReader(in), &stdout, &errb)
	return status, stdout.Bytes(), errb.String()
}

// checkSeen checks a run's records against known, the digests of the
// runs before (which it adds the run's to): each file's seen, the files
// --drop-seen drops, and the end records' counts.
func checkSeen(t *testing.T, run int, recs []outRecord, ids []int, known map[string]bool, dropSeen bool) {
	t.Helper()
	k, filesInSource := 0, int64(0)
	for _, rec := range recs {
		switch rec.Type {
		case "file":
			for dropSeen && known[digestHex(ids[k])] {
				k++ // dropped
			}
			want := known[digestHex(ids[k])]
			if rec.SHA256 != digestHex(ids[k]) || rec.Seen == nil || *rec.Seen != want {
				t.Fatalf("run %d, record %d (%s): seen %v, want %v", run, k, rec.Path, rec.Seen, want)
			}
			known[rec.SHA256] = true
			k++
			filesInSource++
		case "end":
			if rec.Files != filesInSource {
				t.Fatalf("run %d: end record says %d files, %d were written", run, rec.Files, filesInSource)
			}
			if _, ok := rec.MS["dedup"]; !ok {
				t.Fatalf("run %d: end record without ms.dedup", run)
			}
			filesInSource = 0
		}
	}
	for dropSeen && k < len(ids) && known[digestHex(ids[k])] {
		k++
	}
	if k != len(ids) {
		t.Fatalf("run %d: %d file records out of %d", run, k, len(ids))
	}
}

// Random streams over several runs, against a map: seen is true exactly
// for digests of an earlier run or earlier in the stream. Streams are big
// enough to fill and ingest pending sets mid-run.
func TestSeenAgainstAMap(t *testing.T) {
	store := t.TempDir()
	known := map[string]bool{}
	r := rand.New(rand.NewPCG(7, 7))
	runs := []int{5000, 300_000, 20_000}
	if testing.Short() {
		runs = []int{5000, 20_000}
	}
	for run, n := range runs {
		ids := make([]int, n)
		for i := range ids {
			ids[i] = r.IntN(n * 2)
		}
		var in bytes.Buffer
		writeStream(&in, ids, 1000)
		dropSeen := run == 2
		args := []string{"--store", store}
		if dropSeen {
			args = append(args, "--drop-seen")
		}
		status, out, stderr := runDedup(t, in.Bytes(), args...)
		if status != 0 || stderr != "" {
			t.Fatalf("run %d: status %d, stderr %q", run, status, stderr)
		}
		checkSeen(t, run, readOutput(t, out), ids, known, dropSeen)
	}
	var stats bytes.Buffer
	if st := Main([]string{"stats", "--store", store}, nil, &stats, io.Discard); st != 0 {
		t.Fatalf("stats: status %d", st)
	}
	if want := fmt.Sprintf(`"keys":%d,`, len(known)); !strings.Contains(stats.String(), want) {
		t.Fatalf("stats %s, want %s", stats.String(), want)
	}
}

// Records of every other type, and spacing, survive byte for byte; a
// type spelt with escapes is still recognised.
func TestPassThroughAndEscapes(t *testing.T) {
	in := strings.Join([]string{
		`{"type":"x-custom" , "sha256":"` + digestHex(1) + `", "n":1.50e3}`,
		`{"type":"fil\u0065","path":"p","sha256":"` + digestHex(2) + `"}`,
		`  {"type":"file","path":"q","sha256":"` + digestHex(2) + `"}	`,
		`{"type":"error","stage":"hash","message":"kept"}`,
	}, "\n")
	status, out, stderr := runDedup(t, []byte(in), "--store", t.TempDir())
	if status != 0 || stderr != "" {
		t.Fatalf("status %d, stderr %q", status, stderr)
	}
	want := strings.Join([]string{
		`{"type":"x-custom" , "sha256":"` + digestHex(1) + `", "n":1.50e3}`,
		`{"type":"fil\u0065","path":"p","sha256":"` + digestHex(2) + `","seen":false}`,
		`{"type":"file","path":"q","sha256":"` + digestHex(2) + `","seen":true}`,
		`{"type":"error","stage":"hash","message":"kept"}`,
	}, "\n") + "\n"
	if string(out) != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
}

func TestSeedParsesHashLists(t *testing.T) {
	var list hashList
	d := digestHex(3)
	for _, tc := range []struct {
		line string
		ok   bool
		fail bool
	}{
		{d, true, false},
		{strings.ToUpper(d), true, false},
		{d + "  usr/bin/ls", true, false},
		{d + " *bin/x y", true, false},
		{`\` + d + `  a\nb`, true, false},
		{"SHA256 (a (b)) = " + d, true, false},
		{"", false, false},
		{"# comment", false, false},
		{d[:63], false, true},
		{d + "0", false, true},
		{"g" + d[1:], false, true},
		{"SHA256 (a) " + d, false, true},
	} {
		k, ok, err := list.parse([]byte(tc.line))
		if ok != tc.ok || (err != nil) != tc.fail || ok && hex.EncodeToString(k[:]) != d {
			t.Errorf("parse(%q) = %x, %v, %v", tc.line, k, ok, err)
		}
	}
	// A hashdeep header sets the column.
	var hd hashList
	for _, l := range []string{"%%%% HASHDEEP-1.0", "%%%% size,md5,sha256,filename", "## $ hashdeep -r ."} {
		if _, ok, err := hd.parse([]byte(l)); ok || err != nil {
			t.Fatalf("header line %q: %v %v", l, ok, err)
		}
	}
	k, ok, err := hd.parse([]byte("5,d41d8cd98f00b204e9800998ecf8427e," + d + ",/a,b.txt"))
	if !ok || err != nil || hex.EncodeToString(k[:]) != d {
		t.Fatalf("hashdeep line: %x %v %v", k, ok, err)
	}
}

func TestDefaultStoreDir(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", "/var/cache/x")
	if dir, err := resolveStoreDir(""); err != nil || dir != "/var/cache/x/hashr/store" {
		t.Fatalf("default store %q, %v", dir, err)
	}
	home := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("HOME", home)
	if dir, err := resolveStoreDir(""); err != nil || dir != filepath.Join(home, ".cache/hashr/store") {
		t.Fatalf("default store %q, %v", dir, err)
	}
}
