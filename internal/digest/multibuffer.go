package digest

import (
	"errors"
	"hash"
	"io"
	"sync"
	"sync/atomic"

	"github.com/hashr-dev/hashr/internal/digest/md5x16"
)

// md5Engine is the process's one md5x16 engine, which hashes the md5 of up
// to 16 inputs at once in the AVX-512 lanes, or nil on a CPU without them.
// A variable so that tests can put an engine of their own in its place.
var md5Engine = sync.OnceValue(func() *md5x16.Engine {
	if !md5x16.Available() {
		return nil
	}
	return md5x16.NewEngine(multiBufferSize)
})

// multiBufferSize is the size of each of an input's two buffers in the
// engine (16 inputs: 8 MiB in all): a few hundred microseconds of hashing,
// against a few of handing a buffer over.
const multiBufferSize = 256 << 10

// multiBufferFrom is the shortest input whose md5 goes to the engine: below
// it, handing the bytes over and waiting costs more than crypto/md5.
const multiBufferFrom = 16 << 10

// multiBuffer says whether ReadFrom hands md5 to the engine: only in
// programs that hash many inputs at once (UseMultiBuffer), since an input
// alone gains nothing from the lanes and waits for the hand-overs.
var multiBuffer atomic.Bool

// UseMultiBuffer makes ReadFrom in this process hand the md5 of its inputs
// to the md5 engine, which hashes up to 16 at once, when set has md5 and
// the CPU has AVX-512. It returns how many inputs the engine hashes at
// once, the fewest to read at once to make the most of it (each input's
// md5 then costs a fraction of crypto/md5's), or 0 where it is not used.
func UseMultiBuffer(set Set) (lanes int) {
	if !set.Has(MD5) || md5Engine() == nil {
		return 0
	}
	multiBuffer.Store(true)
	return md5x16.Lanes
}

// readMultiBuffer is ReadFrom for a Hasher with md5 and no input so far,
// with a stream of the md5 engine: each buffer is read into the engine's
// memory, its whole blocks handed to the engine, and the other algorithms
// run on it here meanwhile. The last partial block goes to crypto/md5,
// resumed from the engine's state.
func (h *Hasher) readMultiBuffer(r io.Reader, s *md5x16.Stream) (int64, error) {
	md5 := h.engines[h.md5].w.(hash.Hash)
	var (
		read    int64
		readErr error
		tail    [md5x16.BlockSize]byte
		tailLen int
	)
	for {
		buf := s.Buffer()
		n, err := io.ReadFull(r, buf)
		if read == 0 && n < multiBufferFrom && err != nil {
			// A short input: hashed here whole, the lane given back unused.
			h.Write(buf[:n])
			s.Close()
			return int64(n), readError(err)
		}
		full := n &^ (md5x16.BlockSize - 1)
		s.Submit(full / md5x16.BlockSize)
		h.account(buf[:n])
		writeEngines(h.others, buf[:n])
		read += int64(n)
		if err != nil {
			readErr = readError(err)
			// The engine's buffer is not ours once the stream is closed.
			tailLen = copy(tail[:], buf[full:n])
			break
		}
	}
	state, hashed := s.Close()
	if err := md5x16.Resume(md5, state, hashed); err != nil {
		panic("digest: " + err.Error()) // crypto/md5's own format; tested
	}
	md5.Write(tail[:tailLen])
	return read, readErr
}

// readError is the error of a read to end of input: none for its end.
func readError(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return nil
	}
	return err
}
