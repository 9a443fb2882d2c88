package extract

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/pkg/records"
)

// Every fixture of the tree, written by the real tools, yields the tree's
// files with the sums sha256sum gave them (scripts/fixtures-extract.sh),
// in both modes, several sources at once, in input order.
func TestFixturesHoldTheTree(t *testing.T) {
	names := []string{"tree.tar", "tree-pax.tar", "tree.tar.gz", "tree.tar.bz2", "tree.tar.xz", "tree.tar.zst",
		"tree.tar.lz4", "tree.tar.lzma", "tree.cpio", "tree-crc.cpio", "tree-odc.cpio", "tree.cpio.gz",
		"tree.zip", "tree-stored.zip", "tree-zip64.zip", "tree-bzip2.zip", "tree.jar", "tree.7z",
		"tree.iso", "tree-xorriso.iso"}
	var input strings.Builder
	for _, n := range names {
		input.WriteString(sourceLine(fixture(t, n)))
	}
	tree := treeSums(t)
	for _, mode := range [][]string{{"--hash", "md5,sha1,sha256"}, {"--spool", t.TempDir()}, {"--spool", t.TempDir(), "--flatten"}} {
		t.Run(strings.Join(mode, " "), func(t *testing.T) {
			o := extract(t, input.String(), append(mode, "--workers", "4")...)
			if o.status != 0 {
				t.Fatal(describe(o))
			}
			// split the output by source, checking the order
			var i int
			var cur map[string]string
			var src *records.Source
			check := func() {
				if src != nil {
					equalSums(t, src.ID, cur, tree)
				}
			}
			for _, r := range o.records {
				switch r := r.(type) {
				case *records.Source:
					check()
					if r.ID != names[i] {
						t.Fatalf("source %d is %s, want %s", i, r.ID, names[i])
					}
					i++
					src, cur = r, map[string]string{}
				case *records.File:
					cur[r.Path] = checkTreeFile(t, r, src)
				case *records.End:
					if r.Source != src.SHA256 || r.Files != 7 || r.Errors != 0 || r.MS["extract"] < 0 {
						t.Errorf("%s: end %+v", src.ID, r)
					}
				default:
					t.Errorf("unexpected record %T", r)
				}
			}
			check()
			if i != len(names) {
				t.Fatalf("%d sources out of %d", i, len(names))
			}
		})
	}
}

// checkTreeFile checks a file record of src, and returns its sha256:
// that of its spooled file, or the one it carries with all its digests.
func checkTreeFile(t *testing.T, r *records.File, src *records.Source) string {
	t.Helper()
	if r.Source != src.SHA256 {
		t.Errorf("%s: source %s, want %s", r.Path, r.Source, src.SHA256)
	}
	if err := r.Validate(); err != nil {
		t.Error(err)
	}
	if r.Local != "" {
		return fileSHA256(t, r.Local)
	}
	if r.MD5 == "" || r.SHA1 == "" || r.MIME == "" {
		t.Errorf("%s: digests missing: %+v", r.Path, r)
	}
	return r.SHA256
}

func TestModesAndTimes(t *testing.T) {
	o := extract(t, sourceLine(fixture(t, "tree.tar")), "--hash", "sha256")
	f := o.files()
	if f["bin/tool"].Mode != "4755" || f["hello.txt"].Mode != "0644" {
		t.Errorf("modes %q %q", f["bin/tool"].Mode, f["hello.txt"].Mode)
	}
	if f["hello.txt"].Mtime != "2023-11-14T22:13:20Z" {
		t.Errorf("mtime %q", f["hello.txt"].Mtime)
	}
}

