package deb

import (
	"errors"
	"io"
	"path"
	"strings"

	"github.com/hashr-dev/hashr/internal/formats/archive"
)

// ErrNoControlFile is returned by ReadControlFile for a package whose
// control.tar holds no control file (or that has no control.tar before
// its data.tar).
var ErrNoControlFile = errors.New("no control file in control.tar")

// ReadControlFile returns the package's control file (control.tar's
// ./control: Package, Version, Architecture…), at most max bytes of it;
// truncated says there was more. It reads the small control member
// alone and stops before the files, so hashr-scan can name a package
// without walking it.
func ReadControlFile(r io.Reader, max int64) (data []byte, truncated bool, err error) {
	w := NewWalker(r, Options{Control: true, InProcess: true})
	defer w.Close()
	for {
		e, err := w.Next()
		if err == io.EOF {
			return nil, false, ErrNoControlFile
		}
		if err != nil {
			return nil, false, err
		}
		name, isControl := strings.CutPrefix(e.Name, ControlPrefix)
		if !isControl {
			return nil, false, ErrNoControlFile // the files began
		}
		if path.Clean(name) != "control" || e.Type != archive.Regular {
			continue
		}
		f, err := w.Open()
		if err != nil {
			return nil, false, err
		}
		data, err = io.ReadAll(io.LimitReader(f, max+1))
		if err != nil {
			return nil, false, archive.Truncated("deb", -1, err)
		}
		if int64(len(data)) > max {
			return data[:max], true, nil
		}
		return data, false, nil
	}
}
