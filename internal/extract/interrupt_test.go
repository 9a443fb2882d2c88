package extract

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets a test run hashr-extract as a process of its own (the
// test binary, with HASHR_EXTRACT_AS_MAIN set), to send it signals.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		installChildFaults()
	}
	if os.Getenv("HASHR_EXTRACT_AS_MAIN") != "" || os.Getenv(childEnv) == "1" {
		os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// Interrupted half-way through a source, hashr-extract exits 1 and leaves
// neither temporary files nor the spool of the unfinished source.
func TestInterruptCleansUp(t *testing.T) {
	spool := t.TempDir()
	cmd := exec.Command(os.Args[0], "--spool", spool, "--max-ratio", "100000", "--max-depth", "1")
	cmd.Env = append(os.Environ(), "HASHR_EXTRACT_AS_MAIN=1")
	// the bomb takes seconds to spool its 512 MiB; the tar first, done
	cmd.Stdin = strings.NewReader(sourceLine(fixture(t, "tree.tar")) + sourceLine(hostile(t, "bomb.gz")))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// wait until the bomb is being spooled
	deadline := time.Now().Add(20 * time.Second)
	for {
		names := assertOnlyRegularFiles(t, spool)
		spooling := false
		for _, n := range names {
			if strings.HasSuffix(n, "/bomb") {
				spooling = true
			}
		}
		if spooling {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the bomb never started spooling: %v\n%s", names, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("exit: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("stderr: %s", stderr.String())
	}
	// Only the tar's spool may be left, if its records were written.
	left := assertOnlyRegularFiles(t, spool)
	for _, n := range left {
		if strings.HasPrefix(n, ".hashr-extract-tmp") || strings.HasSuffix(n, "/bomb") {
			t.Errorf("left behind: %s", n)
		}
	}
	t.Logf("stderr: %s; left: %v", stderr.String(), left)
	entries, _ := os.ReadDir(spool)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".hashr-extract-tmp") {
			t.Errorf("temporary directory left: %s", e.Name())
		}
	}
	if n := strings.Count(stdout.String(), `"type":"file"`); n != 7 && n != 0 {
		t.Errorf("%d file records: the tar is all or nothing", n)
	}
	if len(left) != strings.Count(stdout.String(), `"type":"file"`) {
		t.Errorf("spool holds %d files for %d records: %v", len(left), strings.Count(stdout.String(), `"type":"file"`), left)
	}
}
