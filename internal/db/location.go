package db

import (
	"fmt"
	"net/url"
	"strings"
)

// Driver kinds a location can name.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// Location is a parsed --db value.
type Location struct {
	Driver string // SQLite or Postgres
	// Target is the SQLite file path, or the PostgreSQL connection URL.
	Target string
}

// ParseLocation parses a --db value: sqlite:PATH (also sqlite://PATH) or a
// postgres:// or postgresql:// URL.
func ParseLocation(s string) (Location, error) {
	switch {
	case strings.HasPrefix(s, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(s, "sqlite:"), "//")
		if path == "" {
			return Location{}, fmt.Errorf("database %q names no file: want sqlite:PATH", s)
		}
		if strings.ContainsAny(path, "?#") {
			// The SQLite driver reads what follows "?" as its own options.
			return Location{}, fmt.Errorf("SQLite file name %q holds '?' or '#', which hashr does not support", path)
		}
		return Location{Driver: SQLite, Target: path}, nil
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
		if _, err := url.Parse(s); err != nil {
			return Location{}, fmt.Errorf("database URL %q: %w", Redact(s), err)
		}
		return Location{Driver: Postgres, Target: s}, nil
	}
	return Location{}, fmt.Errorf("database %q: want sqlite:PATH or postgres://[USER[:PASSWORD]@]HOST[:PORT]/DATABASE", Redact(s))
}

// String is the location for messages, without a password.
func (l Location) String() string {
	if l.Driver == SQLite {
		return "sqlite:" + l.Target
	}
	return Redact(l.Target)
}

// Redact hides the password of a database URL, for messages.
func Redact(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
