package serve

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"

	"github.com/hashr-dev/hashr/internal/db"
)

// hashlookupVersion is the version of CIRCL's API that hashr-serve speaks
// (bin/server.py's "version"), reported in /info as CIRCL reports it.
const hashlookupVersion = "1.2"

// handleLookup is GET /lookup/{md5,sha1,sha256}/HASH: the sample with its
// parents, 404 when the set does not know it, 400 for a malformed hash.
func (s *Server) handleLookup(w http.ResponseWriter, r *http.Request) {
	algo, ok := algorithms[r.PathValue("algo")]
	if !ok {
		handleNotFound(w, r)
		return
	}
	query := r.PathValue("hash")
	key, ok := algo.parseDigest(query)
	if !ok {
		writeMessage(w, http.StatusBadRequest, algo.invalid)
		return
	}
	ctx, cancel := requestContext(r)
	defer cancel()
	samples, err := s.lookup(ctx, algo.column, [][]byte{key})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if len(samples) == 0 {
		s.top.count(false, upperHex(key), "")
		writeJSON(w, http.StatusNotFound, message{Message: "Non existing " + algo.label, Query: query})
		return
	}
	// An md5 that several samples share answers with the first; bulk
	// lookups answer with each.
	s.top.count(true, upperHex(key), fileName(samples[0]))
	writeLookupJSON(w, samples[:1], false)
}

// fail answers a request that the database could not: 503 when it is
// unreachable or slow, and says so in the log; a client that left gets
// nothing.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	if clientGone(err) && r.Context().Err() != nil {
		return
	}
	s.log.failure(r, err)
	writeMessage(w, http.StatusServiceUnavailable, "The hash set could not be read; try again later.")
}

// bulkRequest is CIRCL's bulk body.
type bulkRequest struct {
	Hashes *[]string `json:"hashes"`
}

// readBulkHashes reads a bulk body's "hashes", as json.Decoder reads it
// into a bulkRequest (found is false where the body has none). A body as
// clients send it, the plain strings of one "hashes" array and nothing
// else, is read by plainBulkHashes; any other (escapes, other members,
// another case, an error) by json.Decoder from the bytes read, so that
// its errors and its reading are as they were. encoding/json's reflection
// over a thousand strings was a tenth of hashr-serve's instructions for
// a bulk.
func readBulkHashes(body io.Reader) (hashes [][]byte, found bool, err error) {
	data, readErr := io.ReadAll(body)
	if readErr == nil {
		if hashes, ok := plainBulkHashes(data); ok {
			return hashes, true, nil
		}
	}
	var req bulkRequest
	// json.Decoder stops at the end of the first value: an error of the
	// body after it (one too long) is no error, as before.
	if err := json.NewDecoder(io.MultiReader(bytes.NewReader(data), failingReader{readErr})).Decode(&req); err != nil {
		return nil, false, err
	}
	if req.Hashes == nil {
		return nil, false, nil
	}
	hashes = make([][]byte, len(*req.Hashes))
	for i, h := range *req.Hashes {
		hashes[i] = []byte(h)
	}
	return hashes, true, nil
}

// failingReader ends a body with the error its reading ended with; nil
// is the end of the body (io.EOF).
type failingReader struct{ err error }

func (f failingReader) Read([]byte) (int, error) {
	if f.err == nil {
		return 0, io.EOF
	}
	return 0, f.err
}

// plainBulkHashes reads {"hashes": ["...", ...]}, with JSON's white
// space anywhere between tokens and after, each string printable ASCII
// without an escape: the hashes are slices of data. ok is false for any
// other body.
func plainBulkHashes(data []byte) (hashes [][]byte, ok bool) {
	p := jsonTokens{data: data}
	if !p.literal(`{`) || !p.literal(`"hashes"`) || !p.literal(`:`) || !p.literal(`[`) {
		return nil, false
	}
	hashes = make([][]byte, 0, bytes.Count(data, []byte{','})+1)
	if !p.literal(`]`) {
		for {
			h, ok := p.plainString()
			if !ok {
				return nil, false
			}
			hashes = append(hashes, h)
			if p.literal(`]`) {
				break
			}
			if !p.literal(`,`) {
				return nil, false
			}
		}
	}
	if !p.literal(`}`) {
		return nil, false
	}
	p.space()
	return hashes, p.at == len(p.data)
}

// jsonTokens reads the tokens of a JSON text from at.
type jsonTokens struct {
	data []byte
	at   int
}

