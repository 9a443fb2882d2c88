package cli

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// OpenRegular opens the regular file at path for reading, and refuses
// anything else at once: open(2) of a FIFO with no writer blocks forever,
// and a device may block or never end. O_NONBLOCK keeps the open itself
// from blocking, fstat then says what was opened, and for a regular file
// the flag is cleared again (it changes nothing for one, but a reader
// should not inherit it). Errors name path.
func OpenRegular(path string) (*os.File, fs.FileInfo, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("opening %q: %w", path, Cause(err))
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("reading %q: %w", path, Cause(err))
	}
	if !info.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("%q is not a regular file but %s", path, KindOf(info.Mode()))
	}
	if err := syscall.SetNonblock(int(f.Fd()), false); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("opening %q: %w", path, err)
	}
	return f, info, nil
}

// KindOf names the type of a file that is not a regular one.
func KindOf(m fs.FileMode) string {
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
