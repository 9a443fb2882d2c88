package fetch

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/httpclient"
	"github.com/hashr-dev/hashr/internal/objstore"
)

// maxRestarts bounds how often one download starts again from zero because
// the server would not resume it.
const maxRestarts = 2

// httpFetcher downloads http:// and https:// sources into the work
// directory through a .part file: a retry resumes from it, and so does the
// next run after an interrupted one. A download that fails for good
// removes it.
type httpFetcher struct {
	client      *http.Client
	workDir     string
	idleTimeout time.Duration
	limits      downloadLimits
	note        func(format string, args ...any) // verbose messages

	// What makes it fetch from a cloud store rather than a plain URL; all
	// are optional.
	remote remoteAPI
	// retries is how many more times a transient failure (a 5xx or 429
	// answer, a connection that fails or ends early, a silent server) is
	// tried again, resuming from the .part file, backoff apart (doubling).
	retries int
	backoff time.Duration
}

// remoteAPI turns a source's uri into HTTP requests: an object store's
// API, its credentials, and the digest its answers carry.
type remoteAPI interface {
	// request makes the GET for loc; the caller adds Range.
	request(ctx context.Context, loc *url.URL) (*http.Request, error)
	// md5 is the MD5 the answer says the whole object has, as lowercase
	// hex, or "" when it says none.
	md5(resp *http.Response) string
}

func newHTTPFetcher(opts options, note func(string, ...any)) *httpFetcher {
	workDir, connectTimeout, idleTimeout := opts.workDir, opts.connectTimeout, opts.idleTimeout
	dialer := &net.Dialer{Timeout: connectTimeout, KeepAlive: 30 * time.Second}
	transport := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   connectTimeout,
		ResponseHeaderTimeout: idleTimeout,
		// The bytes are wanted exactly as served: offsets for resuming and
		// sizes refer to them, not to a decompressed form.
		DisableCompression:  true,
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 8,
		IdleConnTimeout:     90 * time.Second,
	}
	return &httpFetcher{
		client:      httpclient.New(transport),
		workDir:     workDir,
		idleTimeout: idleTimeout,
		limits:      opts.limits,
		note:        note,
		retries:     opts.retries,
		backoff:     defaultBackoff,
	}
}

// closeIdle closes the client's idle keep-alive connections.
func (h *httpFetcher) closeIdle() { h.client.CloseIdleConnections() }

const (
	defaultRetries = 3
	defaultBackoff = 500 * time.Millisecond
)

func (h *httpFetcher) fetch(ctx context.Context, loc *url.URL, want expected) (fetched, error) {
	work, err := openWorkDir(h.workDir)
	if err != nil {
		return fetched{}, err
	}
	defer work.close()
	return h.fetchTo(ctx, loc, want, work, workName(want.uri, loc))
}

// fetchTo downloads loc into the file final in d, through final.part,
// within --max-time.
func (h *httpFetcher) fetchTo(ctx context.Context, loc *url.URL, want expected, d *dir, final string) (fetched, error) {
	part := final + ".part"
	pf, err := openPart(ctx, d, part, h.note)
	if err != nil {
		return fetched{}, fmt.Errorf("downloading %s: %w", loc.Redacted(), err)
	}
	defer pf.Close()

	if got, ok, err := h.reuse(ctx, d, final, want); err != nil {
		return fetched{}, h.giveUp(ctx, pf, d, part, err, false)
	} else if ok {
		_ = d.remove(part) // made only to hold the lock
		return got, nil
	}
	dctx, cancel := context.WithTimeoutCause(ctx, h.limits.maxTime, errMaxTime)
	defer cancel()
	sum, d2, received, err := h.attempts(dctx, loc, want, pf, d.join(part), d)
	if err != nil {
		if ctx.Err() == nil && errors.Is(context.Cause(dctx), errMaxTime) {
			err = fmt.Errorf("%w %s (%d bytes received)", errMaxTime, h.limits.maxTime, d2.have)
		}
		return fetched{}, fmt.Errorf("downloading %s: %w", loc.Redacted(), h.giveUp(ctx, pf, d, part, err, received))
	}
	if err := errors.Join(pf.Chmod(0o644), pf.Sync(), d.rename(part, final)); err != nil {
		err = fmt.Errorf("keeping %s: %w", d.join(final), err)
		return fetched{}, fmt.Errorf("downloading %s: %w", loc.Redacted(), h.giveUp(context.Background(), pf, d, part, err, true))
	}
	return fetched{local: d.join(final), sha256: sum, size: d2.have}, nil
}

