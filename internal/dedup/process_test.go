package dedup

// Tests that need hashr-dedup as a process of its own: a second process
// on a locked store, kill -9 in the middle of writing, a full disk.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// dedupBinary builds cmd/hashr-dedup once, as the Makefile does (no cgo).
func dedupBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			//lint:ignore SA1019 a test binary runs where go test built it, so the GOROOT it was built with is there
			goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		if binDir, buildErr = os.MkdirTemp("", "hashr-dedup-test-"); buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "hashr-dedup")
		cmd := exec.Command(goTool, "build", "-o", binPath, "github.com/hashr-dev/hashr/cmd/hashr-dedup")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// streamFile writes a stream of n file records (30% repeating an earlier
// digest) to a file and returns it with the number of distinct digests.
func streamFile(t *testing.T, dir string, n int) (string, int) {
	t.Helper()
	ids := make([]int, n)
	distinct := map[int]bool{}
	next := 0
	for i := range ids {
		if i%10 < 3 && next > 0 {
			ids[i] = (i * 7919) % next
		} else {
			ids[i] = next
			next++
		}
		distinct[ids[i]] = true
	}
	name := filepath.Join(dir, "stream.ndjson")
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	writeStream(f, ids, 5000)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return name, len(distinct)
}

func storeKeys(t *testing.T, bin, store string) int64 {
	t.Helper()
	out, err := exec.Command(bin, "stats", "--store", store).Output()
	if err != nil {
		t.Fatalf("stats on the store: %v", err)
	}
	var st struct{ Keys int64 }
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatalf("stats: %q: %v", out, err)
	}
	return st.Keys
}

// lockedByOther reports whether a process holds the store's lock.
func lockedByOther(name string) bool {
	f, err := os.Open(name)
	if err != nil {
		return false
	}
	defer f.Close()
	lk := syscall.Flock_t{Type: syscall.F_WRLCK}
	return syscall.FcntlFlock(f.Fd(), syscall.F_GETLK, &lk) == nil && lk.Type != syscall.F_UNLCK
}

func TestSecondProcessGetsALockError(t *testing.T) {
	bin := dedupBinary(t)
	store := filepath.Join(t.TempDir(), "store")

	// The first process opens the store, then waits on its stdin.
	first := exec.Command(bin, "--store", store)
	stdin, err := first.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var firstOut bytes.Buffer
	first.Stdout = &firstOut
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	defer first.Process.Kill()
	lock := filepath.Join(store, "LOCK")
	for deadline := time.Now().Add(30 * time.Second); !lockedByOther(lock); {
		if time.Now().After(deadline) {
			t.Fatal("the first process never locked the store")
		}
		time.Sleep(20 * time.Millisecond)
	}

	for _, args := range [][]string{{"--store", store}, {"seed", "--store", store}, {"stats", "--store", store}} {
		second := exec.Command(bin, args...)
		second.Stdin = strings.NewReader("")
		var stderr bytes.Buffer
		second.Stderr = &stderr
		err := second.Run()
		if code := second.ProcessState.ExitCode(); code != 1 {
			t.Fatalf("%v: exit status %d (%v), want 1; stderr:\n%s", args, code, err, stderr.String())
		}
		want := fmt.Sprintf(`hashr-dedup: error: store %q is in use by another process: its lock file %q is held`, store, lock)
		if !strings.Contains(stderr.String(), want) || !strings.Contains(stderr.String(), "hashr-dedup: hint: wait for the other hashr-dedup to finish") {
			t.Fatalf("%v: stderr\n%s\nwant it to contain\n%s", args, stderr.String(), want)
		}
	}

	// The first process goes on undisturbed.
	fmt.Fprintf(stdin, `{"type":"file","path":"a","sha256":"%s"}`+"\n", digestHex(1))
	stdin.Close()
	if err := first.Wait(); err != nil {
		t.Fatalf("first process: %v", err)
	}
	if !strings.Contains(firstOut.String(), `"seen":false}`) {
		t.Fatalf("first process wrote %q", firstOut.String())
	}
}

