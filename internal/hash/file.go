package hash

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"syscall"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/digest"
)

// hashers keeps idle Hashers for reuse, one pool per set of algorithms:
// a record that misses only some digests gets a Hasher for just those.
var hashers sync.Map // digest.Set -> *sync.Pool

func getHasher(set digest.Set) *digest.Hasher {
	pool, _ := hashers.LoadOrStore(set, &sync.Pool{New: func() any { return digest.New(set) }})
	h := pool.(*sync.Pool).Get().(*digest.Hasher)
	h.Reset()
	return h
}

func putHasher(h *digest.Hasher) {
	if pool, ok := hashers.Load(h.Set()); ok {
		pool.(*sync.Pool).Put(h)
	}
}

// what says how much of a file to read.
type what int

const (
	statOnly    what = iota // size only: no reading
	headOnly                // the MIME type: the first few KiB
	fullContent             // digests: every byte
)

// hashFile reads the regular file at path as far as need says and returns
// its digests (for set, when need is fullContent), MIME type and size, and
// its file info. The size is the number of bytes read when the whole file
// was read, else its size on disk.
func hashFile(path string, set digest.Set, need what) (digest.Sums, fs.FileInfo, error) {
	// O_NONBLOCK: a FIFO where a regular file was expected must not block
	// the open; it is then refused as not a regular file.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return digest.Sums{}, nil, fmt.Errorf("opening %q: %w", path, cli.Cause(err))
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return digest.Sums{}, nil, fmt.Errorf("reading %q: %w", path, cli.Cause(err))
	}
	if !info.Mode().IsRegular() {
		return digest.Sums{}, nil, fmt.Errorf("%q is not a regular file but %s", path, kindOf(info.Mode()))
	}
	switch need {
	case statOnly:
		return digest.Sums{Size: info.Size()}, info, nil
	case headOnly:
		var head [digest.MIMEHeadSize]byte
		n, err := io.ReadFull(f, head[:])
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			return digest.Sums{}, nil, fmt.Errorf("reading %q: %w", path, cli.Cause(err))
		}
		return digest.Sums{Size: info.Size(), MIME: digest.DetectMIME(head[:n])}, info, nil
	}
	h := getHasher(set)
	defer putHasher(h)
	if _, err := h.ReadFrom(f); err != nil {
		return digest.Sums{}, nil, fmt.Errorf("reading %q: %w", path, cli.Cause(err))
	}
	return h.Sum(), info, nil
}

// kindOf names the type of a file that is not a regular one.
func kindOf(m fs.FileMode) string {
	switch t := m.Type(); {
	case t&fs.ModeDir != 0:
		return "a directory"
	case t&fs.ModeSymlink != 0:
		return "a symbolic link"
	case t&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case t&fs.ModeSocket != 0:
		return "a socket"
	case t&fs.ModeDevice != 0:
		return "a device"
	}
	return "a special file"
}
