package extract

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/pkg/records"
)

// Zip slip: names that climb out or are absolute are error records, the
// good members are read, and nothing is written outside the spool.
func TestZipSlip(t *testing.T) {
	spool := t.TempDir()
	o := extract(t, sourceLine(hostile(t, "zipslip.zip")), "--spool", spool)
	if o.status != 3 {
		t.Fatal(describe(o))
	}
	errs := o.errorPaths()
	for _, p := range []string{"../../evil.txt", "/tmp/hashr-absolute-evil.txt", "a/../../evil2.txt", "../../windows-evil.txt"} {
		if errs[p] == "" {
			t.Errorf("no error record for %s", p)
		}
	}
	if len(errs) != 4 {
		t.Errorf("errors %v", errs)
	}
	got := o.sums(t)
	equalSums(t, "zipslip.zip", got, map[string]string{"good.txt": sha256Hex("good\n"), "also-good.txt": sha256Hex("good too\n")})
	mustNotExist(t, "/tmp/hashr-absolute-evil.txt", filepath.Join(spool, "..", "evil.txt"),
		filepath.Join(spool, "..", "..", "evil.txt"), filepath.Join(spool, "..", "evil2.txt"))
	names := assertOnlyRegularFiles(t, spool)
	sort.Strings(names)
	sha := o.records[0].(*records.Source).SHA256
	if strings.Join(names, " ") != sha+"/also-good.txt "+sha+"/good.txt" {
		t.Errorf("spool holds %v", names)
	}
}

// A symlink pointing out of the archive, and files written through it,
// and a hard link to itself.
func TestSymlinkEscape(t *testing.T) {
	spool := t.TempDir()
	o := extract(t, sourceLine(hostile(t, "symlink-escape.tar")), "--spool", spool)
	if o.status != 3 {
		t.Fatal(describe(o))
	}
	errs := o.errorPaths()
	if !strings.Contains(errs["escape/hashr-pwned.txt"], "symlink") || !strings.Contains(errs["up/etc/hashr-pwned"], "symlink") ||
		!strings.Contains(errs["self"], "hard link") || len(errs) != 3 {
		t.Errorf("errors %v", errs)
	}
	equalSums(t, "symlink-escape.tar", o.sums(t), map[string]string{"ok.txt": sha256Hex("fine\n"), "after.txt": sha256Hex("still read\n")})
	mustNotExist(t, "/tmp/hashr-pwned.txt", filepath.Join(spool, "..", "..", "..", "etc", "hashr-pwned"))
	if names := assertOnlyRegularFiles(t, spool); len(names) != 2 {
		t.Errorf("spool holds %v", names)
	}
}

func TestTruncatedAndCorrupt(t *testing.T) {
	for _, name := range []string{"truncated.deb", "truncated.rpm", "corrupt.tar.gz", "loop.iso"} {
		t.Run(name, func(t *testing.T) {
			spool := t.TempDir()
			o := extract(t, sourceLine(hostile(t, name)), "--spool", spool)
			if o.status != 3 || len(o.errors()) == 0 {
				t.Fatal(describe(o))
			}
			end := o.ends()
			if len(end) != 1 || end[0].Errors != int64(len(o.errors())) {
				t.Errorf("end %+v", end)
			}
			// what was spooled is what the records name, nothing else
			names := assertOnlyRegularFiles(t, spool)
			if len(names) != len(o.files()) {
				t.Errorf("spool holds %v for %d file records", names, len(o.files()))
			}
		})
	}
}

// nested12.zip nests zips twelve deep; --max-depth bounds the walk.
func TestDeepNesting(t *testing.T) {
	for _, depth := range []string{"0", "3", "64"} {
		o := extract(t, sourceLine(hostile(t, "nested12.zip")), "--hash", "sha256", "--max-depth", depth)
		want := map[string]int{"0": 1, "3": 4, "64": 12}[depth]
		if len(o.files()) != want || o.status != 0 {
			t.Errorf("--max-depth %s: %d files, want %d\n%s", depth, len(o.files()), want, describe(o))
		}
	}
	o := extract(t, sourceLine(hostile(t, "nested12.zip")), "--hash", "sha256", "--max-depth", "64")
	if o.files()[strings.Repeat("nest", 0)+"nest11.zip!/nest10.zip!/nest9.zip!/nest8.zip!/nest7.zip!/nest6.zip!/nest5.zip!/nest4.zip!/nest3.zip!/nest2.zip!/nest1.zip!/level.txt"] == nil {
		t.Errorf("bottom missing: %v", o.files())
	}
}

func TestLimits(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		files     int
		errPath   string
		errSubstr string
	}{
		{[]string{"--max-members", "3"}, 1, "", "--max-members"}, // "./" and "bin/" count
		{[]string{"--max-member-bytes", "1K"}, 5, "bin/tool", "--max-member-bytes"},
		{[]string{"--max-source-bytes", "30K"}, 1, "", "--max-source-bytes"},
	} {
		o := extract(t, sourceLine(fixture(t, "tree.tar")), append(tc.args, "--hash", "sha256")...)
		errs := o.errorPaths()
		if o.status != 3 || len(o.files()) < tc.files || !strings.Contains(errs[tc.errPath], tc.errSubstr) {
			t.Errorf("%v: %d files, errors %v\n%s", tc.args, len(o.files()), errs, describe(o))
		}
	}
	// --min-free: no file system has an exabyte free
	o := extract(t, sourceLine(fixture(t, "tree.tar")), "--spool", t.TempDir(), "--min-free", "1000000T")
	if o.status != 3 || !strings.Contains(o.errorPaths()[""], "--min-free") {
		t.Errorf("--min-free:\n%s", describe(o))
	}
}

// A compressed tar cut in its trailer still lists its files, but the
// source is an error: the stream is read to its end and checked.
func TestCompressedTailIsChecked(t *testing.T) {
	for _, name := range []string{"tree.tar.gz", "tree.tar.xz", "tree.tar.zst", "tree.tar.bz2"} {
		data, err := os.ReadFile(fixture(t, name))
		if err != nil {
			t.Fatal(err)
		}
		cut := filepath.Join(t.TempDir(), name)
		os.WriteFile(cut, data[:len(data)-4], 0o644)
		o := extract(t, sourceLine(cut), "--hash", "sha256")
		if o.status != 3 || o.errorPaths()[""] == "" {
			t.Errorf("%s cut by 4 bytes:\n%s", name, describe(o))
		}
	}
}