// errMaxTime ends a download that took longer than --max-time.
var errMaxTime = errors.New("the download took longer than --max-time")

// attempts runs the download into pf, trying again after transient
// failures, and returns its SHA-256, the last attempt, and whether the
// .part held bytes at some point (even if emptied since).
func (h *httpFetcher) attempts(ctx context.Context, loc *url.URL, want expected, pf *os.File, part string, work *dir) (string, *download, bool, error) {
	var sum string
	var d *download
	var err error
	wait := h.backoff
	fromZero := false // started again from byte 0 after a resumed download did not verify
	received := false
	for attempt := 0; ; attempt++ {
		d = &download{h: h, loc: loc, want: want, file: pf, path: part, work: work, sum: sha256.New()}
		if h.remote != nil {
			d.md5 = md5.New()
		}
		sum, err = d.run(ctx)
		received = received || d.received
		if err != nil && errors.Is(err, errMismatch) && d.resumedAt > 0 && attempt == 0 && !fromZero && ctx.Err() == nil {
			// The bytes an earlier run left may be what is wrong (the
			// source changed since): the download starts again from byte
			// 0, once, and is verified again.
			h.note("%s: %v after resuming at byte %d; starting again from byte 0", loc.Redacted(), err, d.resumedAt)
			fromZero = true
			attempt--
			continue
		}
		if err == nil || attempt >= h.retries || !transient(err) || ctx.Err() != nil {
			return sum, d, received, err
		}
		h.note("%s: %v; trying again in %s, resuming", loc.Redacted(), err, wait)
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// giveUp decides what becomes of the .part file of a download that failed
// with err. Only an interrupted run (a signal, a cancelled context) keeps
// it, for the next run to resume; a download that failed for good (retries
// used up, 403, 404, bytes that do not verify, --max-time) leaves nothing
// behind, and the error says so. received says the .part held bytes during
// this run, even if they were dropped since (bytes that did not verify).
func (h *httpFetcher) giveUp(ctx context.Context, pf *os.File, d *dir, part string, err error, received bool) error {
	info, serr := pf.Stat()
	held := serr == nil && info.Size() > 0
	if ctx.Err() != nil && held {
		return fmt.Errorf("%w (kept %s, %d bytes, for the next run to resume)", err, d.join(part), info.Size())
	}
	// Removed while still locked: a run waiting for the lock sees the file
	// gone and starts over.
	if rerr := d.remove(part); rerr != nil {
		return fmt.Errorf("%w; %w", err, rerr)
	}
	if held || received {
		return fmt.Errorf("%w; removed the partial download %s", err, d.join(part))
	}
	return err
}

// reuse hashes a download finished by an earlier run, when there is one
// and it fits the record; one that does not fit is removed, to be
// downloaded again. Without a size in the record, any finished download is
// taken: it was renamed from .part only once complete and verified. A
// link at final is an error: it is not a download of ours.
func (h *httpFetcher) reuse(ctx context.Context, d *dir, final string, want expected) (fetched, bool, error) {
	f, err := d.open(final, os.O_RDONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		return fetched{}, false, nil
	}
	if err != nil {
		return fetched{}, false, fmt.Errorf("checking earlier download: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fetched{}, false, fmt.Errorf("checking earlier download %s: %w", d.join(final), cli.Cause(err))
	}
	if !info.Mode().IsRegular() || want.checkSize(info.Size(), "the earlier download") != nil {
		h.note("%s does not fit the record (%d bytes); downloading it again", d.join(final), info.Size())
		return fetched{}, false, d.remove(final)
	}
	sum := sha256.New()
	n, err := copyContext(ctx, sum, f)
	if err != nil {
		return fetched{}, false, fmt.Errorf("reading earlier download %s: %w", d.join(final), cli.Cause(err))
	}
	digest := hex.EncodeToString(sum.Sum(nil))
	if err := want.check(n, digest); err != nil {
		h.note("%s: %v; downloading it again", d.join(final), err)
		return fetched{}, false, d.remove(final)
	}
	h.note("reusing %s", d.join(final))
	return fetched{local: d.join(final), sha256: digest, size: n}, true, nil
}

// download is one source's download into its locked .part file.
type download struct {
	h    *httpFetcher
	loc  *url.URL
	want expected
	file *os.File // the .part file, positioned at its end
	path string
	work *dir      // where the .part is: its file system's free space bounds a body of unknown size
	sum  hash.Hash // of the file's bytes so far
	md5  hash.Hash // the same, when the remote may say its MD5; else nil
	have int64     // bytes in the file

	resumedAt int64 // bytes already in the file when the download began
	received  bool  // bytes were read into the file (or found there)

	remoteMD5 string // what the remote says the MD5 is, once it has
}

// sums is where the bytes go as they are read: the file and its hashes.
func (d *download) sums() io.Writer {
	if d.md5 == nil {
		return d.sum
	}
	return io.MultiWriter(d.sum, d.md5)
}

// run brings the .part file to the whole source and returns its SHA-256.
// On an error the .part file keeps what was received, for a retry to
// resume, unless its bytes are known to be wrong: then it is emptied.
func (d *download) run(ctx context.Context) (string, error) {
	if err := d.hashPart(ctx); err != nil {
		return "", err
	}
	restarts := 0
	restart := func(why string) error {
		if restarts++; restarts > maxRestarts {
			return fmt.Errorf("%s, %d times in a row", why, restarts)
		}
		d.h.note("%s: %s; starting again from byte 0", d.loc.Redacted(), why)
		return d.truncate()
	}
	for {
		more, err := d.request(ctx)
		var again restartError
		if errors.As(err, &again) {
			if err := restart(string(again)); err != nil {
				return "", err
			}
			continue
		}
		if err != nil {
			return "", err
		}
		if !more {
			break
		}
	}
	digest := hex.EncodeToString(d.sum.Sum(nil))
	err := d.want.check(d.have, digest)
	if err == nil && d.md5 != nil && d.remoteMD5 != "" {
		if got := hex.EncodeToString(d.md5.Sum(nil)); got != d.remoteMD5 {
			err = fmt.Errorf("md5 %w: the bytes hash to %s, the server says %s", errMismatch, got, d.remoteMD5)
		}
	}
	if err != nil {
		// Bytes that do not verify are never resumed from, nor kept.
		if terr := d.truncate(); terr != nil {
			return "", errors.Join(err, terr)
		}
		return "", err
	}
	return digest, nil
}

// hashPart hashes what an earlier run left in the .part file, so the
// network bytes are read once; a part larger than the source is dropped.
func (d *download) hashPart(ctx context.Context) error {
	info, err := d.file.Stat()
	if err != nil {
		return fmt.Errorf("reading %s: %w", d.path, cli.Cause(err))
	}
	if info.Size() == 0 {
		return nil
	}
	if d.want.size != nil && info.Size() > *d.want.size {
		d.h.note("%s holds more bytes than the source has; starting again", d.path)
		return d.truncate()
	}
	if _, err := d.file.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("reading %s: %w", d.path, cli.Cause(err))
	}
	n, err := copyContext(ctx, d.sums(), io.LimitReader(d.file, info.Size()))
	if err != nil {
		return fmt.Errorf("reading %s: %w", d.path, cli.Cause(err))
	}
	d.have, d.resumedAt, d.received = n, n, n > 0
	d.h.note("resuming %s at byte %d", d.loc.Redacted(), n)
	return nil
}

// truncate empties the .part file.
func (d *download) truncate() error {
	d.sum.Reset()
	if d.md5 != nil {
		d.md5.Reset()
	}
	d.have = 0
	if err := d.file.Truncate(0); err != nil {
		return fmt.Errorf("emptying %s: %w", d.path, cli.Cause(err))
	}
	if _, err := d.file.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("emptying %s: %w", d.path, cli.Cause(err))
	}
	return nil
}

// restartError says why the server will not continue the .part file, so
// the download starts again from byte 0.
type restartError string

func (e restartError) Error() string { return string(e) }

// request sends one GET for the bytes not yet in the .part file and appends
// what comes. more is true when the server sent only some of them, as a
// server may, and another request should ask for the rest.
func (d *download) request(ctx context.Context) (more bool, err error) {
	t, err := d.h.get(ctx, d.loc, d.have)
	if err != nil {
		return false, err
	}
	defer t.close()
	resp := t.resp
	if d.h.remote != nil && resp.StatusCode < 300 {
		if m := d.h.remote.md5(resp); m != "" {
			d.remoteMD5 = m
		}
	}
	total := int64(-1) // the source's size, when the server says
	rangeEnd := int64(-1)
	switch {
	case resp.StatusCode == http.StatusOK:
		if d.have > 0 {
			d.h.note("%s: the server does not resume downloads; starting again from byte 0", d.loc.Redacted())
			if err := d.truncate(); err != nil {
				return false, err
			}
		}
		total = resp.ContentLength
	case resp.StatusCode == http.StatusPartialContent && d.have > 0:
		cr, err := parseContentRange(resp.Header.Get("Content-Range"))
		if err != nil || cr.unsatisfied || cr.first != d.have {
			return false, restartError(fmt.Sprintf("the server answered a request for bytes %d- with Content-Range %q",
				d.have, resp.Header.Get("Content-Range")))
		}
		total, rangeEnd = cr.size, cr.last
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && d.have > 0:
		// Asking for the bytes after a part that is already whole.
		cr, err := parseContentRange(resp.Header.Get("Content-Range"))
		complete := err == nil && cr.unsatisfied && cr.size == d.have ||
			(err != nil || cr.size < 0) && d.want.size != nil && *d.want.size == d.have
		if !complete {
			return false, restartError(fmt.Sprintf("the server cannot send bytes %d- (Content-Range %q)",
				d.have, resp.Header.Get("Content-Range")))
		}
		return false, nil
	case resp.StatusCode >= 400:
		return false, &objstore.StatusError{Code: resp.StatusCode, Status: resp.Status, Detail: objstore.ErrorDetail(resp),
			Credentials: d.h.refusedCredentials(resp)}
	default:
		return false, fmt.Errorf("unexpected answer %s", resp.Status)
	}
	if total >= 0 {
		if err := d.want.checkSize(total, "the server"); err != nil {
			return false, err
		}
	}
	return d.receive(ctx, t, total, rangeEnd)
}

// receive appends the body of an answer to the .part file. total is the
// source's size, rangeEnd the last byte of a partial answer, each -1 when
// the server does not say. more is as request's.
func (d *download) receive(ctx context.Context, t *transfer, total, rangeEnd int64) (more bool, err error) {
	// Read no more than the record's size and one byte: a server sending
	// more is caught without filling the disk. A body of unknown size is
	// held to --max-bytes the same way.
	body := io.Reader(t.body())
	capped := int64(-1)
	switch {
	case d.want.size != nil:
		body = io.LimitReader(body, *d.want.size-d.have+1)
	case total < 0:
		if capped, err = d.h.limits.unknownSizeCap(d.work, d.have); err != nil {
			return false, err
		}
		if capped >= 0 {
			body = io.LimitReader(body, capped-d.have+1)
		}
	}
	n, err := copyContext(ctx, io.MultiWriter(d.file, d.sums()), body)
	d.have += n
	d.received = d.received || n > 0
	// Bytes past the end are not the source's: the part is emptied at once,
	// so not even an interrupted run keeps (or resumes from) an oversized
	// one.
	switch {
	case d.want.size != nil && d.have > *d.want.size:
		return false, errors.Join(fmt.Errorf("size %w: got %d bytes, the record says %d", errMismatch, d.have, *d.want.size), d.truncate())
	case total >= 0 && d.have > total:
		return false, errors.Join(fmt.Errorf("the server sent more than the %d bytes it announced", total), d.truncate())
	case capped >= 0 && d.have > capped:
		return false, errors.Join(d.h.limits.overCap(capped), d.truncate())
	}
	if err != nil {
		return false, t.describe(err, d.have, total)
	}
	switch {
	case rangeEnd >= 0 && rangeEnd+1 < total && d.have == rangeEnd+1:
		return true, nil // a partial answer: ask for the rest
	case total >= 0 && d.have < total:
		return false, fmt.Errorf("the server sent %d of %d bytes", d.have, total)
	}
	return false, nil
}

// transfer is one HTTP request in flight, cancelled when the server sends
// nothing for the idle timeout.
type transfer struct {
	resp   *http.Response
	ctx    context.Context
	cancel context.CancelCauseFunc
	idle   *time.Timer
	limit  time.Duration
}

// errIdle is the cause of a transfer cancelled for silence.
var errIdle = errors.New("idle timeout")

// errRequest is a request that could not be built (a bad URL, missing
// credentials): trying again would fail the same way.
var errRequest = errors.New("making request")

func (h *httpFetcher) get(ctx context.Context, loc *url.URL, from int64) (*transfer, error) {
	t := &transfer{limit: h.idleTimeout}
	t.ctx, t.cancel = context.WithCancelCause(ctx)
	t.idle = time.AfterFunc(h.idleTimeout, func() { t.cancel(errIdle) })
	var req *http.Request
	var err error
	if h.remote != nil {
		req, err = h.remote.request(t.ctx, loc)
	} else {
		req, err = http.NewRequestWithContext(t.ctx, http.MethodGet, loc.String(), nil)
	}
	if err != nil {
		t.close()
		return nil, fmt.Errorf("%w: %w", errRequest, err)
	}
	req.Header.Set("User-Agent", "hashr-fetch")
	if from > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", from))
	}
	if s, ok := h.remote.(signer); ok {
		if err := s.sign(req); err != nil {
			t.close()
			return nil, err
		}
	}
	resp, err := h.client.Do(req)
	if err != nil {
		err = t.describe(err, from, -1)
		t.close()
		return nil, err
	}
	t.resp = resp
	return t, nil
}

// body reads the response, holding off the idle timeout while bytes come.
func (t *transfer) body() io.Reader { return idleReader{t} }

type idleReader struct{ t *transfer }

func (r idleReader) Read(p []byte) (int, error) {
	n, err := r.t.resp.Body.Read(p)
	if n > 0 {
		r.t.idle.Reset(r.t.limit)
	}
	return n, err
}

func (t *transfer) close() {
	t.idle.Stop()
	if t.resp != nil {
		t.resp.Body.Close()
	}
	t.cancel(nil)
}

// describe says why a transfer failed, in words for people: a silent
// server, a connection that ended early.
func (t *transfer) describe(err error, have, total int64) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // it names the URL, which the caller does too
	}
	switch {
	case errors.Is(context.Cause(t.ctx), errIdle):
		return fmt.Errorf("the server sent nothing for %s after %d bytes", t.limit, have)
	case errors.Is(err, io.ErrUnexpectedEOF) && total >= 0:
		return fmt.Errorf("the connection ended after %d of %d bytes", have, total)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("the connection ended after %d bytes", have)
	}
	return err
}
