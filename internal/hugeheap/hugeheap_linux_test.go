package hugeheap

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

// childEnv makes the test binary a child that calls Reserve (or not:
// "none") first, as a command's main does, and reports on stdout.
const childEnv = "HASHR_HUGEHEAP_TEST_CHILD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		child(mode)
		return
	}
	os.Exit(m.Run())
}

// child reports whether Reserve reserved, the page faults it took, and
// whether an allocation after it is marked for huge pages.
func child(mode string) {
	before := minorFaults()
	reserved := mode == "reserve" && Reserve(256<<20)
	faults := minorFaults() - before
	after := make([]byte, 32<<20)
	marked, err := markedHuge(after)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Printf("reserved=%v marked=%v faults=%d\n", reserved, marked, faults)
	os.Exit(0)
}

func runChild(t *testing.T, mode string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+mode)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child %s: %v: %s", mode, err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestReserveMarksTheHeapsNextPages checks, in a fresh process, that the
// heap's pages after Reserve are marked for huge pages, that they are not
// without it, and that Reserve touched none of the bytes it reserved. The
// mark is the mapping's "hg" flag in /proc/self/smaps: whether the kernel
// then finds free huge pages is its own matter.
func TestReserveMarksTheHeapsNextPages(t *testing.T) {
	if !worthAsking() {
		t.Skip("transparent huge pages are not on \"madvise\" here (or overcommit is strict, or 32-bit): Reserve does nothing")
	}
	if got := runChild(t, "none"); !strings.HasPrefix(got, "reserved=false marked=false ") {
		t.Fatalf("without Reserve: %s, want an allocation not marked: the test cannot tell what Reserve does", got)
	}
	got := runChild(t, "reserve")
	var reserved, marked bool
	var faults int
	if _, err := fmt.Sscanf(got, "reserved=%t marked=%t faults=%d", &reserved, &marked, &faults); err != nil {
		t.Fatalf("child said %q: %v", got, err)
	}
	if !reserved || !marked {
		t.Errorf("first in a process, Reserve: %s, want reserved and the next allocation marked", got)
	}
	// 256 MiB zeroed would be 65,536 faults; the collection and the
	// runtime's metadata take a few hundred.
	if faults > 5000 {
		t.Errorf("Reserve of 256 MiB took %d page faults: it touched the bytes it reserved", faults)
	}
}

// TestReserveRefusesACollectedHeap is the hazard Reserve guards against:
// once the heap's top pages have been used and freed, the runtime zeroes
// a new allocation over them, and the reservation would fault in every
// page of it.
func TestReserveRefusesACollectedHeap(t *testing.T) {
	garbage := make([]byte, 1<<20)
	garbage[0] = 1
	runtime.KeepAlive(garbage)
	garbage = nil
	runtime.GC()
	before := minorFaults()
	if Reserve(128 << 20) {
		t.Error("Reserve reserved in a heap that has been collected")
	}
	if faults := minorFaults() - before; faults > 5000 {
		t.Errorf("Reserve of 128 MiB in a collected heap took %d page faults", faults)
	}
}

func minorFaults() int64 {
	var r syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r)
	return r.Minflt
}

// markedHuge says whether the mapping holding b's middle has the "hg"
// (MADV_HUGEPAGE) flag.
func markedHuge(b []byte) (bool, error) {
	addr := uintptr(unsafe.Pointer(unsafe.SliceData(b))) + uintptr(len(b)/2)
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return false, err
	}
	defer f.Close()
	inside := false
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := s.Text()
		var lo, hi uintptr
		if n, _ := fmt.Sscanf(line, "%x-%x ", &lo, &hi); n == 2 {
			inside = lo <= addr && addr < hi
			continue
		}
		if flags, ok := strings.CutPrefix(line, "VmFlags:"); ok && inside {
			return slices.Contains(strings.Fields(flags), "hg"), nil
		}
	}
	if err := s.Err(); err != nil {
		return false, fmt.Errorf("reading /proc/self/smaps: %w", err)
	}
	return false, fmt.Errorf("no mapping in /proc/self/smaps holds address %#x", addr)
}
