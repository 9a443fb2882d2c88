package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/hashr-dev/hashr/internal/unpack"
	"github.com/hashr-dev/hashr/pkg/records"
)

// SourceLines reads and checks a child's records of one source: a
// "sandbox" line saying what it applied, the file and error records of
// its source, its end record. A child that was taken over by a hostile
// source could write anything, so each line is checked.
type SourceLines struct {
	SHA256 string // the source's
	// SpoolDir is the source's spool directory ("" when not spooling);
	// Staged, where a shared child spooled it instead ("" for a child
	// of its own, which spools in place).
	SpoolDir, Staged string
	// Shared: the child goes on with another source after the end record.
	Shared bool
	Hello  func(applied string)    // what the child says it applied
	Keep   func(line []byte) error // a checked line; an error stops the reading
	Counts *unpack.Counts          // of the lines kept, and the end's bytes

	spoolPrefix string // where its files' "local" must be
}

// Read reads the source's lines from r. A child of its own must then end
// its output; a shared child's next lines are of its next source.
func (sl *SourceLines) Read(r *records.LineReader) error {
	if sl.SpoolDir != "" {
		sl.spoolPrefix = sl.SpoolDir + string(filepath.Separator)
		if sl.Staged != "" {
			sl.spoolPrefix = sl.Staged + string(filepath.Separator)
		}
	}
	gotEnd := false
	for {
		line, err := nextLine(r)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if gotEnd {
			return errors.New("it wrote records after its end record")
		}
		keep, end, err := sl.check(line)
		switch {
		case err != nil:
			return err
		case end && sl.Shared:
			return nil
		case end:
			gotEnd = true
		case keep != nil:
			if err := sl.Keep(keep); err != nil {
				return err
			}
		}
	}
	if !gotEnd {
		return errors.New("its output ended before its end record")
	}
	return nil
}

// nextLine is a child's next line; io.EOF at the end of its output.
func nextLine(r *records.LineReader) ([]byte, error) {
	line, err := r.Next()
	var tooLong *records.TooLongError
	switch {
	case errors.Is(err, io.EOF):
		return nil, io.EOF
	case errors.As(err, &tooLong):
		return nil, fmt.Errorf("it wrote a line longer than %d bytes: %w", MaxLine, err)
	case err != nil:
		return nil, err
	case r.Unterminated():
		return nil, errors.New("its output ended in the middle of a line")
	}
	return line, nil
}

// check checks one line of a child: the line to keep (nil: none), or
// whether it is the source's end record.
func (sl *SourceLines) check(line []byte) (keep []byte, end bool, err error) {
	typ, source, local, sawSource, err := lineFields(line)
	if err != nil {
		return nil, false, fmt.Errorf("it wrote a line that is not a record: %w", err)
	}
	switch typ {
	case "sandbox":
		var hello struct{ Applied string }
		json.Unmarshal(line, &hello)
		sl.Hello(hello.Applied)
		return nil, false, nil
	case records.TypeFile:
		if line, err = sl.checkFile(line, source, local); err != nil {
			return nil, false, err
		}
		sl.Counts.Files++
	case records.TypeError:
		if sawSource && source != sl.SHA256 {
			return nil, false, fmt.Errorf("it wrote an error record of another source (%q)", source)
		}
		sl.Counts.Errors++
	case records.TypeEnd:
		return nil, true, sl.checkEnd(line)
	default:
		return nil, false, fmt.Errorf("it wrote a record of type %q", typ)
	}
	return line, false, nil
}

// checkFile checks a file record's source and local, and moves a staged
// local to the spool directory.
func (sl *SourceLines) checkFile(line []byte, source, local string) ([]byte, error) {
	if source != sl.SHA256 {
		return nil, fmt.Errorf("it wrote a file record of another source (%q)", source)
	}
	if local != "" && (sl.spoolPrefix == "" || !strings.HasPrefix(local, sl.spoolPrefix) || filepath.Clean(local) != local) {
		return nil, fmt.Errorf("it wrote a file record with local %q, outside the source's spool directory", local)
	}
	if local != "" && sl.Staged != "" {
		return sl.unstage(line)
	}
	return line, nil
}

// lineFields reads the members of a child's line that checking it needs.
func lineFields(line []byte) (typ, source, local string, sawSource bool, err error) {
	err = records.Members(line, func(name, value []byte) bool {
		var dst *string
		switch string(name) {
		case "type":
			dst = &typ
		case "source":
			dst, sawSource = &source, true
		case "local":
			dst = &local
		default:
			return true
		}
		*dst, _ = records.StringValue(value)
		return true
	})
	return typ, source, local, sawSource, err
}

// checkEnd checks a child's end record against the records it wrote, and
// takes its byte count.
func (sl *SourceLines) checkEnd(line []byte) error {
	rec, err := records.Unmarshal(line)
	if err != nil {
		return fmt.Errorf("its end record: %w", err)
	}
	end := rec.(*records.End)
	if end.Files != sl.Counts.Files || end.Errors != sl.Counts.Errors {
		return fmt.Errorf("its end record counts %d files and %d errors, but it wrote %d and %d", end.Files, end.Errors, sl.Counts.Files, sl.Counts.Errors)
	}
	sl.Counts.Bytes = end.Bytes
	return nil
}

// unstage moves a file record's local from the directory a shared child
// spooled the source in to the source's spool directory, where that
// directory goes once the source is done.
func (sl *SourceLines) unstage(line []byte) ([]byte, error) {
	rec, err := records.Unmarshal(line)
	if err != nil {
		return nil, fmt.Errorf("it wrote a file record that does not decode: %w", err)
	}
	f := rec.(*records.File)
	f.Local = sl.SpoolDir + strings.TrimPrefix(f.Local, sl.Staged)
	return records.Marshal(f)
}
