package store

import (
	"fmt"
	"path/filepath"

	"github.com/cockroachdb/pebble/v2"
)

// corruptHint says what to do about a damaged store: it is only an
// accelerator, so nothing is lost by rebuilding it.
const corruptHint = "the store is only an accelerator, the database keeps every sample: move the store away and " +
	"rebuild it from the database (hashr-export --format ndjson | hashr-dedup seed), or re-run the pipeline"

// corrupted turns an error Pebble met reading a damaged file of the store
// into one line naming the file and what is wrong, with the hint; Pebble's
// own report is many lines of stack traces. Other errors are returned as
// they are.
func corrupted(dir string, err error) error {
	if err == nil {
		return nil
	}
	info := pebble.ExtractDataCorruptionInfo(err)
	if info == nil && !pebble.IsCorruptionError(err) {
		return err
	}
	what := "a file"
	if info != nil && info.Path != "" {
		what = filepath.Base(info.Path)
	}
	return &HintedError{
		Err:  fmt.Errorf("store %q is damaged: %s is corrupt (%s)", dir, what, leafMessage(err)),
		Hint: corruptHint,
	}
}

// leafMessage is the innermost message of a chain of wrapped errors: for
// Pebble's corruption errors, e.g. "block 271/814: crc32c checksum mismatch".
func leafMessage(err error) string {
	for {
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			errs := u.Unwrap()
			if len(errs) == 0 {
				return err.Error()
			}
			err = errs[0]
		case interface{ Unwrap() error }:
			next := u.Unwrap()
			if next == nil {
				return err.Error()
			}
			err = next
		default:
			return err.Error()
		}
	}
}
