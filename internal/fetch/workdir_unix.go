//go:build unix

package fetch

import (
	"errors"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// dirFlag opens only a directory.
const dirFlag = unix.O_DIRECTORY

func (d *dir) fd() int { return int(d.f.Fd()) }

// openAt opens name relative to d with openat(2), never following a link
// at name (O_NOFOLLOW: the call fails with ELOOP instead) and never
// waiting on a FIFO or a device (O_NONBLOCK). name is one path element.
func (d *dir) openAt(name string, flag int, perm os.FileMode) (*os.File, error) {
	flag |= unix.O_NOFOLLOW | unix.O_CLOEXEC | unix.O_NONBLOCK
	for {
		fd, err := unix.Openat(d.fd(), name, flag, uint32(perm.Perm()))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		// Reads and writes of a regular file or a directory do not care
		// about O_NONBLOCK; clear it so nothing else ever sees it.
		_ = unix.SetNonblock(fd, false)
		return os.NewFile(uintptr(fd), d.join(name)), nil
	}
}

// isLink reports whether name in d is a symbolic link.
func (d *dir) isLink(name string) (bool, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(d.fd(), name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return false, err
	}
	return st.Mode&unix.S_IFMT == unix.S_IFLNK, nil
}

// sameAs reports whether name in d is (without following a link) the
// file info describes.
func (d *dir) sameAs(name string, info os.FileInfo) bool {
	var st unix.Stat_t
	if err := unix.Fstatat(d.fd(), name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return false
	}
	held, ok := info.Sys().(*syscall.Stat_t)
	return ok && uint64(held.Dev) == uint64(st.Dev) && uint64(held.Ino) == uint64(st.Ino)
}

func (d *dir) mkdirAt(name string) error { return unix.Mkdirat(d.fd(), name, 0o755) }

func (d *dir) renameAt(old, new string) error { return unix.Renameat(d.fd(), old, d.fd(), new) }

// removeAt removes a file or link, or else an empty directory.
func (d *dir) removeAt(name string) error {
	err := unix.Unlinkat(d.fd(), name, 0)
	if errors.Is(err, unix.EISDIR) || errors.Is(err, unix.EPERM) {
		if derr := unix.Unlinkat(d.fd(), name, unix.AT_REMOVEDIR); derr == nil || !errors.Is(derr, unix.ENOTDIR) {
			return derr
		}
	}
	return err
}

// hardLinks is the number of names a file has.
func hardLinks(info os.FileInfo) uint64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 1
}

// freeSpace is the space left for unprivileged users on the file system
// of d, or -1 when it cannot be told.
func (d *dir) freeSpace() int64 {
	var st unix.Statfs_t
	if err := unix.Fstatfs(d.fd(), &st); err != nil {
		return -1
	}
	return int64(st.Bavail) * int64(st.Bsize)
}
