package scan

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashr-dev/hashr/internal/formats/wim"
	"github.com/hashr-dev/hashr/pkg/records"
)

// Split WIMs (install.swm, install2.swm…) are one source: part 1's
// record, with the other parts' paths in part order as "parts". The
// parts are told by their headers (GUID, part number, part count), not
// their names, so they are held here until all of a set are found; a
// set still missing parts when the scan ends is an error record naming
// them.

// wimSets holds the parts of the split WIMs found so far. It is used by
// the goroutine that writes records only.
type wimSets struct {
	byGUID map[[16]byte]*wimSet
	order  [][16]byte // in the order first seen, for the errors at the end
}

type wimSet struct {
	total int
	parts map[int]outcome
}

// add holds one part; once its set is whole it returns part 1's outcome
// with every source's parts filled in.
func (ws *wimSets) add(out outcome) (*outcome, error) {
	info := out.part
	if ws.byGUID == nil {
		ws.byGUID = map[[16]byte]*wimSet{}
	}
	set := ws.byGUID[info.GUID]
	if set == nil {
		set = &wimSet{total: info.Total, parts: map[int]outcome{}}
		ws.byGUID[info.GUID] = set
		ws.order = append(ws.order, info.GUID)
	}
	if info.Total != set.total {
		return nil, fmt.Errorf("part %d of %d of the split WIM %s, but its other parts say it has %d", info.Part, info.Total, info.GUIDString(), set.total)
	}
	if other, dup := set.parts[info.Part]; dup {
		return nil, fmt.Errorf("part %d of the split WIM %s, as %s is: left out", info.Part, info.GUIDString(), other.entry.abs)
	}
	set.parts[info.Part] = out
	if len(set.parts) < set.total {
		return nil, nil
	}
	delete(ws.byGUID, info.GUID)
	first := set.parts[1]
	var paths []string
	for n := 2; n <= set.total; n++ {
		paths = append(paths, set.parts[n].entry.abs)
	}
	for _, src := range first.sources() {
		src.Parts = paths
	}
	return &first, nil
}

// incomplete returns an error record for each set still missing parts,
// named by its lowest part found.
func (ws *wimSets) incomplete() []*records.Error {
	var errs []*records.Error
	for _, guid := range ws.order {
		set := ws.byGUID[guid]
		if set == nil {
			continue
		}
		e := &wim.SplitError{GUID: guid, Total: set.total}
		for n := 1; n <= set.total; n++ {
			if _, ok := set.parts[n]; ok {
				e.Given = append(e.Given, n)
			} else {
				e.Missing = append(e.Missing, n)
			}
		}
		var paths []string
		for _, n := range e.Given {
			paths = append(paths, set.parts[n].entry.abs)
		}
		first := set.parts[slices.Min(e.Given)].entry.abs
		errs = append(errs, &records.Error{Stage: "scan", Source: first, URI: first, ID: filepath.Base(first),
			Message: fmt.Sprintf("%v (found: %s): the set is left out; put its missing parts beside the others", e, strings.Join(paths, ", "))})
	}
	return errs
}
