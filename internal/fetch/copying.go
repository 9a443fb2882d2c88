package fetch

import (
	"context"
	"io"

	"github.com/hashr-dev/hashr/internal/cli"
)

// copyBufferSize is large enough that hashing, not system calls, bounds the
// speed of a copy.
const copyBufferSize = 1 << 20

// copyContext copies src to dst until EOF, an error, or ctx is cancelled,
// and returns the bytes copied.
func copyContext(ctx context.Context, dst io.Writer, src io.Reader) (int64, error) {
	buf := make([]byte, copyBufferSize)
	return io.CopyBuffer(dst, cli.Interruptible(ctx, src), buf)
}
