package extract

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/pkg/records"
)

// notAnError are the files of testdata/hostile that are hostile to other
// tools but that hashr-extract reads whole, within the limits this test
// sets: it must still write nothing outside and stay within the limits.
var notAnError = map[string]string{
	"nested12.zip": "12 levels of zips within --max-depth 3 are members, not an error",
}

// TestHostileCorpus runs hashr-extract, sandboxed, over every file of
// testdata/hostile (scripts/fixtures-hostile.sh): each ends in error
// records and exit status 3, with no crash, nothing written outside the
// spool, nothing but regular files in it, and no limit exceeded.
func TestHostileCorpus(t *testing.T) {
	dir := filepath.Dir(hostile(t, "x"))
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) < 20 {
		t.Fatalf("only %d files in %s: run scripts/fixtures-hostile.sh", len(entries), dir)
	}
	const maxSourceBytes = 128 << 20
	// Where the corpus's absolute names and symlinks point.
	evil := []string{"/tmp/hashr-absolute-evil.txt", "/tmp/hashr-tar-absolute-evil.txt", "/tmp/hashr-pwned.txt",
		"/tmp/hashr-sandbox-evil", "/etc/hashr-pwned"}
	mustNotExist(t, evil...)
	for _, e := range entries {
		name := e.Name()
		t.Run(name, func(t *testing.T) {
			outside := t.TempDir()
			spool := filepath.Join(outside, "spool")
			o := extract(t, sourceLine(filepath.Join(dir, name)), "--spool", spool, "--max-depth", "3",
				"--max-ratio", "100", "--max-source-bytes", "128M", "--sandbox-memory", "1G", "--sandbox-cpu", "120s")
			for _, bad := range []string{"internal error", "panic", "the sandboxed parser"} {
				if strings.Contains(o.stderr, bad) {
					t.Errorf("stderr says %q: a crash, or a limit only the sandbox caught\n%s", bad, o.stderr)
				}
			}
			want := 3
			if notAnError[name] != "" {
				want = 0
			}
			if o.status != want {
				t.Errorf("exit status %d, want %d\n%s", o.status, want, describe(o))
			}
			ends := o.ends()
			if len(ends) != 1 {
				t.Fatalf("%d end records\n%s", len(ends), describe(o))
			}
			if n := int64(len(o.errors())); n != ends[0].Errors || (want == 3 && n == 0) {
				t.Errorf("%d error records, end counts %d\n%s", n, ends[0].Errors, describe(o))
			}
			if ends[0].Bytes > maxSourceBytes {
				t.Errorf("end counts %d bytes, over --max-source-bytes", ends[0].Bytes)
			}
			// Nothing outside the spool: its parent holds only it.
			if left, _ := os.ReadDir(outside); len(left) != 1 || left[0].Name() != "spool" {
				t.Errorf("written beside the spool: %v", left)
			}
			mustNotExist(t, evil...)
			locals, total := checkHostileSpool(t, spool, o, maxSourceBytes)
			t.Logf("exit %d, %d files, %d errors, %d bytes spooled; first error: %s", o.status, len(locals), len(o.errors()), total, firstError(o))
		})
	}
}

// checkHostileSpool checks the spool of a hostile source: regular files
// only, those the records name, within the limit, and no temporary
// directory. It returns the locals the records name and the bytes
// spooled.
func checkHostileSpool(t *testing.T, spool string, o *runOutput, maxSourceBytes int64) (map[string]bool, int64) {
	t.Helper()
	locals := map[string]bool{}
	for _, r := range o.records {
		if f, ok := r.(*records.File); ok {
			locals[f.Local] = true
		}
	}
	var total int64
	filepath.WalkDir(spool, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Error(err)
			return nil
		}
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), runDirPrefix) {
				t.Errorf("temporary directory left: %s", p)
			}
			return nil
		}
		if !d.Type().IsRegular() {
			t.Errorf("spool holds a %v: %s", d.Type(), p)
			return nil
		}
		if !locals[p] {
			t.Errorf("spool holds %s, which no record names", p)
		}
		if st, err := os.Lstat(p); err == nil {
			total += st.Size()
		}
		return nil
	})
	if total > maxSourceBytes {
		t.Errorf("spool holds %d bytes, over --max-source-bytes", total)
	}
	return locals, total
}

func firstError(o *runOutput) string {
	if errs := o.errors(); len(errs) > 0 {
		return errs[0].Path + ": " + errs[0].Message
	}
	return ""
}
