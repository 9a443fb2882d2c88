package wim

import (
	"runtime"
	"sync"
)

// Chunks are compressed independently of each other, so a long blob's
// chunks are decoded ahead of the reader on every CPU: LZX decodes at a
// fraction of the speed the digests run at.

// aheadMinChunks is how many chunks a read must span to be decoded ahead.
const aheadMinChunks = 4

// decodeSlots bounds the chunk decodes running at once, in the process.
var decodeSlots = make(chan struct{}, runtime.GOMAXPROCS(0))

// decoderPool keeps decoders and their buffers from blob to blob.
var decoderPool = sync.Pool{New: func() any { return newDecoder(nil) }}

// ahead decodes chunks from..to-1 of a resource in order, a window of them
// in flight.
type ahead struct {
	r       *resource
	next    int // the next chunk to start decoding
	to      int
	window  int
	pending []*aheadChunk
	cur     *aheadChunk
}

type aheadChunk struct {
	i    int
	done chan struct{}
	d    *decoder // holds the output
	data []byte
	err  error
}

func newAhead(r *resource, from, to int) *ahead {
	// In flight: two chunks per CPU, within 64 MiB of output.
	window := max(1, min(2*cap(decodeSlots), (64<<20)/r.chunkSize))
	return &ahead{r: r, next: from, to: to, window: window}
}

// chunk returns chunk i's bytes; i only grows from call to call.
func (a *ahead) chunk(i int) ([]byte, error) {
	if a.cur != nil && a.cur.i == i {
		return a.cur.data, a.cur.err
	}
	a.release()
	for a.next < a.to && a.next < i+a.window {
		a.start(a.next)
		a.next++
	}
	for len(a.pending) > 0 {
		c := a.pending[0]
		a.pending = a.pending[1:]
		<-c.done
		if c.i == i {
			a.cur = c
			return c.data, c.err
		}
		decoderPool.Put(c.d)
	}
	// Not started: decode it here (a read that skipped about).
	c := &aheadChunk{i: i, d: pooledDecoder(a.r)}
	c.data, c.err = c.d.chunk(i)
	a.cur = c
	return c.data, c.err
}

func (a *ahead) start(i int) {
	c := &aheadChunk{i: i, done: make(chan struct{}), d: pooledDecoder(a.r)}
	a.pending = append(a.pending, c)
	go func() {
		decodeSlots <- struct{}{}
		c.data, c.err = c.d.chunk(c.i)
		<-decodeSlots
		close(c.done)
	}()
}

// release gives the current chunk's buffers back.
func (a *ahead) release() {
	if a.cur != nil {
		decoderPool.Put(a.cur.d)
		a.cur = nil
	}
}
