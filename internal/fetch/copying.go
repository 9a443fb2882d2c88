package fetch

import (
	"context"
	"io"
)

// copyBufferSize is large enough that hashing, not system calls, bounds the
// speed of a copy.
const copyBufferSize = 1 << 20

// copyContext copies src to dst until EOF, an error, or ctx is cancelled,
// and returns the bytes copied.
func copyContext(ctx context.Context, dst io.Writer, src io.Reader) (int64, error) {
	buf := make([]byte, copyBufferSize)
	return io.CopyBuffer(dst, contextReader{ctx, src}, buf)
}

// contextReader stops a copy of a stream that never blocks for long (a
// local file) once ctx is cancelled.
type contextReader struct {
	ctx context.Context
	r   io.Reader
}

func (c contextReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
