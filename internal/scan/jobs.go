package scan

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/db"
	"github.com/hashr-dev/hashr/pkg/records"
)

// jobFilter is --db and --reprocess. A source whose job is done in the
// database (hashr-load wrote it, or HashR did: "exported") is skipped, as
// HashR skips the sources it has processed, unless --reprocess names its
// quick_sha256. A failed job is retried.
type jobFilter struct {
	db        string
	done      map[string]bool
	reprocess map[string]bool
}

// newJobFilter reads the done jobs of dbURL; without --db it returns nil,
// a filter that skips nothing.
func newJobFilter(ctx context.Context, dbURL, reprocess string) (*jobFilter, error) {
	f := &jobFilter{db: dbURL, reprocess: map[string]bool{}}
	for _, q := range strings.FieldsFunc(strings.ToLower(reprocess), func(r rune) bool { return r == ',' || r == ' ' || r == '\n' }) {
		if err := records.CheckHex("sha256", q); err != nil {
			return nil, cli.Usagef("--reprocess: want quick_sha256 values: %w", err)
		}
		f.reprocess[q] = true
	}
	if dbURL == "" {
		if len(f.reprocess) > 0 {
			return nil, cli.Usagef("--reprocess needs --db: only sources whose job is done there are skipped")
		}
		return nil, nil
	}
	if _, err := db.ParseLocation(dbURL); err != nil {
		return nil, cli.Usagef("--db: %w", err)
	}
	done, err := db.DoneJobs(ctx, dbURL)
	if err != nil {
		return nil, fmt.Errorf("--db: %w", err)
	}
	f.done = done
	return f, nil
}

// skip reports whether src's job is done and not to be reprocessed.
func (f *jobFilter) skip(src *records.Source) bool {
	if f == nil {
		return false
	}
	q := strings.ToLower(src.QuickSHA256)
	return f.done[q] && !f.reprocess[q]
}
