package fetch

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/regular"
)

// dir is a directory hashr-fetch writes in: the work directory, an
// image's NAME.part/ and the directories in it. It is held open, and every
// file in it is opened, created, renamed and removed by its single-element
// name relative to it, never through a symbolic link, whether the link is
// the name itself or a directory on the way (names in --work are
// predictable: someone else able to write there could otherwise plant a
// link at NAME.part and have a download truncate and overwrite what it
// points at). A link found at a name is a *linkError; so is a file with
// other hard links, which writing would change too. Not an os.Root: a
// Root follows a link that stays inside it, so a link at NAME.part to
// another download's NAME would still have that file overwritten.
type dir struct {
	f    *os.File
	path string
}

// linkError is a symbolic link (or a file with other hard links) found
// where hashr-fetch would write or reuse a file in --work.
type linkError struct {
	path string
	hard bool
}

func (e *linkError) Error() string {
	if e.hard {
		return fmt.Sprintf("%s has other hard links: hashr-fetch does not write files in --work that are linked elsewhere", e.path)
	}
	return fmt.Sprintf("%s is a symbolic link: hashr-fetch does not follow links in --work", e.path)
}

// openWorkDir creates the work directory if need be and opens it. The
// work directory itself may be a link (the user named it); what is in it
// may not.
func openWorkDir(path string) (*dir, error) {
	if err := os.MkdirAll(path, 0o755); err != nil {
		return nil, fmt.Errorf("creating work directory %s: %w", path, cli.Cause(err))
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening work directory %s: %w", path, cli.Cause(err))
	}
	return &dir{f: f, path: path}, nil
}

func (d *dir) close() error { return d.f.Close() }

// join is the path of name in d, for messages and records.
func (d *dir) join(name string) string { return filepath.Join(d.path, name) }

// open opens the file name in d with flag (O_NOFOLLOW and O_NONBLOCK
// added: neither a link nor a FIFO planted there is followed or waited
// on). A created file gets mode perm.
func (d *dir) open(name string, flag int, perm os.FileMode) (*os.File, error) {
	f, err := d.openAt(name, flag, perm)
	if err != nil {
		return nil, d.describe(name, err)
	}
	return f, nil
}

// openFile opens a file to write in place (a .part, a manifest): it must
// be a regular file with no other hard link. Nothing is truncated before
// that is checked.
func (d *dir) openFile(name string, flag int) (*os.File, error) {
	f, err := d.open(name, flag, 0o644)
	if err != nil {
		return nil, err
	}
	info, err := f.Stat()
	if err == nil && !info.Mode().IsRegular() {
		err = &regular.NotAFileError{Path: d.join(name), Mode: info.Mode(), Regular: true}
	} else if err == nil && hardLinks(info) > 1 {
		err = &linkError{path: d.join(name), hard: true}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// writeFile writes data to the file name in d, replacing what it held.
func (d *dir) writeFile(name string, data []byte) error {
	f, err := d.openFile(name, os.O_WRONLY|os.O_CREATE)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	err = errors.Join(f.Truncate(int64(len(data))), err)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", d.join(name), cli.Cause(err))
	}
	return nil
}

// readFile reads the file name in d, at most limit bytes.
func (d *dir) readFile(name string, limit int64) ([]byte, error) {
	f, err := d.open(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err == nil && int64(len(b)) > limit {
		err = fmt.Errorf("more than %d bytes", limit)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", d.join(name), cli.Cause(err))
	}
	return b, nil
}

// sub opens the directory name in d, creating it first when create is
// set.
func (d *dir) sub(name string, create bool) (*dir, error) {
	if create {
		if err := d.mkdirAt(name); err != nil && !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("creating %s: %w", d.join(name), err)
		}
	}
	f, err := d.open(name, os.O_RDONLY|dirFlag, 0)
	if err != nil {
		return nil, err
	}
	return &dir{f: f, path: d.join(name)}, nil
}

// rename renames old to new in d. A link at new is refused rather than
// replaced, so that whoever planted it hears of it.
func (d *dir) rename(old, new string) error {
	if isLink, err := d.isLink(new); err == nil && isLink {
		return &linkError{path: d.join(new)}
	}
	if err := d.renameAt(old, new); err != nil {
		return fmt.Errorf("renaming %s to %s: %w", d.join(old), new, err)
	}
	return nil
}

// remove removes the file, link or empty directory name from d; a name
// that is not there is no error.
func (d *dir) remove(name string) error {
	if err := d.removeAt(name); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing %s: %w", d.join(name), err)
	}
	return nil
}

// removeAll removes name and all it holds. os.RemoveAll never follows a
// link: a link at name is removed, not what it points at.
func (d *dir) removeAll(name string) error { return os.RemoveAll(d.join(name)) }

// createTemp creates a new file in d named prefix and random characters,
// never one that exists (a link included).
func (d *dir) createTemp(prefix string) (*os.File, string, error) {
	for range 100 {
		var b [6]byte
		_, _ = rand.Read(b[:])
		name := prefix + hex.EncodeToString(b[:])
		f, err := d.openAt(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return nil, "", fmt.Errorf("creating %s: %w", d.join(name), err)
		}
		return f, name, nil
	}
	return nil, "", fmt.Errorf("creating a temporary file in %s: every name tried exists", d.path)
}

// describe turns an error of opening name into one for people: a link
// found there becomes a *linkError.
func (d *dir) describe(name string, err error) error {
	if isLink, lerr := d.isLink(name); lerr == nil && isLink {
		return &linkError{path: d.join(name)}
	}
	return fmt.Errorf("opening %s: %w", d.join(name), err)
}
