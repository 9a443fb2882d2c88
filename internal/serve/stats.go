package serve

import (
	"cmp"
	"net/http"
	"slices"
	"sync"
)

// topStats counts the hashes asked for, in memory only (the database is
// never written), as CIRCL's /stats/top reports them.
type topStats struct {
	mu      sync.Mutex
	exist   map[string]*topEntry
	missing map[string]*topEntry
}

type topEntry struct {
	count    int64
	fileName string
}

// maxTopEntries bounds each map; past it the hashes asked for only once
// are forgotten, so a client sending random hashes cannot grow memory.
const maxTopEntries = 100_000

// topShown is how many CIRCL's /stats/top lists.
const topShown = 100

func newTopStats() *topStats {
	return &topStats{exist: map[string]*topEntry{}, missing: map[string]*topEntry{}}
}

// count records one lookup of key (upper-case hex).
func (t *topStats) count(known bool, key, fileName string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.missing
	if known {
		m = t.exist
	}
	e := m[key]
	if e == nil {
		if len(m) >= maxTopEntries {
			for k, old := range m {
				if old.count <= 1 {
					delete(m, k)
				}
			}
			if len(m) >= maxTopEntries {
				clear(m)
			}
		}
		e = &topEntry{fileName: fileName}
		m[key] = e
	}
	e.count++
}

// ranked is a map's top entries, most asked first, then by hash.
func ranked(m map[string]*topEntry) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		return cmp.Or(cmp.Compare(m[b].count, m[a].count), cmp.Compare(a, b))
	})
	return keys[:min(len(keys), topShown)]
}

// topExisting is an entry of "exist": CIRCL pairs the hash and its count
// under "SHA-1" whatever digest was asked.
type topExisting struct {
	FileName string `json:"FileName"`
	SHA1     [2]any `json:"SHA-1"`
}

// handleTop is GET /stats/top: the 100 most asked hashes that were
// missing ("nx", [hash, count] pairs) and known ("exist").
func (s *Server) handleTop(w http.ResponseWriter, _ *http.Request) {
	t := s.top
	t.mu.Lock()
	nx := [][2]any{}
	for _, k := range ranked(t.missing) {
		nx = append(nx, [2]any{k, t.missing[k].count})
	}
	exist := []topExisting{}
	for _, k := range ranked(t.exist) {
		exist = append(exist, topExisting{FileName: t.exist[k].fileName, SHA1: [2]any{k, t.exist[k].count}})
	}
	t.mu.Unlock()
	writeJSON(w, http.StatusOK, struct {
		NX    [][2]any      `json:"nx"`
		Exist []topExisting `json:"exist"`
	}{nx, exist})
}
