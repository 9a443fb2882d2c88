package filehash

import (
	"runtime"

	"github.com/hashr-dev/hashr/internal/digest"
)

// Workers turns on the md5 engine where it pays (digest.UseMultiBuffer)
// and returns how many files a program hashing them (hashr-hash,
// hashr-lookup) hashes at once by default: two per CPU, and at least as
// many as the engine has lanes when it is on.
//
// One per CPU left the CPUs idle over trees of small files: a worker is
// off its CPU between files (opening the next, handing its record on),
// and an idle CPU is slow to take up the work it left (Go's scheduler
// sleeps 3 µs before it takes a goroutine from another CPU, and that
// sleep took 95 µs on the 2-vCPU VM). Over /usr/share/man's 21,380 files
// the CPUs idled 28% of hashr-hash's run (perf sched), and 4 workers took
// 0.26-0.28 s where 2 took 0.44-0.46 (best of 9-11, bench/README.md);
// over files of megabytes, which keep a worker on its CPU, 2, 4 and 8 took
// the same time. Each worker more holds a read buffer (peak RSS 32 MB
// where it was 23).
func Workers(set digest.Set) int {
	return max(2*runtime.GOMAXPROCS(0), digest.UseMultiBuffer(set))
}
