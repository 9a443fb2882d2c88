package serve

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/db"
)

// readHeaderTimeout is how long a client has to send its headers
// (slowloris: headers sent a byte at a time); a variable for tests.
var readHeaderTimeout = 10 * time.Second

// Limits every connection is held to: a slow or hostile client holds a
// connection for at most these, and never makes the server read more.
const (
	readTimeout    = 60 * time.Second
	writeTimeout   = 5 * time.Minute // a Bloom filter of a large set takes a while to send
	idleTimeout    = 2 * time.Minute
	maxHeaderBytes = 16 << 10
	// queryTimeout bounds the database's work for one request.
	queryTimeout = 30 * time.Second
	// shutdownGrace is how long requests in flight may finish after SIGTERM.
	shutdownGrace = 15 * time.Second
)

// Server answers hashr-serve's requests from one database.
type Server struct {
	reader  *db.Reader
	opts    *options
	log     accessLog
	top     *topStats
	bloom   *bloomCache
	admit   *admission
	version string
}

// newServer returns the server for an open reader.
func newServer(r *db.Reader, o *options, log accessLog) *Server {
	return &Server{reader: r, opts: o, log: log, top: newTopStats(), bloom: newBloomCache(r, o.bloomFPRate, writeDCSO),
		admit: newAdmission(o.maxBulks), version: hashrVersion()}
}

// Handler is every route, behind the access log, the token check, CORS
// and the request size limit.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /lookup/{algo}/{hash}", s.handleLookup)
	mux.HandleFunc("POST /bulk/{algo}", s.handleBulk)
	mux.HandleFunc("GET /parents/{hash}/{count}/{cursor}", s.handleParents)
	mux.HandleFunc("GET /children/{hash}/{count}/{cursor}", s.handleChildren)
	mux.HandleFunc("GET /info", s.handleInfo)
	mux.HandleFunc("GET /stats/top", s.handleTop)
	mux.HandleFunc("GET /healthz", s.handleHealth)
	mux.HandleFunc("GET /bloom/{algo}", s.handleBloom)
	mux.HandleFunc("GET /{$}", s.handlePage)
	mux.HandleFunc("POST /{$}", s.handlePage)
	mux.HandleFunc("GET /ui/sources", s.handleSourcesPage)
	mux.HandleFunc("GET /ui/source/{hash}", s.handleSourcePage)
	mux.HandleFunc("/", handleNotFound)
	return s.logRequests(s.checkToken(s.cors(limitBody(mux))))
}

// handleNotFound is Flask's 404 for a path no route serves.
func handleNotFound(w http.ResponseWriter, _ *http.Request) {
	writeMessage(w, http.StatusNotFound, "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.")
}

// limitBody caps every request body: a bulk request is the largest the
// server reads (bulkBodyLimit).
func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, bulkBodyLimit)
		next.ServeHTTP(w, r)
	})
}

// checkToken refuses requests without the bearer token, when there is one;
// /healthz stays open for load balancers.
func (s *Server) checkToken(next http.Handler) http.Handler {
	if s.opts.token == "" {
		return next
	}
	want := []byte("Bearer " + s.opts.token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if r.URL.Path != "/healthz" && subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="hashr-serve"`)
			writeMessage(w, http.StatusUnauthorized, "This hash set needs a token: send the header 'Authorization: Bearer TOKEN'.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// cors allows the one origin --cors-origin names, and no other; without
// it browsers on other sites cannot read the answers.
func (s *Server) cors(next http.Handler) http.Handler {
	if s.opts.corsOrigin == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", s.opts.corsOrigin)
		h.Add("Vary", "Origin")
		if r.Method == http.MethodOptions {
			h.Set("Access-Control-Allow-Methods", "GET, POST")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// serve listens on the options' address and serves until ctx ends (SIGINT
// or SIGTERM), then lets the requests in flight finish.
func serve(ctx context.Context, p *cli.Program, s *Server, o *options) error {
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", o.listen, err)
	}
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          s.log.serverLog(),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	p.Infof("serving %s on http://%s/", s.reader.Location(), ln.Addr())
	if o.addrFile != "" {
		if err := writeAddrFile(o.addrFile, ln.Addr().String()); err != nil {
			ln.Close()
			return err
		}
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serving on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	p.Infof("stopping: letting the requests in flight finish (at most %s)", shutdownGrace)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("stopping the server on %s: %w", ln.Addr(), err)
	}
	return nil
}

// requestContext bounds a request's database work.
func requestContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), queryTimeout)
}

// clientGone says whether err is the client leaving, not a failure.
func clientGone(err error) bool {
	return errors.Is(err, context.Canceled) || strings.Contains(fmt.Sprint(err), "connection reset")
}
