package cli

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/hashr-dev/hashr/pkg/records"
	"github.com/spf13/pflag"
)

// FormatSize writes a byte count as a size flag takes it: "4T", "512M",
// or a plain number when no unit divides it.
func FormatSize(n int64) string {
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

// ParseSize reads a byte count such as "16MiB", "512M", "1G" or "1000".
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(strings.ToUpper(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "IB"), "B")
	shift := uint(0)
	if t != "" {
		if i := strings.IndexByte("KMGTP", t[len(t)-1]); i >= 0 {
			shift, t = uint(10*(i+1)), t[:len(t)-1]
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64)
	if err != nil || n < 0 || (shift > 0 && n > (1<<62)>>shift) {
		return 0, fmt.Errorf("%q is not a size (a number of bytes, or with K, M, G or T)", s)
	}
	return n << shift, nil
}

// sizeValue is a flag holding a byte count, within [min, max].
type sizeValue struct {
	n        *int
	min, max int64
}

var _ pflag.Value = sizeValue{}

func (v sizeValue) String() string {
	return strings.ReplaceAll(records.FormatBytes(int64(*v.n)), " ", "")
}
func (v sizeValue) Type() string { return "size" }

func (v sizeValue) Set(s string) error {
	n, err := ParseSize(s)
	if err != nil {
		return err
	}
	if n < v.min || n > v.max {
		return fmt.Errorf("%s is out of range: from %s to %s", s, records.FormatBytes(v.min), records.FormatBytes(v.max))
	}
	*v.n = int(n)
	return nil
}