// space passes JSON's white space.
func (p *jsonTokens) space() {
	for p.at < len(p.data) {
		switch p.data[p.at] {
		case ' ', '\t', '\n', '\r':
			p.at++
		default:
			return
		}
	}
}

// literal passes white space and then lit, if it is there.
func (p *jsonTokens) literal(lit string) bool {
	p.space()
	if !bytes.HasPrefix(p.data[p.at:], []byte(lit)) {
		return false
	}
	p.at += len(lit)
	return true
}

// plainString passes white space and a string of printable ASCII
// without an escape, and gives its bytes.
func (p *jsonTokens) plainString() ([]byte, bool) {
	p.space()
	if p.at == len(p.data) || p.data[p.at] != '"' {
		return nil, false
	}
	start := p.at + 1
	i := start
	// Eight bytes at a time while none ends the string or needs a look:
	// a byte at a time, the thousand strings of a bulk were a twentieth
	// of hashr-serve's instructions for it.
	for i+8 <= len(p.data) && plainWord(binary.LittleEndian.Uint64(p.data[i:])) {
		i += 8
	}
	for ; i < len(p.data); i++ {
		switch c := p.data[i]; {
		case c == '"':
			p.at = i + 1
			return p.data[start:i], true
		case c < 0x20 || c == '\\' || c >= 0x80:
			return nil, false
		}
	}
	return nil, false
}

// bulkBodyLimit caps a bulk body: MaxServeBatch hashes of 64 digits,
// quoted and separated, with room for spaces.
const bulkBodyLimit = db.MaxServeBatch*80 + 4096

// handleBulk is POST /bulk/{md5,sha1,sha256} with {"hashes": [...]}: the
// samples found, in one or two queries (db.ServeLookup). As CIRCL,
// hashes of the wrong form are left out rather than refused, and a body
// without "hashes" is a 404.
func (s *Server) handleBulk(w http.ResponseWriter, r *http.Request) {
	algo, ok := algorithms[r.PathValue("algo")]
	if !ok {
		handleNotFound(w, r)
		return
	}
	hashes, found, err := readBulkHashes(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeMessage(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("The request body is over %d bytes: send at most %d hashes per request.", tooBig.Limit, s.opts.maxBulk))
			return
		}
		writeMessage(w, http.StatusBadRequest, "Failed to decode JSON object: "+err.Error())
		return
	}
	if !found {
		writeMessage(w, http.StatusNotFound, "JSON format incorrect. An array of hashes in the key 'hashes' is expected.")
		return
	}
	if len(hashes) > s.opts.maxBulk {
		writeMessage(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("%d hashes in one request: send at most %d.", len(hashes), s.opts.maxBulk))
		return
	}
	// The keys share one slab: a bulk's thousand keys were a thousand
	// allocations.
	size := algo.hexLen / 2
	slab := make([]byte, len(hashes)*size)
	keys := make([][]byte, 0, len(hashes))
	for _, h := range hashes {
		if key := slab[:size:size]; algo.decodeDigest(key, h) {
			keys, slab = append(keys, key), slab[size:]
		}
	}
	ctx, cancel := requestContext(r)
	defer cancel()
	samples, err := s.lookup(ctx, algo.column, keys)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeLookupJSON(w, samples, true)
}

// pageRequest reads the {hash}/{count}/{cursor} of /parents and /children.
// CIRCL's count 0 means 100; its cursor is where the next page starts, 0
// for the first (a Redis SSCAN cursor there, an offset here).
func pageRequest(w http.ResponseWriter, r *http.Request) (algo algorithm, key []byte, count, cursor int, ok bool) {
	h := r.PathValue("hash")
	algo, ok = algorithmOfLength(len(h))
	if ok {
		key, ok = algo.parseDigest(h)
	}
	if !ok {
		writeMessage(w, http.StatusBadRequest, "Hash value incorrect, expecting a MD5, SHA1 or SHA-256 value in hex format.")
		return algo, nil, 0, 0, false
	}
	count, err := strconv.Atoi(r.PathValue("count"))
	if err != nil || count < 0 {
		handleNotFound(w, r) // Flask's <int:count> matches no other path
		return algo, nil, 0, 0, false
	}
	if count == 0 {
		count = 100
	}
	count = min(count, maxPage)
	cursor, err = strconv.Atoi(r.PathValue("cursor"))
	if err != nil || cursor < 0 {
		writeMessage(w, http.StatusBadRequest, "The cursor must be 0 or a cursor returned by the previous page.")
		return algo, nil, 0, 0, false
	}
	return algo, key, count, cursor, true
}

