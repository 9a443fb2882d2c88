// Package md5x16 computes the MD5 digests of up to 16 streams at once, one
// per 32-bit lane of the AVX-512 registers. MD5's 64 steps per block are one
// chain of dependent instructions, so one stream cannot go faster than
// about 1.3 ns per byte whatever the CPU; 16 streams in the lanes of one
// chain take barely longer than one. hashr hashes many files at once, and
// their md5 is where most of its time goes.
//
// An Engine owns the lanes and one goroutine that runs the kernel over
// every lane with data. Each Stream (one file) gets a lane and two buffers
// of the engine's memory: it reads its next bytes into one while the engine
// hashes the other. The state after the last whole block goes to
// crypto/md5 (Resume), which hashes the rest and pads, so digests come out
// exactly as crypto/md5's.
package md5x16

import (
	"encoding"
	"encoding/binary"
	"hash"
	"math/bits"
	"runtime"
	"sync"
	"time"
)

// Lanes is how many streams an Engine hashes at once.
const Lanes = 16

// BlockSize is MD5's block size: streams are handed over in whole blocks.
const BlockSize = 64

// Available reports whether this CPU has the kernel (AVX-512). Without it
// an Engine still computes the right digests, but slower than crypto/md5.
func Available() bool { return haveKernel }

// patience is how long the engine waits for every stream to have data
// before it runs with the lanes that have: a lane hashed alone costs as
// much as all 16, and a stream that is not ready is usually one whose
// goroutine is busy on a CPU, not one that is stuck. Waiting costs no CPU
// time; the limit is for a read that blocks on a slow disk.
const patience = 500 * time.Microsecond

// iv is MD5's initial state.
var iv = [4]uint32{0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476}

// Engine hashes the streams of up to Lanes goroutines at once. Its
// goroutine starts with NewEngine and runs as long as the program.
type Engine struct {
	bufSize int
	arena   []byte // Lanes * 2 buffers of bufSize, lane by lane

	mu    sync.Mutex
	lanes [Lanes]lane
	free  []int // lanes not in use
	wake  chan struct{}
	cpus  int // GOMAXPROCS when the engine started

	// The engine goroutine's alone: the lanes' state.
	state [4][Lanes]uint32
}

type lane struct {
	jobs   [2]job // submitted buffers, oldest first
	queued int
	active bool // has submitted since it was opened: the engine waits for it
	// blocked: its goroutine waits for the engine. When too few active
	// lanes' goroutines are left running to keep the CPUs busy, the engine
	// waits for no more lanes: waiting would leave a CPU idle.
	blocked bool
	fresh   bool // its state must be set to the IV before its next block
	done    chan [4]uint32
}

// job is a submitted buffer's whole blocks not yet hashed.
type job struct {
	off    uint32 // from the arena's start
	blocks int
}

// NewEngine starts an engine whose streams get two buffers of bufSize
// bytes each (rounded up to whole blocks).
func NewEngine(bufSize int) *Engine {
	bufSize = (bufSize + BlockSize - 1) &^ (BlockSize - 1)
	if Lanes*2*bufSize > 1<<31 {
		panic("md5x16: buffers too large for 32-bit offsets")
	}
	e := &Engine{bufSize: bufSize, arena: make([]byte, Lanes*2*bufSize), wake: make(chan struct{}, 1), cpus: runtime.GOMAXPROCS(0)}
	for l := range Lanes {
		e.free = append(e.free, Lanes-1-l)
		e.lanes[l].done = make(chan [4]uint32, 2)
	}
	go e.run()
	return e
}

// Stream is one input's lane. Its methods are for one goroutine.
type Stream struct {
	e       *Engine
	lane    int
	bufs    [2][]byte
	next    int // the buffer Buffer returns
	pending int // submitted buffers not yet hashed
	state   [4]uint32
	hashed  uint64 // bytes submitted
}

// Open returns a stream on a free lane, or nil when all are in use (the
// caller then hashes on its own).
func (e *Engine) Open() *Stream {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.free) == 0 {
		return nil
	}
	l := e.free[len(e.free)-1]
	e.free = e.free[:len(e.free)-1]
	e.lanes[l].fresh = true
	e.lanes[l].blocked = false
	s := &Stream{e: e, lane: l, state: iv}
	for i := range s.bufs {
		off := (2*l + i) * e.bufSize
		s.bufs[i] = e.arena[off : off+e.bufSize : off+e.bufSize]
	}
	return s
}

