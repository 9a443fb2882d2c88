// Package regular opens a source named by a path for reading without
// blocking on what is not a file's bytes: open(2) of a FIFO waits for a
// writer, and of some character devices (a tty, a tape) for the device,
// forever. Open asks not to block, then looks at what it opened, and
// refuses all but regular files, directories (layouts) and block devices
// (disks) at once, with an error naming the kind of file.
package regular

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// NotAFileError is a path that names something other than a regular file,
// a directory or a block device: a FIFO, a socket, a character device.
type NotAFileError struct {
	Path string
	Mode fs.FileMode
	// Regular is set by OpenFile, which takes regular files alone.
	Regular bool
}

func (e *NotAFileError) Error() string {
	if e.Regular {
		return fmt.Sprintf("%q is not a regular file but %s", e.Path, Kind(e.Mode))
	}
	return fmt.Sprintf("%s is %s, not a file: only regular files, directories and block devices are read", e.Path, Kind(e.Mode))
}

// Kind names the type of file a mode says, for messages.
func Kind(mode fs.FileMode) string {
	switch {
	case mode.IsRegular():
		return "a regular file"
	case mode.IsDir():
		return "a directory"
	case mode&fs.ModeSymlink != 0:
		return "a symbolic link"
	case mode&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case mode&fs.ModeSocket != 0:
		return "a socket"
	case mode&fs.ModeCharDevice != 0:
		return "a character device"
	case mode&fs.ModeDevice != 0:
		return "a block device"
	}
	return fmt.Sprintf("of mode %s", mode)
}

// readable says whether a file of this mode is opened and read.
func readable(mode fs.FileMode) bool {
	return mode.IsRegular() || mode.IsDir() || mode&fs.ModeDevice != 0 && mode&fs.ModeCharDevice == 0
}

// Open opens path for reading, following symbolic links, and returns the
// file and what fstat(2) says of it. What is not a regular file, a
// directory or a block device is a *NotAFileError, at once.
func Open(path string) (*os.File, fs.FileInfo, error) {
	f, err := openNonblocking(path)
	if err != nil {
		return nil, nil, err
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !readable(info.Mode()) {
		f.Close()
		return nil, nil, &NotAFileError{Path: path, Mode: info.Mode()}
	}
	return f, info, nil
}

// OpenFile is Open for what must be a regular file's bytes (a source to
// extract, a file to hash): a directory or a block device is a
// *NotAFileError too.
// Errors name path once: `opening "x": permission denied`.
func OpenFile(path string) (*os.File, fs.FileInfo, error) {
	f, info, err := Open(path)
	var pe *fs.PathError
	var notAFile *NotAFileError
	switch {
	case errors.As(err, &notAFile):
		notAFile.Regular = true
		return nil, nil, notAFile
	case errors.As(err, &pe):
		return nil, nil, fmt.Errorf("opening %q: %w", path, pe.Err)
	case err != nil:
		return nil, nil, err
	}
	if !info.Mode().IsRegular() {
		f.Close()
		return nil, nil, &NotAFileError{Path: path, Mode: info.Mode(), Regular: true}
	}
	return f, info, nil
}
