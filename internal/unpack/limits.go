package unpack

import (
	"fmt"
	"strconv"
	"syscall"

	"github.com/hashr-dev/hashr/internal/cli"
)

// Limits keep hostile input (decompression bombs, archives of millions of
// empty members, nested archives) from filling memory or disk. The
// defaults are far above real software: the largest Debian package
// unpacks to a few GiB and a few 10 000 files.
type Limits struct {
	SourceBytes int64 `json:"source_bytes"` // bytes of all members of a source, nested included
	MemberBytes int64 `json:"member_bytes"` // bytes of one member
	Members     int64 `json:"members"`      // members of a source, nested included
	Ratio       int64 `json:"ratio"`        // decompressed bytes per byte of source
	MinFree     int64 `json:"min_free"`     // free bytes the spool's file system keeps
}

// DefaultLimits are the flags' defaults.
var DefaultLimits = Limits{
	SourceBytes: 4 << 40,
	MemberBytes: 1 << 40,
	Members:     10_000_000,
	Ratio:       1000,
	MinFree:     1 << 30,
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
	return fmt.Sprintf("%s (limit %s, set with %s)", e.What, FormatSize(e.Limit, e.Flag), e.Flag)
}

// FormatSize writes a limit as its flag takes it: a count for
// --max-members, --max-ratio and --max-depth, else a size ("4T").
func FormatSize(n int64, flag string) string {
	if flag == "--max-members" || flag == "--max-ratio" || flag == "--max-depth" {
		return strconv.FormatInt(n, 10)
	}
	return cli.FormatSize(n)
}

// budget counts what one source has used of the limits. It belongs to
// the goroutine extracting the source.
type budget struct {
	lim        *Limits
	sourceSize int64
	bytes      int64 // member bytes read
	expanded   int64 // bytes out of decompressors
	members    int64
}

func (b *budget) addMember() error {
	b.members++
	if b.members > b.lim.Members {
		return &LimitError{What: "too many members", Flag: "--max-members", Limit: b.lim.Members}
	}
	return nil
}

func (b *budget) addBytes(n int64) error {
	b.bytes += n
	if b.bytes > b.lim.SourceBytes {
		return &LimitError{What: "members add up to too many bytes", Flag: "--max-source-bytes", Limit: b.lim.SourceBytes}
	}
	return nil
}

// Expand implements the formats' budget: it counts decompressed bytes.
func (b *budget) Expand(n int64) error {
	b.expanded += n
	if ceiling := max(ratioFloor, b.lim.Ratio*max(b.sourceSize, 1)); b.expanded > ceiling {
		return &LimitError{
			What:  fmt.Sprintf("decompresses to more than %d times its size of %d bytes (a decompression bomb?)", b.lim.Ratio, b.sourceSize),
			Flag:  "--max-ratio",
			Limit: b.lim.Ratio,
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
