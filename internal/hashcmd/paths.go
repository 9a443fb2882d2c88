package hashcmd

import (
	"context"
	"errors"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/filehash"
	"github.com/hashr-dev/hashr/internal/ordered"
	"github.com/hashr-dev/hashr/pkg/records"
)

// hashed is what became of one found path: a file record's line, or an
// error record.
type hashed struct {
	line    []byte
	failure *records.Error
}

// hashPaths hashes the files named by opts.paths and the trees under the
// directories among them (internal/filehash), writing file records in
// walk order.
func hashPaths(ctx context.Context, p *cli.Program, opts options) error {
	w := records.NewWriter(p.Stdout)
	defer w.Flush()

	work := func(f filehash.Found) hashed {
		if f.Err != nil {
			return hashed{failure: filehash.PathError("hash", f.Path, f.Err)}
		}
		rec, err := filehash.FileRecord(f.Path, opts.algos)
		if err == nil {
			var line []byte
			if line, err = records.Marshal(rec); err == nil {
				return hashed{line: line}
			}
		}
		return hashed{failure: filehash.PathError("hash", f.Path, err)}
	}
	emit := func(h hashed) error {
		if h.failure != nil {
			p.Failf("%s", h.failure.Message)
			return w.Write(h.failure)
		}
		return w.WriteRaw(&records.Raw{Type: records.TypeFile, Line: h.line})
	}
	err := ordered.MapAhead(ctx, opts.workers, recordsAhead, filehash.Walk(p, opts.paths), work, emit)
	if errors.Is(err, context.Canceled) {
		// The records finished before the signal still go out whole;
		// cli says the run was interrupted.
		return errors.Join(err, w.Flush())
	}
	if err != nil {
		return err
	}
	return w.Flush()
}
