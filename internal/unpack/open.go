package unpack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/regular"
	"github.com/hashr-dev/hashr/pkg/records"
)

// ErrNoLocation is a source record that names no file: neither local nor
// uri.
var ErrNoLocation = errors.New("source record has neither local nor uri")

// Open finds the source's bytes, and fills in its local path, and its
// sha256 and size when the record lacks them (a source straight from
// hashr-scan). opened, when not nil, is the source's file already open (a
// sandbox child, which may open no source by its path, is handed it).
func Open(ctx context.Context, src *records.Source, opened *os.File) (*os.File, int64, error) {
	local := src.Local
	if local == "" {
		p, ok := localPath(src.URI)
		if !ok {
			if src.URI == "" {
				return nil, 0, ErrNoLocation
			}
			return nil, 0, fmt.Errorf("%q is not a local file: run hashr-fetch before hashr-extract", src.URI)
		}
		local = p
	}
	f, st, err := openRegular(local, opened)
	if err != nil {
		return nil, 0, err
	}
	src.Local = local
	if src.Size == nil {
		src.Size = records.Int64(st.Size())
	}
	if src.SHA256 == "" {
		h := sha256.New()
		if _, err := io.CopyBuffer(h, ctxReader{ctx, f}, make([]byte, 1<<20)); err != nil {
			f.Close()
			return nil, 0, fmt.Errorf("reading %q: %w", local, cli.Cause(err))
		}
		src.SHA256 = hex.EncodeToString(h.Sum(nil))
	} else if err := records.CheckHex("sha256", src.SHA256); err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("source record: %w", err)
	}
	return f, st.Size(), nil
}

// openRegular opens local, or checks the file opened, as a regular file.
func openRegular(local string, opened *os.File) (*os.File, os.FileInfo, error) {
	f := opened
	var st os.FileInfo
	var err error
	if f == nil {
		// Not os.Open: a FIFO or device given as a source blocked it forever.
		f, st, err = regular.OpenFile(local)
	} else if st, err = f.Stat(); err == nil && !st.Mode().IsRegular() {
		err = &regular.NotAFileError{Path: local, Mode: st.Mode(), Regular: true}
	}
	if err != nil {
		if f != nil {
			f.Close()
		}
		return nil, nil, err
	}
	return f, st, nil
}

// localPath is the path a uri names when it is a local one: an absolute
// path, a relative one, or file://.
func localPath(uri string) (string, bool) {
	if uri == "" {
		return "", false
	}
	if strings.HasPrefix(uri, "file://") {
		u, err := url.Parse(uri)
		if err != nil || (u.Host != "" && u.Host != "localhost") {
			return "", false
		}
		return u.Path, true
	}
	if i := strings.Index(uri, "://"); i > 0 && !strings.ContainsAny(uri[:i], "/.") {
		return "", false // s3://, https://, oci://…
	}
	return uri, true
}

// ErrorRecord is the error record of a failure of the source src as a
// whole, or of its member at path (when not ""). It names the source by
// its sha256 once known, else by its uri.
func ErrorRecord(src *records.Source, path string, err error) *records.Error {
	e := &records.Error{Stage: Stage, Source: src.SHA256, ID: src.ID, Path: path, Message: err.Error()}
	if src.SHA256 == "" {
		e.URI = src.URI
	}
	return e
}
