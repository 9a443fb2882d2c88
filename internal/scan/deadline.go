package scan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// defaultMaxTime bounds one request of a remote listing: a page of tags
// or of objects, a tag's manifest, a URL's size or bytes. A server that
// answers at all does so in seconds; one that sends a byte now and then
// never trips the transport's timeouts, which are between bytes.
const defaultMaxTime = 10 * time.Minute

// errMaxTime ends a request that took longer than --max-time.
var errMaxTime = errors.New("the request took longer than --max-time")

// deadlineTransport gives each request, its body read included, maxTime
// at most, however steadily bytes come.
type deadlineTransport struct {
	next    http.RoundTripper
	maxTime time.Duration
}

func (t deadlineTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithTimeoutCause(req.Context(), t.maxTime, errMaxTime)
	resp, err := t.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		err = t.overMaxTime(ctx, err)
		cancel()
		return nil, err
	}
	resp.Body = &deadlineBody{ReadCloser: resp.Body, ctx: ctx, cancel: cancel, t: t}
	return resp, nil
}

// overMaxTime is err, or the --max-time error when ctx ended because
// --max-time passed (err then says only that a context ended).
func (t deadlineTransport) overMaxTime(ctx context.Context, err error) error {
	if errors.Is(context.Cause(ctx), errMaxTime) {
		return fmt.Errorf("%w %s", errMaxTime, t.maxTime)
	}
	return err
}

// deadlineBody is an answer's body, read within its request's --max-time.
type deadlineBody struct {
	io.ReadCloser
	ctx    context.Context
	cancel context.CancelFunc
	t      deadlineTransport
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = b.t.overMaxTime(b.ctx, err)
	}
	return n, err
}

func (b *deadlineBody) Close() error {
	defer b.cancel()
	return b.ReadCloser.Close()
}