// A .deb's and an .rpm's files are named as installed; the hard link has
// its target's content; the symlink is no file.
func TestPackages(t *testing.T) {
	tree := treeSums(t)
	want := map[string]string{
		"usr/share/hello/hello.txt":    tree["hello.txt"],
		"usr/share/hello/hardlink.txt": tree["hello.txt"],
		"usr/share/hello/numbers.txt":  tree["doc/deep/deeper/numbers.txt"],
		"usr/bin/tool":                 tree["bin/tool"],
	}
	var input strings.Builder
	var names []string
	for _, z := range []string{"xz", "gzip", "zstd", "none", "bzip2", "lzma"} {
		names = append(names, "hello-"+z+".deb")
	}
	for _, z := range []string{"xz", "zstd", "gzip", "bzip2", "lzma"} {
		names = append(names, "hello-"+z+".rpm")
	}
	for _, n := range names {
		input.WriteString(sourceLine(fixture(t, n)))
	}
	spool := t.TempDir()
	for _, mode := range [][]string{{"--hash", "sha256"}, {"--spool", spool}} {
		o := extract(t, input.String(), mode...)
		if o.status != 0 {
			t.Fatal(describe(o))
		}
		var src string
		got := map[string]map[string]string{}
		for _, r := range o.records {
			switch r := r.(type) {
			case *records.Source:
				src = r.ID
				got[src] = map[string]string{}
			case *records.File:
				if r.Local != "" {
					got[src][r.Path] = fileSHA256(t, r.Local)
				} else {
					got[src][r.Path] = r.SHA256
				}
			}
		}
		for _, n := range names {
			equalSums(t, n, got[n], want)
		}
	}
	// The spool mirrors the paths, and the hard link is one in the spool.
	o := extract(t, sourceLine(fixture(t, "hello-xz.deb")), "--spool", spool)
	f := o.files()
	hello, link := f["usr/share/hello/hello.txt"].Local, f["usr/share/hello/hardlink.txt"].Local
	if !strings.HasSuffix(hello, filepath.FromSlash("/usr/share/hello/hello.txt")) {
		t.Errorf("spooled at %s", hello)
	}
	a, _ := os.Stat(hello)
	b, _ := os.Stat(link)
	if !os.SameFile(a, b) {
		t.Errorf("%s and %s are not one file", hello, link)
	}
	if st, _ := os.Stat(f["usr/bin/tool"].Local); st.Mode()&os.ModeSetuid != 0 {
		t.Errorf("spooled file is setuid")
	}
}

func TestDebControl(t *testing.T) {
	o := extract(t, sourceLine(fixture(t, "hello-gzip.deb")), "--hash", "md5", "--deb-control")
	f := o.files()
	if f["control!/control"] == nil || f["control!/md5sums"] == nil {
		t.Fatalf("control members missing:\n%s", describe(o))
	}
	if len(f) != 6 {
		t.Errorf("%d files", len(f))
	}
}

// 7zz, xz and the Go decoder give the same records.
func TestXZProgramsAndGoDecoderAgree(t *testing.T) {
	input := sourceLine(fixture(t, "hello-xz.deb")) + sourceLine(fixture(t, "tree.tar.xz")) + sourceLine(fixture(t, "hello-xz.rpm"))
	tools := map[string]string{}
	for _, name := range []string{"7zz", "xz"} {
		path, err := exec.LookPath(name)
		if err != nil {
			t.Fatalf("%s is not on PATH (Debian packages 7zip and xz-utils)", name)
		}
		tools[name] = path
	}
	var first *runOutput
	for _, decoder := range []string{"7zz", "xz", ""} {
		dir := t.TempDir()
		if decoder != "" {
			if err := os.Symlink(tools[decoder], filepath.Join(dir, decoder)); err != nil {
				t.Fatal(err)
			}
		}
		t.Setenv("PATH", dir)
		o := extract(t, input, "--hash", "md5,sha1,sha256", "--verbose")
		want := "decoding xz with " + decoder + " "
		if decoder == "" {
			want = "decoding xz in Go"
		}
		if !strings.Contains(o.stderr, want) {
			t.Fatalf("PATH holds only %q, and no %q:\n%s", decoder, want, o.stderr)
		}
		if len(o.lines) < 10 {
			t.Fatalf("%q: %d records", decoder, len(o.lines))
		}
		if first == nil {
			first = o
			continue
		}
		if len(o.lines) != len(first.lines) {
			t.Fatalf("%d records with 7zz, %d with %q", len(first.lines), len(o.lines), decoder)
		}
		for i := range o.lines {
			if _, ok := o.records[i].(*records.End); ok {
				continue // milliseconds differ
			}
			if o.lines[i] != first.lines[i] {
				t.Errorf("record %d:\n  7zz: %s\n  %q: %s", i, first.lines[i], decoder, o.lines[i])
			}
		}
	}
}

func TestSingleCompressedFileIsUnwrapped(t *testing.T) {
	tree := treeSums(t)
	o := extract(t, sourceLine(fixture(t, "numbers.txt.gz")), "--hash", "sha256")
	equalSums(t, "numbers.txt.gz", o.sums(t), map[string]string{"numbers.txt": tree["doc/deep/deeper/numbers.txt"]})
}

