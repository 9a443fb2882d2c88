package extract

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashr-dev/hashr/internal/sandbox"
)

// TestMain lets a test run hashr-extract as a process of its own (the
// test binary, with HASHR_EXTRACT_AS_MAIN set), to send it signals; and
// the sandbox's children are this binary too.
func TestMain(m *testing.M) {
	if os.Getenv(sandbox.ChildEnv) == "1" {
		installChildFaults()
	}
	if os.Getenv("HASHR_EXTRACT_AS_MAIN") != "" || os.Getenv(sandbox.ChildEnv) == "1" {
		os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// startBomb starts hashr-extract over tree.tar then bomb.gz (which takes
// seconds to spool its 512 MiB) and returns once the bomb is being
// spooled.
func startBomb(t *testing.T, spool string) (cmd *exec.Cmd, stdout, stderr *bytes.Buffer) {
	t.Helper()
	cmd = exec.Command(os.Args[0], "--spool", spool, "--max-ratio", "100000", "--max-depth", "1")
	cmd.Env = append(os.Environ(), "HASHR_EXTRACT_AS_MAIN=1")
	cmd.Stdin = strings.NewReader(sourceLine(fixture(t, "tree.tar")) + sourceLine(hostile(t, "bomb.gz")))
	stdout, stderr = &bytes.Buffer{}, &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		names := spoolFiles(t, spool)
		for _, n := range names {
			if strings.HasSuffix(n, "/bomb") {
				return cmd, stdout, stderr
			}
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the bomb never started spooling: %v\n%s", names, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// spoolFiles lists the files under root, which may be changing.
func spoolFiles(t *testing.T, root string) []string {
	var names []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			names = append(names, filepath.ToSlash(rel))
		}
		return nil
	})
	return names
}

// checkOnlyFinished checks that the spool holds the files of the records
// written and nothing else: no temporary directory, no bomb.
func checkOnlyFinished(t *testing.T, spool, stdout string) {
	t.Helper()
	left := assertOnlyRegularFiles(t, spool)
	for _, n := range left {
		if strings.HasPrefix(n, runDirPrefix) || strings.HasSuffix(n, "/bomb") {
			t.Errorf("left behind: %s", n)
		}
	}
	entries, _ := os.ReadDir(spool)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), runDirPrefix) {
			t.Errorf("temporary directory left: %s", e.Name())
		}
	}
	files := strings.Count(stdout, `"type":"file"`)
	if files != 7 && files != 0 {
		t.Errorf("%d file records: the tar is all or nothing", files)
	}
	// Killed outright, the tar's records may be out without its end
	// (held back for an upstream end to merge): then it is unfinished.
	if !strings.Contains(stdout, `"type":"end"`) {
		files = 0
	}
	if len(left) != files {
		t.Errorf("spool holds %d files for %d records with their end: %v", len(left), files, left)
	}
}

// Interrupted half-way through a source, hashr-extract exits 1 and leaves
// neither temporary files nor the spool of the unfinished source.
func TestInterruptCleansUp(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			spool := t.TempDir()
			cmd, stdout, stderr := startBomb(t, spool)
			cmd.Process.Signal(sig)
			err := cmd.Wait()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("exit: %v\n%s", err, stderr.String())
			}
			if !strings.Contains(stderr.String(), "interrupted") {
				t.Errorf("stderr: %s", stderr.String())
			}
			checkOnlyFinished(t, spool, stdout.String())
		})
	}
}

// Killed outright, hashr-extract takes its sandbox child with it and
// leaves its temporary directory and the bomb's partial spool; the next
// run over the spool, or --clean-spool, removes them and keeps the tar's
// if its end record went out.
func TestKilledThenCleaned(t *testing.T) {
	for _, how := range []string{"--clean-spool", "rerun"} {
		t.Run(how, func(t *testing.T) {
			spool := t.TempDir()
			cmd, stdout, _ := startBomb(t, spool)
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()
			// The child dies with its parent: the bomb stops growing.
			size := func() int64 {
				var n int64
				for _, f := range spoolFiles(t, spool) {
					if st, err := os.Stat(filepath.Join(spool, f)); err == nil {
						n += st.Size()
					}
				}
				return n
			}
			time.Sleep(300 * time.Millisecond)
			before := size()
			time.Sleep(500 * time.Millisecond)
			if after := size(); after != before {
				t.Errorf("the spool still grows after kill -9 (%d → %d bytes): the child outlived its parent", before, after)
			}
			var runDirs int
			entries, _ := os.ReadDir(spool)
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), runDirPrefix) {
					runDirs++
				}
			}
			if runDirs != 1 {
				t.Fatalf("%d run directories after kill -9: %v", runDirs, spoolFiles(t, spool))
			}
			var o *runOutput
			if how == "--clean-spool" {
				o = extract(t, "", "--spool", spool, "--clean-spool")
				if o.status != 0 || len(o.records) != 0 {
					t.Fatal(describe(o))
				}
			} else {
				o = extract(t, "", "--spool", spool, "--hash", "sha256")
				if o.status != 0 {
					t.Fatal(describe(o))
				}
			}
			if !strings.Contains(o.stderr, "removed 1 temporary directories and ") {
				t.Errorf("stderr: %s", o.stderr)
			}
			checkOnlyFinished(t, spool, stdout.String())
		})
	}
}

// --clean-spool beside a live run touches none of its files.
func TestCleanSpoolSparesLiveRun(t *testing.T) {
	spool := t.TempDir()
	cmd, stdout, _ := startBomb(t, spool)
	defer cmd.Process.Kill()
	o := extract(t, "", "--spool", spool, "--clean-spool")
	if o.status != 0 || !strings.Contains(o.stderr, "removed 0 temporary directories and 0 spool directories") {
		t.Fatal(describe(o))
	}
	var bomb, runDir bool
	for _, n := range spoolFiles(t, spool) {
		bomb = bomb || strings.HasSuffix(n, "/bomb")
		runDir = runDir || strings.HasPrefix(n, runDirPrefix)
	}
	if !bomb || !runDir {
		t.Errorf("the live run's files went: %v", spoolFiles(t, spool))
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	checkOnlyFinished(t, spool, stdout.String())
}