// Buffer returns the buffer to fill next, waiting until the engine is done
// with it. Its length is the engine's buffer size, a multiple of BlockSize.
func (s *Stream) Buffer() []byte {
	if s.pending == len(s.bufs) {
		s.wait()
	}
	return s.bufs[s.next]
}

// wait waits for the oldest submitted buffer to be hashed.
func (s *Stream) wait() {
	e := s.e
	ln := &e.lanes[s.lane]
	e.mu.Lock()
	// The engine sends under the lock: a buffer not yet sent is one the
	// engine will clear blocked for.
	if len(ln.done) == 0 {
		ln.blocked = true
	}
	e.mu.Unlock()
	e.signal()
	s.state = <-ln.done
	s.pending--
}

// Submit hands the first blocks*BlockSize bytes of the buffer Buffer
// returned to the engine. The caller may go on reading them, but not
// change them, until Buffer returns that buffer again or Close returns.
func (s *Stream) Submit(blocks int) {
	if blocks <= 0 {
		return
	}
	if blocks*BlockSize > s.e.bufSize {
		panic("md5x16: submitting more than a buffer")
	}
	e := s.e
	e.mu.Lock()
	ln := &e.lanes[s.lane]
	ln.jobs[ln.queued] = job{off: uint32((2*s.lane + s.next) * e.bufSize), blocks: blocks}
	ln.queued++
	ln.active = true
	e.mu.Unlock()
	s.pending++
	s.next ^= 1
	s.hashed += uint64(blocks) * BlockSize
	e.signal()
}

// Close waits for the submitted blocks to be hashed, frees the lane, and
// returns the state after them and their number of bytes, for Resume. The
// stream's buffers belong to the engine again.
func (s *Stream) Close() (state [4]uint32, n uint64) {
	e := s.e
	for s.pending > 0 {
		s.wait()
	}
	e.mu.Lock()
	e.lanes[s.lane].active = false
	e.free = append(e.free, s.lane)
	e.mu.Unlock()
	e.signal() // the engine may have been waiting for this lane
	s.e = nil
	return s.state, s.hashed
}

func (e *Engine) signal() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// run is the engine's goroutine: it runs the kernel over the lanes with
// data, as many blocks as the shortest of them has, and hands back the
// buffers it finished.
func (e *Engine) run() {
	var offsets [Lanes]uint32
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var waitingSince time.Time // when some but not all active lanes had data
	for {
		r := e.nextRound(&offsets)
		if r.waitForMore(e.cpus, waitingSince) {
			if r.ready > 0 && waitingSince.IsZero() {
				waitingSince = time.Now()
				timer.Reset(patience)
			}
			select {
			case <-e.wake:
			case <-timer.C:
			}
			continue
		}
		waitingSince = time.Time{}
		timer.Stop()
		e.hashRound(r, &offsets)
		e.finishRound(r)
	}
}

// A round is one run of the kernel: the lanes it hashes and how many
// blocks, and the counts that say whether to wait for more lanes first.
type round struct {
	mask    uint16 // the lanes with data
	n       int    // blocks each of them hashes: the fewest any has
	ready   int    // lanes in mask
	active  int    // lanes whose streams are open and have submitted
	running int    // active lanes whose goroutines are not waiting for the engine
}

// waitForMore says whether to wait before running the round: while no
// lane has data, or while some active lanes have none yet but their
// goroutines keep the CPUs busy anyway, for at most patience since the
// wait began (waitingSince, zero when it has not).
func (r round) waitForMore(cpus int, waitingSince time.Time) bool {
	if r.ready == 0 {
		return true
	}
	return r.ready < r.active && r.running >= cpus && (waitingSince.IsZero() || time.Since(waitingSince) < patience)
}

