package extract

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	llsys "github.com/landlock-lsm/go-landlock/landlock/syscall"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/sandbox"
	"github.com/hashr-dev/hashr/pkg/records"
)

// faultEnv injects a fault into the sandbox children of the test binary,
// as "KIND@ID" (KIND:ARG@ID): the child extracting the source whose id is
// ID misbehaves the way a parser bug or an exploited parser would. Only
// the test binary honours it (installChildFaults, from TestMain).
const faultEnv = "HASHR_EXTRACT_TEST_FAULT"

func installChildFaults() {
	spec := os.Getenv(faultEnv)
	if spec == "" {
		return
	}
	kind, id, _ := strings.Cut(spec, "@")
	kind, arg, _ := strings.Cut(kind, ":")
	poisoned := false
	sandbox.ChildTestHook = func(p *cli.Program, source json.RawMessage) {
		var src struct {
			ID string `json:"id"`
		}
		json.Unmarshal(source, &src)
		if poisoned {
			panic("a source before left this child broken")
		}
		if src.ID != id && id != "*" {
			return
		}
		switch kind {
		case "poison": // breaks the child for the sources after this one
			poisoned = true
		case "pid":
			p.Warnf("fault: %s in process %d", src.ID, os.Getpid())
		case "panic":
			panic("injected parser bug")
		case "alloc":
			var hoard [][]byte
			for {
				b := make([]byte, 16<<20)
				for i := range b {
					b[i] = byte(i)
				}
				hoard = append(hoard, b) //lint:ignore SA4010 held, never read: the fault grows the heap until the child's memory limit kills it
			}
		case "spin":
			n := 0
			for {
				n++
			}
		case "write":
			err := os.WriteFile(arg, []byte("escaped\n"), 0o644)
			p.Warnf("fault: writing %s: %v", arg, err)
		case "read":
			_, err := os.ReadFile(arg)
			p.Warnf("fault: reading %s: %v", arg, err)
		case "env":
			p.Warnf("fault: env %s=%q", arg, os.Getenv(arg))
		case "hold":
			holdInChild(p)
		case "dial":
			c, err := net.DialTimeout("tcp", arg, 2*time.Second)
			if c != nil {
				c.Close()
			}
			p.Warnf("fault: dialling %s: %v", arg, err)
		}
	}
}

// sourceAs is a source record for a file under the id given.
func sourceAs(path, id string) string {
	abs, _ := filepath.Abs(path)
	b, _ := json.Marshal(map[string]string{"type": "source", "uri": abs, "id": id})
	return string(b) + "\n"
}

// threeSources has the faulty source between two good ones.
func threeSources(t *testing.T) string {
	return sourceLine(fixture(t, "tree.tar")) + sourceAs(fixture(t, "tree.zip"), "victim.zip") + sourceLine(fixture(t, "tree.cpio"))
}

