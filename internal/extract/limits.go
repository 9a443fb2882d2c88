package extract

import (
	"fmt"
	"strconv"
	"syscall"

	"github.com/hashr-dev/hashr/internal/cli"
)

// limits keep hostile input (decompression bombs, archives of millions of
// empty members, nested archives) from filling memory or disk. The
// defaults are far above real software: the largest Debian package
// unpacks to a few GiB and a few 10 000 files.
type limits struct {
	sourceBytes int64 // bytes of all members of a source, nested included
	memberBytes int64 // bytes of one member
	members     int64 // members of a source, nested included
	ratio       int64 // decompressed bytes per byte of source
	minFree     int64 // free bytes the spool's file system keeps
}

var defaultLimits = limits{
	sourceBytes: 4 << 40,
	memberBytes: 1 << 40,
	members:     10_000_000,
	ratio:       1000,
	minFree:     1 << 30,
}

// ratioFloor is how far any source may expand, whatever its size, before
// the ratio applies: a 10 KiB archive of a 5 MiB text file is no bomb.
const ratioFloor = 64 << 20

// maxWrappers bounds compressed-in-compressed layers (x.gz.gz.gz…),
// which are unwrapped whatever --max-depth says.
const maxWrappers = 8

// LimitError is a limit reached. A member's limit fails that member; the
// others fail the whole source.
type LimitError struct {
	What   string // what went over, for people
	Flag   string // the flag that sets the limit, "" for a fixed one
	Limit  int64
	Member bool // only the member fails
}

func (e *LimitError) Error() string {
	if e.Flag == "" {
		return e.What
	}
	return fmt.Sprintf("%s (limit %s, set with %s)", e.What, formatSize(e.Limit, e.Flag), e.Flag)
}

func formatSize(n int64, flag string) string {
	if flag == "--max-members" || flag == "--max-ratio" || flag == "--max-depth" {
		return strconv.FormatInt(n, 10)
	}
	for _, u := range []struct {
		suffix string
		shift  uint
	}{{"T", 40}, {"G", 30}, {"M", 20}, {"K", 10}} {
		if n >= 1<<u.shift && n%(1<<u.shift) == 0 {
			return strconv.FormatInt(n>>u.shift, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

// parseSize reads a byte count such as "4T", "512M", "1G" or "1000".
func parseSize(s string) (int64, error) { return cli.ParseSize(s) }

// budget counts what one source has used of the limits. It belongs to
// the goroutine extracting the source.
type budget struct {
	lim        *limits
	sourceSize int64
	bytes      int64 // member bytes read
	expanded   int64 // bytes out of decompressors
	members    int64
}

func (b *budget) addMember() error {
	b.members++
	if b.members > b.lim.members {
		return &LimitError{What: "too many members", Flag: "--max-members", Limit: b.lim.members}
	}
	return nil
}

func (b *budget) addBytes(n int64) error {
	b.bytes += n
	if b.bytes > b.lim.sourceBytes {
		return &LimitError{What: "members add up to too many bytes", Flag: "--max-source-bytes", Limit: b.lim.sourceBytes}
	}
	return nil
}

// Expand implements the formats' budget: it counts decompressed bytes.
func (b *budget) Expand(n int64) error {
	b.expanded += n
	if ceiling := max(ratioFloor, b.lim.ratio*max(b.sourceSize, 1)); b.expanded > ceiling {
		return &LimitError{
			What:  fmt.Sprintf("decompresses to more than %d times its size of %d bytes (a decompression bomb?)", b.lim.ratio, b.sourceSize),
			Flag:  "--max-ratio",
			Limit: b.lim.ratio,
		}
	}
	return nil
}

// freeSpace is the space left for unprivileged users on dir's file system.
func freeSpace(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}
