package lookup

import "runtime"

// cpuGate lets at most as many of hashr-lookup's hashing and SQLite
// lookups run at once as Go runs goroutines (GOMAXPROCS): hashing a file
// and looking a batch up both take a place while they run. Without it, a
// batch's lookup on its one connection shared the CPUs with every hashing
// worker (on 2 CPUs, 2 workers and the lookup had two thirds of a CPU
// each), fell behind, and was left to finish alone on one CPU when the
// hashing ended: over /usr/share/man, hashr-lookup kept 1.70 CPUs busy
// where hashr-hash kept 1.88. With the gate, a lookup has a CPU of its own
// while one fewer file is hashed, and the hashing has them all between
// batches. A nil gate lets everything run.
type cpuGate chan struct{}

func newCPUGate() cpuGate { return make(cpuGate, runtime.GOMAXPROCS(0)) }

// gateFor is the gate for o's run: one when files are hashed and looked up
// in SQLite, one batch at a time, by no more hashing workers than Go runs
// goroutines; else nil. More workers than that (--workers) are for trees
// whose reads wait on a disk or a network, which the gate would hold
// back.
func gateFor(o *options) cpuGate {
	if len(o.paths) > 0 && lookupWorkersFor(o) == 1 && o.workers <= runtime.GOMAXPROCS(0) {
		return newCPUGate()
	}
	return nil
}

// run calls f once a place is free, and frees it when f returns. Places
// go in the order they were asked for: a lookup waits for no more than
// the files already waiting.
func (g cpuGate) run(f func()) {
	if g == nil {
		f()
		return
	}
	g <- struct{}{}
	defer func() { <-g }()
	f()
}