// Killing hashr-dedup with SIGKILL at any point never damages the store:
// it opens, a re-run works, and it ends up holding every digest exactly
// once; what a killed run wrote as new is seen by the next.
func TestKill9DuringWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 130 MB stream")
	}
	bin := dedupBinary(t)
	dir := t.TempDir()
	input, distinct := streamFile(t, dir, 600_000)
	info, _ := os.Stat(input)
	store := filepath.Join(dir, "store")
	newInKilledRuns := map[string]bool{}
	kills := 0

	for _, fraction := range []float64{0.05, 0.3, 0.55, 0.8} {
		outName := filepath.Join(dir, "out.ndjson")
		if runKilledAt(t, bin, store, input, outName, int64(fraction*float64(info.Size()))) {
			kills++
		}
		data, _ := os.ReadFile(outName)
		for sha := range newDigests(t, data) {
			newInKilledRuns[sha] = true
		}
		// The store opens after every kill.
		storeKeys(t, bin, store)
		if leftovers, _ := filepath.Glob(filepath.Join(store, "pending-*")); len(leftovers) > 0 {
			t.Fatalf("opening the store left %v", leftovers)
		}
	}
	if len(newInKilledRuns) == 0 || kills < 3 {
		t.Fatalf("%d kills, %d digests written as new: the test tests too little", kills, len(newInKilledRuns))
	}
	checkRerunAfterKills(t, bin, store, input, newInKilledRuns)
	if got := storeKeys(t, bin, store); got != int64(distinct) {
		t.Fatalf("store holds %d digests, the stream has %d distinct", got, distinct)
	}
}

// runKilledAt runs hashr-dedup over input into outName, and kills it
// with SIGKILL once the output passes target bytes (about that share of
// the input's size); it says whether it killed the run before it ended.
func runKilledAt(t *testing.T, bin, store, input, outName string, target int64) (killed bool) {
	t.Helper()
	out, err := os.Create(outName)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command(bin, "--store", store, input)
	cmd.Stdout = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case <-done:
			return false
		case <-time.After(5 * time.Millisecond):
			if fi, err := out.Stat(); err == nil && fi.Size() >= target {
				cmd.Process.Signal(syscall.SIGKILL)
				<-done
				logs, _ := filepath.Glob(filepath.Join(store, "pending-*"))
				t.Logf("killed at %d MB of output; left %d pending files", fi.Size()>>20, len(logs))
				return true
			}
		}
	}
}

// newDigests returns the digests of the file records of data (a run's
// output) that it wrote as new.
func newDigests(t *testing.T, data []byte) map[string]bool {
	t.Helper()
	written := map[string]bool{}
	for _, rec := range readOutput(t, data) {
		if rec.Type == "file" && rec.Seen != nil && !*rec.Seen {
			written[rec.SHA256] = true
		}
	}
	return written
}

// checkRerunAfterKills runs hashr-dedup over input to the end: nothing a
// killed run wrote as new is new again, and every repeat of a digest in
// the stream is seen.
func checkRerunAfterKills(t *testing.T, bin, store, input string, newInKilledRuns map[string]bool) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, "--store", store, input)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("re-run after the kills: %v\n%s", err, stderr.String())
	}
	firstInStream := map[string]bool{}
	for _, rec := range readOutput(t, stdout.Bytes()) {
		if rec.Type != "file" {
			continue
		}
		if newInKilledRuns[rec.SHA256] && !*rec.Seen {
			t.Fatalf("%s was written as new by a killed run, and the re-run says new again", rec.Path)
		}
		if firstInStream[rec.SHA256] && !*rec.Seen {
			t.Fatalf("%s repeats a digest of the stream and is not seen", rec.Path)
		}
		firstInStream[rec.SHA256] = true
	}
}

