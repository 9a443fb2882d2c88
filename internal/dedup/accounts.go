package dedup

import (
	"time"

	"github.com/hashr-dev/hashr/pkg/records"
)

// tally is what dedup did to one source's records, until its end record.
type tally struct {
	time    time.Duration
	dropped int64 // seen file records not written (--drop-seen)
	failed  int64 // file records replaced by error records
}

// accounts keeps a tally for each source whose end record has not come yet.
// Sources come one after the other, so the last one used is kept at hand.
type accounts struct {
	bySource   map[string]*tally
	lastSource []byte
	last       *tally
}

func newAccounts() *accounts { return &accounts{bySource: map[string]*tally{}} }

// of returns the tally of the source whose sha256 is source.
func (a *accounts) of(source []byte) *tally {
	if a.last != nil && string(a.lastSource) == string(source) {
		return a.last
	}
	t, ok := a.bySource[string(source)]
	if !ok {
		t = &tally{}
		a.bySource[string(source)] = t
	}
	a.lastSource = append(a.lastSource[:0], source...)
	a.last = t
	return t
}

// closeSource returns the end record with this stage's figures: "ms.dedup"
// is the time spent on the source's records; each seen file record dropped
// is taken off "files", and each file record replaced by an error record
// moves from "files" to "errors".
func (a *accounts) closeSource(text []byte) (*records.End, error) {
	rec, err := records.Unmarshal(text)
	if err != nil {
		return nil, err
	}
	end := rec.(*records.End)
	t := a.bySource[end.Source]
	if t == nil {
		t = &tally{}
	}
	if end.MS == nil {
		end.MS = map[string]int64{}
	}
	end.MS["dedup"] += t.time.Milliseconds()
	end.Files = max(end.Files-t.dropped-t.failed, 0)
	end.Errors += t.failed
	delete(a.bySource, end.Source)
	if a.last == t {
		a.last, a.lastSource = nil, a.lastSource[:0]
	}
	return end, nil
}
