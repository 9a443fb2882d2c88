package fetch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/magic"
	"github.com/hashr-dev/hashr/internal/regular"
	"github.com/hashr-dev/hashr/pkg/records"
)

// localFetcher handles sources on a local file system: absolute paths and
// file:// URLs. It hashes them where they are, or with copy set copies them
// into the work directory, hashing in the same read.
type localFetcher struct {
	copy    bool
	workDir string
	temps   *tempFiles
}

func (l *localFetcher) fetch(ctx context.Context, loc *url.URL, want expected) (fetched, error) {
	name, err := records.FilePath(loc)
	if err != nil {
		return fetched{}, err
	}
	// Opened without waiting: a FIFO or a character device given as a
	// source fails at once instead of blocking the run in open(2).
	f, info, err := regular.Open(name)
	var notFile *regular.NotAFileError
	if errors.As(err, &notFile) {
		return fetched{}, err // it names the path
	}
	if err != nil {
		return fetched{}, fmt.Errorf("opening %s: %w", name, cli.Cause(err))
	}
	defer f.Close()
	if got, ok, err := layoutInPlace(info, name, want); ok || err != nil {
		return got, err
	}
	if err := checkReadable(info, name, want); err != nil {
		return fetched{}, err
	}
	if l.copy {
		return l.copyInto(ctx, f, name, want)
	}
	if want.placeOnly {
		return fetched{local: name}, nil
	}
	h := sha256.New()
	n, err := copyContext(ctx, h, f)
	if err != nil {
		return fetched{}, fmt.Errorf("reading %s: %w", name, cli.Cause(err))
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if err := want.check(n, sum); err != nil {
		return fetched{}, fmt.Errorf("%s: %w", name, err)
	}
	return fetched{local: name, sha256: sum, size: n}, nil
}

// checkReadable refuses what is not a file's bytes (a directory) and, for
// a regular file, a size other than the record's, before reading.
// regular.Open has refused FIFOs, sockets and character devices already.
func checkReadable(info fs.FileInfo, name string, want expected) error {
	mode := info.Mode()
	switch {
	case mode.IsRegular():
		if err := want.checkSize(info.Size(), "the file system"); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	case mode.IsDir():
		return fmt.Errorf("%s is a directory, not a source's bytes", name)
	}
	// A block device (a disk) is a source too; its size shows only when
	// read.
	return nil
}

// copyInto copies src into the work directory through a temporary file,
// hashing in the same read, and renames the copy once it is verified.
func (l *localFetcher) copyInto(ctx context.Context, src io.Reader, name string, want expected) (fetched, error) {
	work, err := openWorkDir(l.workDir)
	if err != nil {
		return fetched{}, err
	}
	defer work.close()
	final := workName(want.uri, &url.URL{Path: name})
	tmp, tmpName, err := l.temps.create(work, tempPrefix(final))
	if err != nil {
		return fetched{}, fmt.Errorf("copying %s: %w", name, cli.Cause(err))
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			l.temps.remove(work, tmpName)
		}
	}()
	h := sha256.New()
	n, err := copyContext(ctx, io.MultiWriter(tmp, h), src)
	if err != nil {
		return fetched{}, fmt.Errorf("copying %s to %s: %w", name, l.workDir, cli.Cause(err))
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if err := want.check(n, sum); err != nil {
		return fetched{}, fmt.Errorf("%s: %w", name, err)
	}
	if err := finishFile(tmp); err != nil {
		return fetched{}, fmt.Errorf("copying %s to %s: %w", name, l.workDir, err)
	}
	if err := l.temps.keep(work, tmpName, final); err != nil {
		return fetched{}, fmt.Errorf("copying %s: %w", name, err)
	}
	ok = true
	return fetched{local: work.join(final), sha256: sum, size: n}, nil
}

// finishFile makes a written file durable and readable by others, and
// closes it.
func finishFile(f *os.File) error {
	err := errors.Join(f.Chmod(0o644), f.Sync())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// layoutInPlace takes an OCI image layout directory where it is (even
// with --copy always: its blobs are files already): its sha256 is that of
// its index.json, which names every blob in it by digest, as hashr-scan's
// quick_sha256 of a layout is.
func layoutInPlace(info fs.FileInfo, name string, want expected) (fetched, bool, error) {
	if !info.IsDir() {
		return fetched{}, false, nil
	}
	if ok, err := magic.IsOCILayoutDir(name); err != nil || !ok {
		return fetched{}, false, err
	}
	b, err := readSmallFile(filepath.Join(name, "index.json"), maxManifest)
	if err != nil {
		return fetched{}, false, err
	}
	sum := sha256.Sum256(b)
	digest := hex.EncodeToString(sum[:])
	if want.sha256 != "" && want.sha256 != digest {
		return fetched{}, false, fmt.Errorf("%s: sha256 %w: its index.json hashes to %s, the record says %s", name, errMismatch, digest, want.sha256)
	}
	return fetched{local: name, sha256: digest, size: dirSize(name)}, true, nil
}

// readSmallFile reads a file of a local source (an index.json), at most
// limit bytes, opened as regular.Open does: a FIFO put there fails at once.
func readSmallFile(path string, limit int64) ([]byte, error) {
	f, _, err := regular.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, cli.Cause(err))
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err == nil && int64(len(b)) > limit {
		err = fmt.Errorf("more than %d bytes", limit)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, cli.Cause(err))
	}
	return b, nil
}