// checkOthersWhole checks that the good sources of threeSources came out
// whole, in order, and the victim as one error.
func checkOthersWhole(t *testing.T, o *runOutput, spool string, wantMsg string) {
	t.Helper()
	if o.status != 3 {
		t.Fatalf("status %d\n%s", o.status, describe(o))
	}
	var order []string
	var hashed bool
	perSource := map[string]map[string]string{}
	var cur string
	for _, r := range o.records {
		switch r := r.(type) {
		case *records.Source:
			cur = r.ID
			order = append(order, r.ID)
			perSource[cur] = map[string]string{}
		case *records.File:
			if r.Local == "" { // --hash
				hashed = true
				perSource[cur][r.Path] = r.SHA256
				continue
			}
			perSource[cur][r.Path] = fileSHA256(t, r.Local)
		case *records.Error:
			if cur != "victim.zip" {
				t.Errorf("error record for %s: %s", cur, r.Message)
			} else if !strings.Contains(r.Message, wantMsg) {
				t.Errorf("victim's error %q does not say %q", r.Message, wantMsg)
			}
		case *records.End:
			if cur == "victim.zip" && (r.Errors != 1 || r.Files != 0) {
				t.Errorf("victim's end %+v", r)
			}
		}
	}
	if strings.Join(order, " ") != "tree.tar victim.zip tree.cpio" {
		t.Errorf("sources %v", order)
	}
	equalSums(t, "tree.tar", perSource["tree.tar"], treeSums(t))
	equalSums(t, "tree.cpio", perSource["tree.cpio"], treeSums(t))
	if len(perSource["victim.zip"]) != 0 {
		t.Errorf("victim has file records: %v", perSource["victim.zip"])
	}
	// The victim's spool is gone, and nothing temporary is left.
	names := assertOnlyRegularFiles(t, spool)
	if want := 2 * len(treeSums(t)); !hashed && len(names) != want || hashed && len(names) != 0 {
		t.Errorf("spool holds %d files: %v", len(names), names)
	}
	for _, n := range names {
		if strings.HasPrefix(n, runDirPrefix) {
			t.Errorf("left behind: %s", n)
		}
	}
}

// inModes runs f in spool mode and in --hash mode, each with a spool
// directory of its own to check.
func inModes(t *testing.T, f func(t *testing.T, spool string, mode ...string)) {
	for _, hash := range []bool{false, true} {
		spool := t.TempDir()
		mode, name := []string{"--spool", spool}, "spool"
		if hash {
			mode, name = append(mode, "--hash", "sha256"), "hash"
		}
		t.Run(name, func(t *testing.T) { f(t, spool, mode...) })
	}
}

// A source that crashes its parser fails alone (parsed again in a child
// of its own first); the others come out.
func TestSandboxPanic(t *testing.T) {
	t.Setenv(faultEnv, "panic@victim.zip")
	inModes(t, func(t *testing.T, spool string, mode ...string) {
		o := extract(t, threeSources(t), append(mode, "--workers", "2", "--verbose")...)
		checkOthersWhole(t, o, spool, "crashed: panic: injected parser bug")
		if !strings.Contains(o.stderr, "victim.zip: the sandboxed parser crashed") ||
			!strings.Contains(o.stderr, "parsing it again in a child of its own") {
			t.Errorf("stderr: %s", o.stderr)
		}
	})
}

func TestSandboxMemoryLimit(t *testing.T) {
	t.Setenv(faultEnv, "alloc@victim.zip")
	spool := t.TempDir()
	o := extract(t, threeSources(t), "--spool", spool, "--sandbox-memory", "128M")
	checkOthersWhole(t, o, spool, "went over the memory limit of 128M (set with --sandbox-memory)")
}

func TestSandboxCPULimit(t *testing.T) {
	t.Setenv(faultEnv, "spin@victim.zip")
	inModes(t, func(t *testing.T, spool string, mode ...string) {
		start := time.Now()
		o := extract(t, threeSources(t), append(mode, "--sandbox-cpu", "1s", "--workers", "1")...)
		checkOthersWhole(t, o, spool, "went over the CPU time limit of 1s (set with --sandbox-cpu)")
		if d := time.Since(start); d > 30*time.Second {
			t.Errorf("took %v", d)
		}
	})
}

// landlockABI is the kernel's Landlock ABI version, 0 without Landlock.
func landlockABI(t *testing.T) int {
	if data, err := os.ReadFile("/sys/kernel/security/lsm"); err == nil {
		t.Logf("/sys/kernel/security/lsm: %s", strings.TrimSpace(string(data)))
	}
	v, err := llsys.LandlockGetABIVersion()
	if err != nil {
		t.Logf("Landlock: %v", err)
		return 0
	}
	return v
}

