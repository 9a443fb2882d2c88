package serve

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/hashr-dev/hashr/internal/bloom/dcso"
	"github.com/hashr-dev/hashr/internal/db"
)

// bloomBuilder writes the set's Bloom filter of the digest algo (md5,
// sha1 or sha256) with the false-positive rate fpRate to w.
type bloomBuilder func(ctx context.Context, r *db.Reader, algo string, fpRate float64, w io.Writer) error

// writeDCSO is hashr-export --format dcso-bloom's writer, so that the
// filter served and the filter exported are the same bytes. It holds the
// trusted samples only, whatever --include-failed says: a filter cannot
// mark the others.
func writeDCSO(ctx context.Context, r *db.Reader, algo string, fpRate float64, w io.Writer) error {
	_, err := dcso.WriteSet(ctx, r, db.Filter{}, algo, fpRate, w)
	return err
}

// bloomCache builds each filter on first request and keeps it while the
// set is unchanged (its last load time and sample count).
type bloomCache struct {
	reader  *db.Reader
	fpRate  float64
	build   bloomBuilder
	mu      sync.Mutex // held while building: one build at a time
	filters map[string]*builtFilter
}

type builtFilter struct {
	version string // the set it was built from
	body    []byte
	etag    string
}

func newBloomCache(r *db.Reader, fpRate float64, build bloomBuilder) *bloomCache {
	return &bloomCache{reader: r, fpRate: fpRate, build: build, filters: map[string]*builtFilter{}}
}

// get returns the filter for algo, building it when the set changed.
func (c *bloomCache) get(ctx context.Context, algo string) (*builtFilter, error) {
	st, err := c.reader.ServeStats(ctx)
	if err != nil {
		return nil, err
	}
	version := st.LastLoad + "/" + strconv.FormatInt(st.Samples, 10)
	c.mu.Lock()
	defer c.mu.Unlock()
	if f := c.filters[algo]; f != nil && f.version == version {
		return f, nil
	}
	var buf bytes.Buffer
	if err := c.build(ctx, c.reader, algo, c.fpRate, &buf); err != nil {
		return nil, fmt.Errorf("building the %s Bloom filter: %w", algo, err)
	}
	sum := sha256.Sum256(buf.Bytes())
	f := &builtFilter{version: version, body: buf.Bytes(), etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
	c.filters[algo] = f
	return f, nil
}

// handleBloom is GET /bloom/{md5,sha1,sha256}: the set as a Bloom filter
// in DCSO's format (upper-case hex keys, as hashlookup's filters), with
// an ETag, so a client downloads it again only when the set changed.
func (s *Server) handleBloom(w http.ResponseWriter, r *http.Request) {
	algo, ok := algorithms[r.PathValue("algo")]
	if !ok {
		handleNotFound(w, r)
		return
	}
	f, err := s.bloom.get(r.Context(), algo.name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("ETag", f.etag)
	w.Header().Set("Cache-Control", "no-cache") // revalidate: the set may be loaded again
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="hashr-`+algo.name+`.bloom"`)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body)) // If-None-Match answered there
}