// nextRound looks at every lane under the lock, sets offsets[l] to where
// lane l's next block is, starts the state of lanes new since the last
// round, and returns the round the lanes with data make.
func (e *Engine) nextRound(offsets *[Lanes]uint32) round {
	var r round
	e.mu.Lock()
	defer e.mu.Unlock()
	for l := range e.lanes {
		ln := &e.lanes[l]
		if ln.active {
			r.active++
			if !ln.blocked {
				r.running++
			}
		}
		if ln.queued == 0 {
			// The kernel loads every lane's blocks, masked or not:
			// this lane's first buffer is as long as any job.
			offsets[l] = uint32(2 * l * e.bufSize)
			continue
		}
		if ln.fresh {
			for w := range 4 {
				e.state[w][l] = iv[w]
			}
			ln.fresh = false
		}
		r.ready++
		r.mask |= 1 << l
		j := ln.jobs[0]
		offsets[l] = j.off
		if r.n == 0 || j.blocks < r.n {
			r.n = j.blocks
		}
	}
	return r
}

// hashRound hashes the round's blocks into its lanes' state.
func (e *Engine) hashRound(r round, offsets *[Lanes]uint32) {
	// A lane's chain of steps is twice as long in the vector unit as
	// in the scalar one (on an AMD Zen 5 each vector instruction takes
	// two cycles to its result, a scalar one one): with few lanes to
	// fill, the scalar registers are cheaper, two lanes at once.
	if r.ready >= minKernelLanes {
		blocks(&e.state, &e.arena[0], offsets, r.mask, r.n)
	} else {
		e.scalar(lanesOf(r.mask), offsets, r.n)
	}
}

// finishRound moves each hashed lane's job past the round's blocks, and
// hands back the buffers that have no blocks left.
func (e *Engine) finishRound(r round) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for l := range e.lanes {
		if r.mask&(1<<l) == 0 {
			continue
		}
		ln := &e.lanes[l]
		ln.jobs[0].off += uint32(r.n * BlockSize)
		ln.jobs[0].blocks -= r.n
		if ln.jobs[0].blocks == 0 {
			ln.jobs[0] = ln.jobs[1]
			ln.queued--
			ln.blocked = false
			// Never blocks: the channel holds as many as a lane
			// can have submitted.
			ln.done <- e.laneState(l)
		}
	}
}

// minKernelLanes is the fewest lanes the kernel runs for: its step costs
// about 2.1 blocks of blocksOne's, 1.9 of blocksPair's, whatever the
// number of lanes.
const minKernelLanes = 3

// lanesOf lists the lanes of mask.
func lanesOf(mask uint16) []int {
	var ls []int
	for ; mask != 0; mask &= mask - 1 {
		ls = append(ls, bits.TrailingZeros16(mask))
	}
	return ls
}

// scalar hashes the n blocks at offsets[l] into lane l's state, for each
// lane of ls, in the scalar registers: two at a time with blocksPair, the
// last one alone with blocksOne.
func (e *Engine) scalar(ls []int, offsets *[Lanes]uint32, n int) {
	for ; len(ls) >= 2; ls = ls[2:] {
		l0, l1 := ls[0], ls[1]
		s0, s1 := e.laneState(l0), e.laneState(l1)
		blocksPair(&s0, &s1, &e.arena[offsets[l0]], &e.arena[offsets[l1]], n)
		e.setLaneState(l0, s0)
		e.setLaneState(l1, s1)
	}
	if len(ls) == 1 {
		s := e.laneState(ls[0])
		blocksOne(&s, &e.arena[offsets[ls[0]]], n)
		e.setLaneState(ls[0], s)
	}
}

// laneState is lane l's state, out of the kernel's word-by-word layout.
func (e *Engine) laneState(l int) [4]uint32 {
	return [4]uint32{e.state[0][l], e.state[1][l], e.state[2][l], e.state[3][l]}
}

func (e *Engine) setLaneState(l int, s [4]uint32) {
	for w := range s {
		e.state[w][l] = s[w]
	}
}

// Resume sets h, a crypto/md5 hash, to the state after n bytes (a multiple
// of BlockSize), so that it hashes what follows and pads as if it had
// hashed those bytes itself.
func Resume(h hash.Hash, state [4]uint32, n uint64) error {
	// crypto/md5's marshalled state: magic, the four words, the partial
	// block (none here), the length.
	b := make([]byte, 0, 4+16+BlockSize+8)
	b = append(b, "md5\x01"...)
	for _, w := range state {
		b = binary.BigEndian.AppendUint32(b, w)
	}
	b = append(b, make([]byte, BlockSize)...)
	b = binary.BigEndian.AppendUint64(b, n)
	return h.(encoding.BinaryUnmarshaler).UnmarshalBinary(b)
}