// nested.tar.gz holds inner.zip (a.txt, lib.jar holding b.txt),
// inner.tar.gz (c.txt) and top.txt.
func TestMaxDepth(t *testing.T) {
	want := map[int][]string{
		0: {"inner.tar.gz", "inner.zip", "top.txt"},
		1: {"inner.tar.gz", "inner.tar.gz!/c.txt", "inner.zip", "inner.zip!/a.txt", "inner.zip!/lib.jar", "top.txt"},
		2: {"inner.tar.gz", "inner.tar.gz!/c.txt", "inner.zip", "inner.zip!/a.txt", "inner.zip!/lib.jar", "inner.zip!/lib.jar!/b.txt", "top.txt"},
	}
	for depth, paths := range want {
		for _, mode := range [][]string{{"--hash", "sha256"}, {"--spool", t.TempDir()}} {
			o := extract(t, sourceLine(fixture(t, "nested.tar.gz")), append(mode, "--max-depth", string(rune('0'+depth)))...)
			var got []string
			for _, r := range o.records {
				if f, ok := r.(*records.File); ok {
					got = append(got, f.Path)
				}
			}
			if strings.Join(got, " ") != strings.Join(paths, " ") || o.status != 0 {
				t.Errorf("--max-depth %d %v: %v\n%s", depth, mode, got, o.stderr)
			}
			if b := o.files()["inner.zip!/lib.jar!/b.txt"]; b != nil && o.sums(t)[b.Path] != sha256Hex("b\n") {
				t.Errorf("b.txt: %+v", b)
			}
		}
	}
}

// A tar.gz whose only file is an archive is unwrapped even at depth 0.
func TestWrapperIsUnwrapped(t *testing.T) {
	for _, mode := range [][]string{{"--hash", "sha256"}, {"--spool", t.TempDir()}} {
		o := extract(t, sourceLine(fixture(t, "wrapper.tar.gz")), mode...)
		var got []string
		for _, r := range o.records {
			if f, ok := r.(*records.File); ok {
				got = append(got, f.Path)
			}
		}
		if strings.Join(got, " ") != "inner.zip inner.zip!/a.txt inner.zip!/lib.jar" {
			t.Errorf("%v: %v\n%s", mode, got, describe(o))
		}
	}
	// but not a package whose only file is an archive: nested.tar.gz has three
	o := extract(t, sourceLine(fixture(t, "nested.tar.gz")), "--hash", "sha256")
	if len(o.files()) != 3 {
		t.Errorf("nested.tar.gz unwrapped at depth 0: %v", o.files())
	}
}

// Records of other types pass through in place; an end record an earlier
// stage wrote for a source becomes one with extract's.
func TestPassThroughAndEndMerge(t *testing.T) {
	src := strings.TrimSpace(sourceLine(fixture(t, "tree.a")))
	input := `{"type":"note","x":1}` + "\n" + src + "\n" +
		`{"type":"end","source":"SHA","files":0,"errors":0,"bytes":0,"ms":{"fetch":7},"who":"fetch"}` + "\n" +
		`{"type":"error","stage":"scan","message":"m"}` + "\n"
	// first, learn the sha256 extract computes
	first := extract(t, src+"\n", "--hash", "sha256")
	sha := first.records[0].(*records.Source).SHA256
	input = strings.Replace(input, "SHA", sha, 1)
	o := extract(t, input, "--hash", "sha256")
	if o.status != 0 {
		t.Fatal(describe(o))
	}
	if o.lines[0] != `{"type":"note","x":1}` {
		t.Errorf("first line %s", o.lines[0])
	}
	ends := o.ends()
	if len(ends) != 1 {
		t.Fatalf("%d end records:\n%s", len(ends), describe(o))
	}
	end := ends[0]
	if end.MS["fetch"] != 7 || end.Files != 4 || string(end.Extra["who"]) != `"fetch"` {
		t.Errorf("merged end %+v", end)
	}
	if last := o.lines[len(o.lines)-1]; last != `{"type":"error","stage":"scan","message":"m"}` {
		t.Errorf("last line %s", last)
	}
	if _, ok := o.records[len(o.records)-2].(*records.End); !ok {
		t.Errorf("the end is not right before the passed-through error")
	}
}

