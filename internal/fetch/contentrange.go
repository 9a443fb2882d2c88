package fetch

import (
	"fmt"
	"strconv"
	"strings"
)

// contentRange is a Content-Range header (RFC 9110, section 14.4):
// "bytes FIRST-LAST/SIZE", or "bytes */SIZE" in a 416 answer.
type contentRange struct {
	first, last int64
	size        int64 // -1 when the server wrote "*"
	unsatisfied bool  // "bytes */SIZE"
}

func parseContentRange(h string) (contentRange, error) {
	bad := fmt.Errorf("malformed Content-Range %q", h)
	spec, ok := strings.CutPrefix(strings.TrimSpace(h), "bytes ")
	if !ok {
		return contentRange{}, bad
	}
	rng, size, ok := strings.Cut(spec, "/")
	if !ok {
		return contentRange{}, bad
	}
	cr := contentRange{size: -1}
	if size != "*" {
		n, err := strconv.ParseInt(size, 10, 64)
		if err != nil || n < 0 {
			return contentRange{}, bad
		}
		cr.size = n
	}
	if rng == "*" {
		if cr.size < 0 {
			return contentRange{}, bad
		}
		cr.unsatisfied = true
		return cr, nil
	}
	first, last, ok := strings.Cut(rng, "-")
	if !ok {
		return contentRange{}, bad
	}
	var err1, err2 error
	cr.first, err1 = strconv.ParseInt(first, 10, 64)
	cr.last, err2 = strconv.ParseInt(last, 10, 64)
	if err1 != nil || err2 != nil || cr.first < 0 || cr.last < cr.first || cr.size >= 0 && cr.last >= cr.size {
		return contentRange{}, bad
	}
	return cr, nil
}
