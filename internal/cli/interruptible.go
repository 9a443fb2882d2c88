package cli

import (
	"context"
	"io"
)

// Interruptible is r stopped once ctx is cancelled: a copy of a stream
// that never blocks for long (a local file) checks ctx between reads,
// so an interrupted stage does not first read a whole source to its end.
func Interruptible(ctx context.Context, r io.Reader) io.Reader {
	return interruptible{ctx, r}
}

type interruptible struct {
	ctx context.Context
	r   io.Reader
}

func (c interruptible) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