func TestSourcesThatCannotBeOpened(t *testing.T) {
	input := `{"type":"source","uri":"https://example.org/x.deb","id":"x.deb"}` + "\n" +
		`{"type":"source","uri":"/nonexistent/y.deb","id":"y.deb"}` + "\n" +
		`{"type":"source","id":"z"}` + "\n"
	o := extract(t, input, "--hash", "sha256")
	if o.status != 3 {
		t.Fatalf("status %d", o.status)
	}
	errs := o.errors()
	if len(errs) != 3 || !strings.Contains(errs[0].Message, "run hashr-fetch") || errs[0].URI != "https://example.org/x.deb" ||
		!strings.Contains(errs[1].Message, "no such file") {
		t.Errorf("errors:\n%s", describe(o))
	}
	if len(o.ends()) != 3 {
		t.Errorf("%d ends", len(o.ends()))
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{"--hash", "md6"}, {"--workers", "0"}, {"--max-source-bytes", "lots"}, {"--max-depth", "-1"}} {
		if o := extract(t, "", args...); o.status != 2 {
			t.Errorf("%v: status %d", args, o.status)
		}
	}
	o := extract(t, "", "--help")
	for _, want := range []string{"Examples:", "$HASHR_MAX_DEPTH", "Exit status"} {
		if !strings.Contains(o.stderr, want) {
			t.Errorf("--help lacks %q", want)
		}
	}
}

func TestTempFilesRemoved(t *testing.T) {
	spool := t.TempDir()
	o := extract(t, sourceLine(fixture(t, "nested.tar.gz"))+sourceLine(fixture(t, "wrapper.tar.gz")), "--hash", "sha256", "--max-depth", "2", "--spool", spool)
	if o.status != 0 {
		t.Fatal(describe(o))
	}
	entries, _ := os.ReadDir(spool)
	if len(entries) != 0 {
		t.Errorf("left in the spool: %v", entries)
	}
}

// A decompression bomb is stopped where it expands: memory stays flat.
func TestBombsStopEarlyInLittleMemory(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	spool := t.TempDir()
	o := extract(t, sourceLine(hostile(t, "bomb.gz"))+sourceLine(hostile(t, "bomb.zip")), "--spool", spool)
	runtime.ReadMemStats(&after)
	if o.status != 3 || len(o.errors()) != 2 {
		t.Fatal(describe(o))
	}
	for _, e := range o.errors() {
		if !strings.Contains(e.Message, "--max-ratio") {
			t.Errorf("error %q", e.Message)
		}
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
		t.Errorf("allocated %d MiB for bombs of 512 and 256 MiB", alloc>>20)
	}
	if left := assertOnlyRegularFiles(t, spool); len(left) != 0 {
		t.Errorf("bombs left spooled bytes: %v", left)
	}
}

// BenchmarkHashMode extracts and hashes the fixture packages in process;
// bench/extract.sh times real packages against dpkg-deb.
func BenchmarkHashMode(b *testing.B) {
	var input strings.Builder
	for _, n := range []string{"hello-xz.deb", "hello-gzip.rpm", "tree.tar.gz", "tree.zip", "tree.iso"} {
		input.WriteString(sourceLine(fixture(b, n)))
	}
	for b.Loop() {
		var out, errs strings.Builder
		if status := Main([]string{"--hash", "md5,sha1,sha256", "--spool", b.TempDir()}, strings.NewReader(input.String()), &out, &errs); status != 0 {
			b.Fatal(errs.String())
		}
	}
}

// A name that is not UTF-8 keeps its bytes in path_raw.
func TestNonUTF8Names(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bad\xff.txt"), []byte("x"), 0o644); err != nil {
		t.Skip("the file system refuses the name:", err)
	}
	archive := filepath.Join(t.TempDir(), "names.tar")
	if out, err := exec.Command("tar", "-C", dir, "-cf", archive, "bad\xff.txt").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	o := extract(t, sourceLine(archive), "--spool", t.TempDir())
	f := o.files()["bad\uFFFD.txt"]
	if f == nil || f.PathRaw != "YmFk/y50eHQ=" {
		t.Fatalf("%s", describe(o))
	}
	if data, err := os.ReadFile(f.Local); err != nil || string(data) != "x" {
		t.Errorf("spooled %q, %v", data, err)
	}
}
