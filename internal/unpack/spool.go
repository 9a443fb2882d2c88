package unpack

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
)

// Spool is where one source's members are spooled: DIR/<sha256>/.
// By default a member's bytes go to its own path below it, so the spool
// looks like the unpacked source; a member whose path cannot be used as
// is (a name twice in a tar, a file where a directory must go, a name
// too long) goes to a flat, numbered name instead, and so does every
// member with --flatten.
//
// Nothing can be written outside the directory: member paths are cleaned
// and never climb out (cleanName), and the spool never holds a symlink
// (archives' symlinks are not recreated), so no path can be redirected.
// Files are created with O_EXCL and O_NOFOLLOW and mode 0644: a setuid
// bit in an archive does not become a setuid file on this machine.
type Spool struct {
	Dir     string // DIR/<sha256>
	flatten bool
	seq     int
	dirs    map[string]bool // directories already created
}

// NewSpool is the spool of a source in the empty directory dir.
func NewSpool(dir string, flatten bool) *Spool {
	return &Spool{Dir: dir, flatten: flatten, dirs: map[string]bool{dir: true}}
}

// Create makes a new file for the member at p and returns it with its
// path.
func (s *Spool) Create(p string) (*os.File, string, error) {
	if !s.flatten {
		f, name, err := s.createAt(filepath.Join(s.Dir, filepath.FromSlash(p)))
		if err == nil {
			return f, name, nil
		}
		if !fallbackWorthy(err) {
			return nil, "", err
		}
	}
	for range 1000 {
		s.seq++
		f, name, err := s.createAt(filepath.Join(s.Dir, flatName(s.seq, p)))
		if err == nil || !errors.Is(err, os.ErrExist) {
			return f, name, err
		}
	}
	return nil, "", fmt.Errorf("spooling %q: no free name in %q", p, s.Dir)
}

func (s *Spool) createAt(name string) (*os.File, string, error) {
	parent := filepath.Dir(name)
	for try := 0; ; try++ {
		if !s.dirs[parent] {
			if err := os.MkdirAll(parent, 0o755); err != nil {
				return nil, "", err
			}
			s.dirs[parent] = true
		}
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o644)
		if errors.Is(err, os.ErrNotExist) && try < 3 {
			// hashr-hash --delete removes a spool directory as its last
			// file goes; one that went while this name was being taken
			// again (an empty directory from an earlier run) is made anew.
			clear(s.dirs)
			continue
		}
		if err != nil {
			return nil, "", err
		}
		return f, name, nil
	}
}

// link gives the spooled file old a second name for the member at p, the
// way the archive's hard link does; a copy where linking fails.
func (s *Spool) link(old, p string) (string, error) {
	f, name, err := s.Create(p)
	if err != nil {
		return "", err
	}
	f.Close()
	os.Remove(name)
	if err := os.Link(old, name); err == nil {
		return name, nil
	}
	// Cross-device or no hard links on this file system: copy.
	src, err := os.Open(old)
	if err != nil {
		return "", err
	}
	defer src.Close()
	dst, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o644)
	if err != nil {
		return "", err
	}
	if _, err := dst.ReadFrom(src); err != nil {
		dst.Close()
		os.Remove(name)
		return "", err
	}
	return name, dst.Close()
}

// fallbackWorthy says whether a failure to create the mirrored path is
// the path's fault (then a flat name will do), not the disk's.
func fallbackWorthy(err error) bool {
	return errors.Is(err, os.ErrExist) || errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.EISDIR) ||
		errors.Is(err, syscall.ENAMETOOLONG) || errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ELOOP)
}

// flatName is a member's name in the flat layout: a sequence number and
// the last element of its path, made safe and short.
func flatName(seq int, p string) string {
	base := path.Base(strings.ReplaceAll(p, nestSep, "/"))
	var b strings.Builder
	for _, r := range base {
		switch {
		case b.Len() >= 64:
		case r == '.' || r == '-' || r == '_' || r == '+' ||
			'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return fmt.Sprintf("%06d-%s", seq, b.String())
}
