//go:build !unix

package fetch

import (
	"errors"
	"os"
)

// Without openat(2) and O_NOFOLLOW, a dir looks at each name with Lstat
// before it opens it: a link swapped in between the two is still
// followed. hashr-fetch is built for these systems, not hardened on them.

const dirFlag = 0

func (d *dir) openAt(name string, flag int, perm os.FileMode) (*os.File, error) {
	if isLink, err := d.isLink(name); err == nil && isLink {
		return nil, &linkError{path: d.join(name)}
	}
	if flag&os.O_CREATE == 0 {
		if info, err := os.Stat(d.join(name)); err == nil && !info.Mode().IsRegular() && !info.IsDir() {
			return nil, errors.New("not a regular file")
		}
	}
	return os.OpenFile(d.join(name), flag, perm)
}

func (d *dir) isLink(name string) (bool, error) {
	info, err := os.Lstat(d.join(name))
	if err != nil {
		return false, err
	}
	return info.Mode()&os.ModeSymlink != 0, nil
}

func (d *dir) sameAs(name string, info os.FileInfo) bool {
	now, err := os.Lstat(d.join(name))
	return err == nil && os.SameFile(info, now)
}

func (d *dir) mkdirAt(name string) error { return os.Mkdir(d.join(name), 0o755) }

func (d *dir) renameAt(old, new string) error { return os.Rename(d.join(old), d.join(new)) }

func (d *dir) removeAt(name string) error { return os.Remove(d.join(name)) }

func hardLinks(os.FileInfo) uint64 { return 1 }

func (d *dir) freeSpace() int64 { return -1 }