// A killed seed adds all of its digests or none.
func TestKill9DuringSeed(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 65 MB hash list")
	}
	bin := dedupBinary(t)
	dir := t.TempDir()
	list := filepath.Join(dir, "list.txt")
	f, _ := os.Create(list)
	w := bufio.NewWriter(f)
	const n = 1_000_000
	for i := range n {
		fmt.Fprintln(w, digestHex(i))
	}
	w.Flush()
	f.Close()
	var store string
	for i, after := range []time.Duration{100 * time.Millisecond, 300 * time.Millisecond, 500 * time.Millisecond, 700 * time.Millisecond} {
		store = filepath.Join(dir, fmt.Sprint("store", i))
		cmd := exec.Command(bin, "seed", "--store", store, list)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(after)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		got := storeKeys(t, bin, store)
		if got != 0 && got != n {
			t.Fatalf("after a kill at %v the store holds %d digests: want 0 or %d", after, got, n)
		}
		t.Logf("killed after %v: %d digests", after, got)
		if stale, _ := filepath.Glob(filepath.Join(store, "seed-tmp-*")); len(stale) > 0 {
			t.Fatalf("scratch files left after reopening: %v", stale)
		}
	}
	if out, err := exec.Command(bin, "seed", "--store", store, list).CombinedOutput(); err != nil {
		t.Fatalf("seed after the kills: %v\n%s", err, out)
	}
	if got := storeKeys(t, bin, store); got != n {
		t.Fatalf("store holds %d digests, want %d", got, n)
	}
}

// On a disk that fills up, hashr-dedup stops with a clear error before the
// disk is full; the store opens again, and a re-run with space completes.
// It needs a small file system of its own: a tmpfs, mounted as root.
func TestFullDisk(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 220 MB stream")
	}
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	bin := dedupBinary(t)
	dir := t.TempDir()
	mnt := mountSmallTmpfs(t, filepath.Join(dir, "small"))
	input, distinct := streamFile(t, dir, 1_000_000)
	store := filepath.Join(mnt, "store")
	storeKeys(t, bin, store) // creates it
	// Leave about 90 MiB free.
	filler := filepath.Join(mnt, "filler")
	if err := os.WriteFile(filler, make([]byte, 70<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	newBefore := runUntilDiskFull(t, bin, store, input)

	os.Remove(filler)
	storeKeys(t, bin, store) // the store opens
	var stdout bytes.Buffer
	cmd := exec.Command(bin, "--store", store, input)
	cmd.Stdout, cmd.Stderr = &stdout, io.Discard
	if err := cmd.Run(); err != nil {
		t.Fatalf("re-run with space: %v", err)
	}
	for _, rec := range readOutput(t, stdout.Bytes()) {
		if rec.Type == "file" && newBefore[rec.SHA256] && !*rec.Seen {
			t.Fatalf("%s was new before the disk filled and is new again", rec.Path)
		}
	}
	if got := storeKeys(t, bin, store); got != int64(distinct) {
		t.Fatalf("store holds %d digests, the stream has %d distinct", got, distinct)
	}
}

// mountSmallTmpfs mounts a tmpfs of 160 MiB at mnt until the test ends,
// or skips the test.
func mountSmallTmpfs(t *testing.T, mnt string) string {
	t.Helper()
	os.Mkdir(mnt, 0o755)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=160m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	return mnt
}

// runUntilDiskFull runs hashr-dedup over input on a disk too small for
// its store: it must stop with exit status 1 and say why and what to do,
// having written some digests as new, which it returns.
func runUntilDiskFull(t *testing.T, bin, store, input string) map[string]bool {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, "--store", store, input)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Run()
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Fatalf("exit status %d, want 1; stderr:\n%s", code, stderr.String())
	}
	for _, want := range []string{"the disk holding the store is almost full", "hashr-dedup: hint: free some space"} {
		if !strings.Contains(stderr.String(), want) {
			t.Fatalf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	newBefore := newDigests(t, stdout.Bytes())
	if len(newBefore) == 0 {
		t.Fatal("nothing was written before the disk filled: the test tests nothing")
	}
	t.Logf("stopped after %d new digests:\n%s", len(newBefore), stderr.String())
	return newBefore
}
