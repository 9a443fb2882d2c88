package extract

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/pkg/records"
)

// deadRun makes the directory a run killed outright leaves, claiming the
// spool directories names.
func deadRun(t *testing.T, spool string, names ...string) string {
	t.Helper()
	dir := filepath.Join(spool, runDirPrefix+"dead")
	if err := os.MkdirAll(filepath.Join(dir, partialDir), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, runLockName), nil, 0o644) // nobody holds it
	os.WriteFile(filepath.Join(dir, "records-1.ndjson"), []byte("{}\n"), 0o644)
	for _, n := range names {
		os.WriteFile(filepath.Join(dir, partialDir, n), nil, 0o644)
		os.MkdirAll(filepath.Join(spool, n, "usr"), 0o755)
		os.WriteFile(filepath.Join(spool, n, "usr", "half"), []byte("half"), 0o644)
	}
	return dir
}

// A clean-up removes a dead run's partial spool directories, but neither
// one a live run has taken over since, nor one it finished, nor anything
// of a live run.
func TestCleanSpoolKeepsWhatIsNotStale(t *testing.T) {
	spool := t.TempDir()
	deadRun(t, spool, "aaaa", "bbbb", "cccc")
	os.MkdirAll(filepath.Join(spool, "done"), 0o755) // an earlier run's finished source
	os.WriteFile(filepath.Join(spool, "done", "f"), []byte("f"), 0o644)

	// A live run takes aaaa over (and keeps filling it), and finishes
	// bbbb, before anyone cleans. It does not clean on start here: the
	// dead run's directory appears after.
	live, _, err := openSpoolState(spool)
	if err != nil {
		t.Fatal(err)
	}
	defer live.close()
	dead := deadRun(t, spool, "aaaa", "bbbb", "cccc")
	dirs := newSpoolDirs(spool, live)
	a, err := dirs.open("aaaa", false)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(a.Dir, "mine"), []byte("live"), 0o644)
	b, err := dirs.open("bbbb", false)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(b.Dir, "mine"), []byte("finished"), 0o644)
	live.finished(b.Dir)

	// A second run that would take aaaa gets aaaa.2: the live run holds it.
	other, rep, err := openSpoolState(spool)
	if err != nil {
		t.Fatal(err)
	}
	defer other.close()
	if rep.runs != 1 || rep.spool != 1 {
		t.Errorf("cleaned %+v, want the dead run and cccc", rep)
	}
	if got, err := newSpoolDirs(spool, other).open("aaaa", false); err != nil || filepath.Base(got.Dir) != "aaaa.2" {
		t.Errorf("second run got %v, %v", got, err)
	}

	mustNotExist(t, dead, filepath.Join(spool, "cccc"))
	for _, keep := range []string{"aaaa/mine", "bbbb/mine", "done/f", filepath.Base(live.runDir)} {
		if _, err := os.Lstat(filepath.Join(spool, keep)); err != nil {
			t.Errorf("removed %s: %v", keep, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(spool, "aaaa", "usr", "half")); err == nil {
		t.Errorf("aaaa still holds the dead run's half file")
	}
}

// A normal run leaves the spooled files of its records and nothing else;
// with --hash, nothing at all.
func TestNormalRunLeavesNothing(t *testing.T) {
	input := sourceLine(fixture(t, "tree.tar")) + sourceLine(fixture(t, "tree.tar.xz")) + sourceLine(hostile(t, "zipslip.zip"))
	spool := t.TempDir()
	o := extract(t, input, "--spool", spool)
	if o.status != 3 {
		t.Fatal(describe(o))
	}
	var want []string
	for _, r := range o.records {
		if f, ok := r.(*records.File); ok {
			rel, _ := filepath.Rel(spool, f.Local)
			want = append(want, rel)
		}
	}
	if got := assertOnlyRegularFiles(t, spool); len(got) != len(want) {
		t.Errorf("spool holds %v, records name %v", got, want)
	}
	hashSpool := t.TempDir()
	o = extract(t, input, "--spool", hashSpool, "--hash", "sha256")
	if got := assertOnlyRegularFiles(t, hashSpool); len(got) != 0 || o.status != 3 {
		t.Errorf("--hash left %v\n%s", got, describe(o))
	}
	entries, _ := os.ReadDir(hashSpool)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("left %s", e.Name())
		}
	}
}
