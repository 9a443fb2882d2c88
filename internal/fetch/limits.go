package fetch

import (
	"fmt"
	"time"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/httpclient"
)

// downloadLimits bound one download, so a hostile or broken server cannot
// hold a worker forever (a byte every few seconds never trips
// --idle-timeout) nor fill --work (an endless chunked body).
type downloadLimits struct {
	maxTime  time.Duration // all attempts of one download together
	maxBytes int64         // a body of unknown size; 0: the free space less minFree
	minFree  int64         // free bytes the work file system keeps
}

const (
	defaultMaxTime = 6 * time.Hour
	defaultMinFree = 1 << 30
)

// unknownSizeCap is the most bytes a download whose size neither the
// record nor the server says may hold, have of them already in its .part
// in work; -1 when nothing bounds it (the free space cannot be told).
func (l downloadLimits) unknownSizeCap(work *dir, have int64) (int64, error) {
	if l.maxBytes > 0 {
		return l.maxBytes, nil
	}
	free := work.freeSpace()
	if free < 0 {
		return -1, nil
	}
	if free <= l.minFree {
		return 0, httpclient.Permanent(fmt.Errorf("the size is unknown, and the work file system has only %s free, no more than --min-free %s",
			cli.FormatSize(free), cli.FormatSize(l.minFree)))
	}
	return have + free - l.minFree, nil
}

// overCap is the error of a body of unknown size that went past capped.
func (l downloadLimits) overCap(capped int64) error {
	if l.maxBytes > 0 {
		return httpclient.Permanent(fmt.Errorf("the size is unknown, and the server sent more than --max-bytes %s", cli.FormatSize(l.maxBytes)))
	}
	return httpclient.Permanent(fmt.Errorf("the size is unknown, and the server sent more than %d bytes, the work file system's free space less --min-free %s",
		capped, cli.FormatSize(l.minFree)))
}
