package unpack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/regular"
	"github.com/hashr-dev/hashr/pkg/records"
)

// Open finds the source's bytes, and fills in its local path, and its
// sha256 and size when the record lacks them (a source straight from
// hashr-scan). opened, when not nil, is the source's file already open (a
// sandbox child, which may open no source by its path, is handed it).
func Open(ctx context.Context, src *records.Source, opened *os.File) (*os.File, int64, error) {
	local, err := src.LocalPath()
	if err != nil {
		return nil, 0, err
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
		if _, err := io.CopyBuffer(h, cli.Interruptible(ctx, f), make([]byte, 1<<20)); err != nil {
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
