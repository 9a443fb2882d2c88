package hashcmd

import (
	"time"

	"github.com/hashr-dev/hashr/pkg/records"
)

// accounts keeps, for each source whose end record has not come yet, the
// time spent hashing its files and how many of them failed. Only the
// writing goroutine uses it.
type accounts struct {
	time     map[string]time.Duration
	failures map[string]int64
}

func newAccounts() *accounts {
	return &accounts{time: map[string]time.Duration{}, failures: map[string]int64{}}
}

func (a *accounts) spent(source string, d time.Duration) {
	if source != "" {
		a.time[source] += d
	}
}

func (a *accounts) failed(source string) {
	if source != "" {
		a.failures[source]++
	}
}

// closeSource returns the end record with this stage's figures: "ms.hash"
// is the milliseconds spent hashing the source's files, summed over the
// workers (the time between a source's first and last record would count
// the stages upstream too); each file record replaced by an error record
// moves one from "files" to "errors".
func closeSource(raw *records.Raw, a *accounts) (*records.End, error) {
	rec, err := raw.Decode()
	if err != nil {
		return nil, err
	}
	end := rec.(*records.End)
	if end.MS == nil {
		end.MS = map[string]int64{}
	}
	end.MS["hash"] += a.time[end.Source].Milliseconds()
	if n := a.failures[end.Source]; n > 0 {
		end.Files = max(end.Files-n, 0)
		end.Errors += n
	}
	delete(a.time, end.Source)
	delete(a.failures, end.Source)
	return end, nil
}