// maxPage bounds a page of parents or children.
const maxPage = 10000

// nextCursor is the cursor of the page after one of n items from cursor,
// 0 when it was the last, as Redis's SSCAN ends.
func nextCursor(cursor, n int, total int64) int {
	if int64(cursor+n) >= total {
		return 0
	}
	return cursor + n
}

// handleParents is GET /parents/HASH/COUNT/CURSOR: the sources holding a
// sample (upper-case SHA-256), a page at a time.
func (s *Server) handleParents(w http.ResponseWriter, r *http.Request) {
	algo, key, count, cursor, ok := pageRequest(w, r)
	if !ok {
		return
	}
	ctx, cancel := requestContext(r)
	defer cancel()
	parents, total, err := s.reader.ServeParents(ctx, algo.column, key, count, cursor)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if total == 0 {
		writeMessage(w, http.StatusNotFound, "The "+algo.short+" value has no known parent.")
		return
	}
	list := make([]string, len(parents))
	for i, p := range parents {
		list[i] = upperHex(p)
	}
	writeJSON(w, http.StatusOK, struct {
		Parents []string `json:"parents"`
		Cursor  int      `json:"cursor"`
		Total   int64    `json:"total"`
	}{list, nextCursor(cursor, len(list), total), total})
}

// handleChildren is GET /children/HASH/COUNT/CURSOR: a source's files, a
// page at a time, each by its SHA-1 as CIRCL lists children (SHA-256
// for a file hashed without SHA-1).
func (s *Server) handleChildren(w http.ResponseWriter, r *http.Request) {
	algo, key, count, cursor, ok := pageRequest(w, r)
	if !ok {
		return
	}
	ctx, cancel := requestContext(r)
	defer cancel()
	children, total, err := s.reader.ServeChildren(ctx, algo.column, key, count, cursor)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if total == 0 {
		writeMessage(w, http.StatusNotFound, "The "+algo.short+" value has no known child.")
		return
	}
	list := make([]string, len(children))
	for i, c := range children {
		list[i] = upperHex(c.SHA1)
		if c.SHA1 == nil {
			list[i] = upperHex(c.SHA256)
		}
	}
	writeJSON(w, http.StatusOK, struct {
		Children []string `json:"children"`
		Cursor   int      `json:"cursor"`
		Total    int64    `json:"total"`
	}{list, nextCursor(cursor, len(list), total), total})
}

// infoRecord is /info: CIRCL's keys where they have a meaning here, and
// hashr's own.
type infoRecord struct {
	TotalKeys      int64    `json:"stat:hashlookup_total_keys"`
	Version        string   `json:"hashlookup-version"`
	HashrVersion   string   `json:"hashr:version"`
	Samples        int64    `json:"hashr:samples"`
	Sources        int64    `json:"hashr:sources"`
	FailedSources  int64    `json:"hashr:failed-sources"`
	Repositories   []string `json:"hashr:repositories"`
	LastLoad       string   `json:"hashr:last-load"`
	IncludesFailed bool     `json:"hashr:include-failed"`
}

func (s *Server) handleInfo(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := requestContext(r)
	defer cancel()
	st, err := s.reader.ServeStats(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.info(st))
}

func (s *Server) info(st db.SetStats) infoRecord {
	repos := make([]string, 0, len(st.Repos))
	for repo := range st.Repos {
		repos = append(repos, repo)
	}
	slices.Sort(repos)
	return infoRecord{TotalKeys: st.Samples, Version: hashlookupVersion, HashrVersion: s.version,
		Samples: st.Samples, Sources: st.Sources, FailedSources: st.FailedSources, Repositories: repos,
		LastLoad: st.LastLoad, IncludesFailed: s.opts.includeFailed}
}

// handleHealth is GET /healthz: 200 when the database answers.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := requestContext(r)
	defer cancel()
	if err := s.reader.Ping(ctx); err != nil {
		s.log.failure(r, err)
		writeMessage(w, http.StatusServiceUnavailable, "The hash set's database does not answer.")
		return
	}
	writeJSON(w, http.StatusOK, message{Message: "ok"})
}

// hashrVersion is the module version and commit this binary was built from.
func hashrVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := info.Main.Version
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" {
			v += " " + s.Value[:min(12, len(s.Value))]
		}
	}
	return strings.TrimSpace(v)
}
