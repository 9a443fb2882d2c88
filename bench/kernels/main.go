// Command kernels measures the ceiling on hashing throughput that Go's own
// md5, sha1 and sha256 implementations set on this machine: one goroutine
// per CPU, each hashing an in-memory buffer with the three in turn, with no
// file system, no records and no hashr code involved. bench/run.sh compares
// hashr-hash's throughput with it.
//
//	go run ./bench/kernels [-seconds 5]
//
// It prints on its first line the throughput in bytes per second of wall
// time, and in bytes per second of CPU time (user+system, which a busy
// machine disturbs less), then a line for people.
package main

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"flag"
	"fmt"
	"hash"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// cpuTime is the user and system time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func main() {
	seconds := flag.Float64("seconds", 5, "how long to measure")
	bufSize := flag.Int("buffer", 1<<20, "bytes hashed by each algorithm in turn")
	flag.Parse()

	workers := runtime.NumCPU()
	var total atomic.Int64
	var stop atomic.Bool
	var wg sync.WaitGroup
	start, cpuStart := time.Now(), cpuTime()
	for w := range workers {
		wg.Go(func() {
			buf := make([]byte, *bufSize)
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for i := range buf {
				buf[i] = byte(rng.Uint32())
			}
			hashes := []hash.Hash{md5.New(), sha1.New(), sha256.New()}
			for !stop.Load() {
				for _, h := range hashes {
					h.Write(buf)
				}
				total.Add(int64(len(buf)))
			}
		})
	}
	time.Sleep(time.Duration(*seconds * float64(time.Second)))
	stop.Store(true)
	wg.Wait()
	elapsed, cpu := time.Since(start), cpuTime()-cpuStart
	rate := float64(total.Load()) / elapsed.Seconds()
	cpuRate := float64(total.Load()) / cpu.Seconds()
	fmt.Printf("%.0f %.0f\n", rate, cpuRate)
	fmt.Printf("md5+sha1+sha256 kernels: %.0f MB/s on %d goroutines (%d CPUs), %.0f MB per CPU-second\n",
		rate/1e6, workers, runtime.NumCPU(), cpuRate/1e6)
}