// A parser taken over by its input cannot write, or read, outside, nor
// connect anywhere; the source's records still come out.
func TestSandboxConfines(t *testing.T) {
	abi := landlockABI(t)
	if abi < 1 {
		if os.Getenv("CI") != "" {
			t.Fatal("this kernel has no Landlock: the sandbox confines nothing but rlimits")
		}
		t.Skip("this kernel has no Landlock (the rlimit tests still run)")
	}
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret")
	os.WriteFile(secret, []byte("secret"), 0o600)
	evil := filepath.Join(outside, "evil")
	for _, tc := range []struct{ fault, want string }{
		{"write:" + evil, "fault: writing " + evil + ": open " + evil + ": permission denied"},
		{"write:" + filepath.Join(os.TempDir(), "hashr-sandbox-evil"), "permission denied"},
		{"read:" + secret, "fault: reading " + secret + ": open " + secret + ": permission denied"},
		{"read:/etc/passwd", "permission denied"},
	} {
		t.Run(tc.fault, func(t *testing.T) {
			t.Setenv(faultEnv, tc.fault+"@victim.zip")
			spool := t.TempDir()
			o := extract(t, sourceAs(fixture(t, "tree.zip"), "victim.zip"), "--spool", spool, "--verbose")
			if o.status != 0 || !strings.Contains(o.stderr, tc.want) {
				t.Fatalf("want %q\n%s", tc.want, describe(o))
			}
			equalSums(t, "tree.zip", o.sums(t), treeSums(t))
			mustNotExist(t, evil, filepath.Join(os.TempDir(), "hashr-sandbox-evil"))
			if !strings.Contains(o.stderr, "sandbox: sources are parsed in child processes; rlimits: ") ||
				!strings.Contains(o.stderr, "Landlock ABI") {
				t.Errorf("--verbose does not say what the sandbox applied:\n%s", o.stderr)
			}
		})
	}
	if abi < 4 {
		t.Logf("Landlock ABI %d: no network rules on this kernel", abi)
		return
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	t.Setenv(faultEnv, "dial:"+l.Addr().String()+"@victim.zip")
	o := extract(t, sourceAs(fixture(t, "tree.zip"), "victim.zip"), "--hash", "sha256", "--verbose")
	// The seccomp filter denies the socket before Landlock sees a connect.
	if o.status != 0 || !strings.Contains(o.stderr, "fault: dialling "+l.Addr().String()+": dial tcp "+l.Addr().String()+": socket: operation not permitted") {
		t.Fatalf("connect not denied:\n%s", describe(o))
	}
	if !strings.Contains(o.stderr, "TCP bind/connect denied") {
		t.Errorf("--verbose does not say the network is confined:\n%s", o.stderr)
	}
}

// One child parses several packages in turn; with --sandbox-sources 1,
// each has its own.
func TestSandboxSharedChildren(t *testing.T) {
	t.Setenv(faultEnv, "pid@*")
	input := threeSources(t)
	pids := func(o *runOutput) map[string]bool {
		m := map[string]bool{}
		for _, line := range strings.Split(o.stderr, "\n") {
			if _, pid, ok := strings.Cut(line, " in process "); ok {
				m[pid] = true
			}
		}
		return m
	}
	o := extract(t, input, "--hash", "sha256", "--workers", "1", "--verbose")
	if o.status != 0 || len(pids(o)) != 1 || !strings.Contains(o.stderr, "opens no source") {
		t.Fatalf("%d processes, want 1:\n%s", len(pids(o)), describe(o))
	}
	alone := extract(t, input, "--hash", "sha256", "--workers", "1", "--sandbox-sources", "1")
	if alone.status != 0 || len(pids(alone)) != 3 {
		t.Fatalf("--sandbox-sources 1: %d processes, want 3:\n%s", len(pids(alone)), describe(alone))
	}
	if two := extract(t, input, "--hash", "sha256", "--workers", "1", "--sandbox-sources", "2"); len(pids(two)) != 2 {
		t.Errorf("--sandbox-sources 2: %d processes, want 2:\n%s", len(pids(two)), describe(two))
	}
	for i := range o.lines {
		if _, end := o.records[i].(*records.End); !end && o.lines[i] != alone.lines[i] {
			t.Errorf("record %d: shared %s, alone %s", i, o.lines[i], alone.lines[i])
		}
	}
	// Spool mode: shared too; the files land in the sources' spool
	// directories, with nothing left in the children's.
	spool := t.TempDir()
	spooled := extract(t, input, "--spool", spool, "--workers", "1")
	if spooled.status != 0 || len(pids(spooled)) != 1 {
		t.Errorf("spool mode: %d processes, want 1\n%s", len(pids(spooled)), describe(spooled))
	}
	for _, r := range spooled.records {
		if f, ok := r.(*records.File); ok {
			if rel, err := filepath.Rel(spool, f.Local); err != nil || strings.Count(rel, "/") < 1 || strings.HasPrefix(rel, ".") {
				t.Errorf("%s spooled at %s", f.Path, f.Local)
			}
		}
	}
	equalSums(t, "spooled", spooled.sums(t), alone.sums(t))
	if names := assertOnlyRegularFiles(t, spool); len(names) != 3*len(treeSums(t)) {
		t.Errorf("spool holds %d files, want %d: %v", len(names), 3*len(treeSums(t)), names)
	}
}

// A source that leaves its shared child broken fails no other source:
// the next one, failing there, is parsed again in a child of its own.
func TestSandboxSharedPoisonedChild(t *testing.T) {
	t.Setenv(faultEnv, "poison@victim.zip")
	o := extract(t, threeSources(t), "--hash", "sha256", "--workers", "1", "--verbose")
	if o.status != 0 || !strings.Contains(o.stderr, "tree.cpio: a shared sandboxed parser failed on it") {
		t.Fatal(describe(o))
	}
	var n int
	for _, r := range o.records {
		if f, ok := r.(*records.File); ok && f.SHA256 != "" {
			n++
		}
	}
	if n != 3*len(treeSums(t)) {
		t.Errorf("%d files, want %d:\n%s", n, 3*len(treeSums(t)), describe(o))
	}
}

// The child does not see the credentials a pipeline's environment holds.
func TestSandboxEnvironment(t *testing.T) {
	t.Setenv("HASHR_DB", "postgres://user:secret@db/hashr")
	t.Setenv(faultEnv, "env:HASHR_DB@victim.zip")
	o := extract(t, sourceAs(fixture(t, "tree.zip"), "victim.zip"), "--hash", "sha256")
	if o.status != 0 || !strings.Contains(o.stderr, `fault: env HASHR_DB=""`) {
		t.Fatal(describe(o))
	}
}

// --no-sandbox parses in-process, and says so.
func TestNoSandbox(t *testing.T) {
	t.Setenv(faultEnv, "panic@tree.zip") // children only: no child here
	o := extract(t, sourceLine(fixture(t, "tree.zip")), "--hash", "sha256", "--no-sandbox")
	if o.status != 0 || !strings.Contains(o.stderr, "warning: --no-sandbox") {
		t.Fatal(describe(o))
	}
	equalSums(t, "tree.zip", o.sums(t), treeSums(t))
}

// A shared child parses a source it cannot open: its file is handed over.
func TestSandboxSharedOpensNoSource(t *testing.T) {
	if landlockABI(t) < 1 {
		t.Skip("this kernel has no Landlock")
	}
	zip, _ := filepath.Abs(fixture(t, "tree.zip"))
	t.Setenv(faultEnv, "read:"+zip+"@victim.zip")
	o := extract(t, sourceAs(zip, "victim.zip"), "--hash", "sha256")
	if o.status != 0 || !strings.Contains(o.stderr, "fault: reading "+zip+": open "+zip+": permission denied") {
		t.Fatal(describe(o))
	}
	equalSums(t, "tree.zip", o.sums(t), treeSums(t))
}
