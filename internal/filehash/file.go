// Package filehash hashes files and trees on disk: the walk (name order,
// symbolic links inside trees skipped) and the one-pass digests of each
// regular file, with pooled hashers. hashr-hash and hashr-lookup both use
// it, so a tree is walked and hashed the same way by both.
package filehash

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/digest"
	"github.com/hashr-dev/hashr/internal/regular"
	"github.com/hashr-dev/hashr/pkg/records"
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

// Need says how much of a file to read.
type Need int

const (
	StatOnly    Need = iota // size only: no reading
	HeadOnly                // the MIME type: the first few KiB
	FullContent             // digests: every byte
)

// HashFile reads the regular file at path as far as need says and returns
// its digests (for set, when need is FullContent), MIME type and size, and
// its file info. The size is the number of bytes read when the whole file
// was read, else its size on disk.
func HashFile(path string, set digest.Set, need Need) (digest.Sums, fs.FileInfo, error) {
	f, info, err := regular.OpenFile(path)
	if err != nil {
		return digest.Sums{}, nil, err
	}
	defer f.Close()
	switch need {
	case StatOnly:
		return digest.Sums{Size: info.Size()}, info, nil
	case HeadOnly:
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

// FileRecord hashes the file at path with set and returns its file record:
// path (with path_raw for names that are not UTF-8), size, mode, mtime,
// the digests and mime.
func FileRecord(path string, set digest.Set) (*records.File, error) {
	sums, info, err := HashFile(path, set, FullContent)
	if err != nil {
		return nil, err
	}
	f := &records.File{Mode: records.Mode(info.Mode()), Mtime: records.Time(info.ModTime())}
	f.Path, f.PathRaw = records.PathFields(path)
	sums.Fill(f)
	return f, nil
}
