package digest

import (
	"errors"
	"io"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// BufferSize is the size of the reads ReadFrom makes.
const BufferSize = 1 << 20

var bufferPool = sync.Pool{New: func() any { b := make([]byte, BufferSize); return &b }}

// fanoutAfter is how much of an input ReadFrom hashes on its own goroutine
// before it hands the rest to one goroutine per lane: starting them costs
// microseconds, hashing a few MiB milliseconds.
const fanoutAfter = 4 * BufferSize

// fanoutLanes is how many goroutines may share the hashing of one input.
func fanoutLanes() int { return runtime.GOMAXPROCS(0) }

// cost is a rough figure of each algorithm's time per byte (nanoseconds per
// byte on an x86-64 with SHA extensions), used to spread the algorithms
// evenly over the lanes. Only the ratios matter.
var cost = map[Algo]float64{
	MD5: 1.6, SHA1: 0.55, SHA256: 0.6, SHA512: 1.4,
	CRC32: 0.05, BLAKE3: 0.35, SSDEEP: 2.5, TLSH: 3,
}

// costPair is sha1sha256's: sha1 and sha256 together take about 0.6 of
// their time one after the other.
const costPair = 0.7

// cost is the engine's time per byte, in cost's units.
func (e engine) cost() float64 {
	if e.algos == shaPair {
		return costPair
	}
	var c float64
	for _, a := range e.algos.Algos() {
		c += cost[a]
	}
	return c
}

// planLanes splits the engines into at most n groups of about equal cost,
// the costliest placed first, each into the group with the least so far.
// It returns nil when there is nothing to gain from more than one.
func planLanes(engines []engine, n int) [][]engine {
	n = min(n, len(engines))
	if n < 2 {
		return nil
	}
	sorted := slices.Clone(engines)
	slices.SortStableFunc(sorted, func(a, b engine) int {
		switch {
		case a.cost() > b.cost():
			return -1
		case a.cost() < b.cost():
			return 1
		}
		return 0
	})
	lanes := make([][]engine, n)
	load := make([]float64, n)
	for _, e := range sorted {
		i := 0
		for j := range load {
			if load[j] < load[i] {
				i = j
			}
		}
		lanes[i] = append(lanes[i], e)
		load[i] += e.cost()
	}
	// A lane that ends up with nothing (more lanes than engines) is dropped.
	lanes = slices.DeleteFunc(lanes, func(l []engine) bool { return len(l) == 0 })
	if len(lanes) < 2 {
		return nil
	}
	return lanes
}

// ReadFrom hashes everything r yields, until io.EOF, in buffers of
// BufferSize. After the first few MiB it hashes with one goroutine per lane
// of algorithms (md5 on one core, sha1 and sha256 on another, …), so a long
// input uses several cores. After UseMultiBuffer, on a CPU with AVX-512,
// an input's md5 goes instead to the md5x16 engine, which hashes the md5 of
// up to 16 inputs read at once by different goroutines, and the other
// algorithms run on the caller's goroutine. It returns the number of bytes read and the
// first error other than io.EOF; the digests then cover the bytes read.
func (h *Hasher) ReadFrom(r io.Reader) (int64, error) {
	if h.md5 >= 0 && h.n == 0 && multiBuffer.Load() {
		if e := md5Engine(); e != nil {
			// nil when all lanes are in use: then crypto/md5 here.
			if s := e.Open(); s != nil {
				return h.readMultiBuffer(r, s)
			}
		}
	}
	bufp := bufferPool.Get().(*[]byte)
	defer bufferPool.Put(bufp)
	buf := *bufp
	var read int64
	for {
		if h.lanes != nil && read >= fanoutAfter {
			n, err := h.readFanout(r, buf)
			return read + n, err
		}
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			h.Write(buf[:n])
			read += int64(n)
		}
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return read, nil
			}
			return read, err
		}
	}
}

// chunk is one buffer of input on its way through the lanes.
type chunk struct {
	buf     *[]byte
	n       int
	pending atomic.Int32 // lanes still to hash it
}

// readFanout reads the rest of r into a small ring of buffers and has each
// lane hash every buffer on its own goroutine. first is a buffer the caller
// owns, used as one of the ring's.
func (h *Hasher) readFanout(r io.Reader, first []byte) (int64, error) {
	const ringSize = 4
	free := make(chan *chunk, ringSize)
	free <- &chunk{buf: &first}
	for range ringSize - 1 {
		free <- &chunk{buf: bufferPool.Get().(*[]byte)}
	}
	defer func() {
		close(free)
		for c := range free {
			if c.buf != &first {
				bufferPool.Put(c.buf)
			}
		}
	}()

	feeds := make([]chan *chunk, len(h.lanes))
	var wg sync.WaitGroup
	for i, lane := range h.lanes {
		feeds[i] = make(chan *chunk, ringSize)
		wg.Go(func() {
			for c := range feeds[i] {
				writeEngines(lane, (*c.buf)[:c.n])
				if c.pending.Add(-1) == 0 {
					free <- c
				}
			}
		})
	}

	var read int64
	var readErr error
	for {
		c := <-free
		n, err := io.ReadFull(r, *c.buf)
		if n > 0 {
			h.account((*c.buf)[:n])
			read += int64(n)
			c.n = n
			c.pending.Store(int32(len(feeds)))
			for _, feed := range feeds {
				feed <- c
			}
		} else {
			free <- c
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				readErr = err
			}
			break
		}
	}
	for _, feed := range feeds {
		close(feed)
	}
	wg.Wait()
	return read, readErr
}
