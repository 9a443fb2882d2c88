package serve

import (
	"bytes"
	"context"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"html/template"
	"net/http"
	"strconv"
	"strings"

	"github.com/hashr-dev/hashr/internal/db"
)

// The page is server-rendered by html/template, which escapes every value
// for where it lands (text, attribute, URL): file names, IDs and paths
// come from the sources and are hostile input. The one script is inline,
// allowed by a per-response nonce in the Content-Security-Policy, so even
// markup that escaped escaping could run no script.

//go:embed page.html
var pageFS embed.FS

var pageTemplate = template.Must(template.New("page.html").Funcs(template.FuncMap{
	"hex":   hex.EncodeToString,
	"upper": upperHex,
	"join":  func(s []string) string { return strings.Join(s, ", ") },
	"add":   func(a, b int) int { return a + b },
}).ParseFS(pageFS, "page.html"))

// Page sizes of the browsing views.
const (
	sourcesPerPage = 50
	filesPerPage   = 100
)

// pageData is everything the template may show; each view fills its part.
type pageData struct {
	Nonce   string
	View    string // "home", "sources" or "source"
	Query   string
	Error   string
	Info    infoRecord
	Results []pageResult
	// Sources view.
	Sources db.SourcePage
	Repo    string
	// Source view.
	Source   string
	Children []db.Child
	Total    int64
	// Paging of the sources and source views.
	Page, Pages int
}

// pageResult is the answer for one hash the page was asked about.
type pageResult struct {
	Query   string
	Invalid bool
	Samples []*db.ServedSample
}

// render writes the page with a fresh script nonce.
func (s *Server) render(w http.ResponseWriter, code int, d *pageData) {
	nonce := make([]byte, 16)
	rand.Read(nonce)
	d.Nonce = base64.StdEncoding.EncodeToString(nonce)
	var body bytes.Buffer
	if err := pageTemplate.Execute(&body, d); err != nil {
		http.Error(w, "rendering the page failed", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+d.Nonce+"'; style-src 'unsafe-inline'; "+
		"form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(code)
	w.Write(body.Bytes())
}

// handlePage is GET / (with ?q=HASH, one lookup) and POST / (hashes=...,
// many, one per line or separated by spaces or commas).
func (s *Server) handlePage(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := requestContext(r)
	defer cancel()
	d := &pageData{View: "home"}
	st, err := s.reader.ServeStats(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d.Info = s.info(st)
	var queries []string
	if r.Method == http.MethodPost {
		if err := r.ParseForm(); err != nil {
			d.Error = "The form could not be read: send at most " + strconv.Itoa(s.opts.maxBulk) + " hashes."
			s.render(w, http.StatusRequestEntityTooLarge, d)
			return
		}
		queries = strings.FieldsFunc(r.PostForm.Get("hashes"), func(c rune) bool {
			return c == ',' || c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == ';'
		})
	} else if q := strings.TrimSpace(r.URL.Query().Get("q")); q != "" {
		queries = []string{q}
		d.Query = q
	}
	if len(queries) > s.opts.maxBulk {
		d.Error = "Too many hashes: at most " + strconv.Itoa(s.opts.maxBulk) + " at once."
		s.render(w, http.StatusRequestEntityTooLarge, d)
		return
	}
	if d.Results, err = s.lookUpForPage(ctx, queries); err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, http.StatusOK, d)
}

// lookUpForPage answers each query, with one database query per digest
// kind.
func (s *Server) lookUpForPage(ctx context.Context, queries []string) ([]pageResult, error) {
	results := make([]pageResult, len(queries))
	byAlgo := map[string][]int{} // algorithm → indexes of its queries
	keys := map[string][][]byte{}
	for i, q := range queries {
		results[i].Query = q
		algo, ok := algorithmOfLength(len(q))
		var key []byte
		if ok {
			key, ok = algo.parseDigest(q)
		}
		if !ok {
			results[i].Invalid = true
			continue
		}
		byAlgo[algo.name] = append(byAlgo[algo.name], i)
		keys[algo.name] = append(keys[algo.name], key)
	}
	for name, idx := range byAlgo {
		algo := algorithms[name]
		samples, err := s.lookup(ctx, algo.column, keys[name])
		if err != nil {
			return nil, err
		}
		for _, i := range idx {
			want := strings.ToLower(results[i].Query)
			for _, sample := range samples {
				if hex.EncodeToString(digestOf(&sample.Sample, name)) == want {
					results[i].Samples = append(results[i].Samples, sample)
				}
			}
			s.top.count(len(results[i].Samples) > 0, strings.ToUpper(want), "")
		}
	}
	return results, nil
}

// digestOf is the sample's digest of the algorithm named.
func digestOf(s *db.Sample, name string) []byte {
	switch name {
	case "md5":
		return s.MD5
	case "sha1":
		return s.SHA1
	}
	return s.SHA256
}

// pageNumber reads ?page=N (1 first).
func pageNumber(r *http.Request) int {
	n, err := strconv.Atoi(r.URL.Query().Get("page"))
	if err != nil || n < 1 {
		return 1
	}
	return min(n, 1<<20) // no offset overflows
}

func pagesOf(total int64, per int) int { return max(1, int((total+int64(per)-1)/int64(per))) }

// handleSourcesPage is GET /ui/sources?page=N&repo=R: the sources, paged.
func (s *Server) handleSourcesPage(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := requestContext(r)
	defer cancel()
	d := &pageData{View: "sources", Page: pageNumber(r), Repo: r.URL.Query().Get("repo")}
	var err error
	if d.Sources, err = s.reader.ServeSources(ctx, d.Repo, sourcesPerPage, (d.Page-1)*sourcesPerPage); err != nil {
		s.fail(w, r, err)
		return
	}
	d.Pages = pagesOf(d.Sources.Total, sourcesPerPage)
	s.render(w, http.StatusOK, d)
}

// handleSourcePage is GET /ui/source/SHA256?page=N: a source's files.
func (s *Server) handleSourcePage(w http.ResponseWriter, r *http.Request) {
	d := &pageData{View: "source", Page: pageNumber(r), Source: r.PathValue("hash")}
	key, ok := algorithms["sha256"].parseDigest(d.Source)
	if !ok {
		d.Error = "Not a source's SHA-256."
		s.render(w, http.StatusBadRequest, d)
		return
	}
	ctx, cancel := requestContext(r)
	defer cancel()
	var err error
	if d.Children, d.Total, err = s.reader.ServeChildren(ctx, db.BySHA256, key, filesPerPage, (d.Page-1)*filesPerPage); err != nil {
		s.fail(w, r, err)
		return
	}
	d.Pages = pagesOf(d.Total, filesPerPage)
	code := http.StatusOK
	if d.Total == 0 {
		d.Error = "No trusted source of this set has this SHA-256."
		code = http.StatusNotFound
	}
	s.render(w, code, d)
}
