package records

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
)

// ErrNotLocal is a source whose uri names bytes on another machine (a
// URL other than file:): hashr-fetch makes them local first.
var ErrNotLocal = errors.New("not a local file")

// Locate parses a source's uri (or a split WIM part's) by the one rule
// every stage follows: an absolute path is a local file (scheme "file");
// anything else must be a URL with a scheme (file:, https:, s3:, gs:,
// oci:…), which comes back lower-cased. A relative path is refused: it
// would name another file in each directory a stage runs in.
func Locate(uri string) (*url.URL, error) {
	if strings.HasPrefix(uri, "/") {
		return &url.URL{Scheme: "file", Path: uri}, nil
	}
	u, err := url.Parse(uri)
	if err != nil {
		return nil, fmt.Errorf("uri %q is neither an absolute path nor a URL: %w", uri, err)
	}
	if u.Scheme == "" {
		return nil, fmt.Errorf("uri %q is neither an absolute path nor a URL", uri)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	return u, nil
}

// FilePath is the absolute, cleaned path a file: location names. A file
// URL naming a host other than localhost is refused: only local files
// can be read.
func FilePath(loc *url.URL) (string, error) {
	if loc.Host != "" && loc.Host != "localhost" {
		return "", fmt.Errorf("file URL %s names host %q: only local files can be read", loc.Redacted(), loc.Host)
	}
	if loc.Opaque != "" || !filepath.IsAbs(loc.Path) {
		return "", fmt.Errorf("file URL %s does not hold an absolute path", loc.Redacted())
	}
	return filepath.Clean(loc.Path), nil
}

// Location is where the source's bytes are: its uri as Locate reads it,
// or its local path when it has no uri (a source already on disk).
func (s *Source) Location() (*url.URL, error) {
	uri := s.URI
	if uri == "" {
		uri = s.Local
	}
	if uri == "" {
		return nil, ErrNoLocation
	}
	return Locate(uri)
}

// ErrNoLocation is a source record that names no file: neither uri nor
// local.
var ErrNoLocation = errors.New("source record has neither uri nor local")

// LocalPath is the file on this machine that holds the source's bytes:
// its local field when set (hashr-fetch's copy, or the file itself),
// else the file its uri names. A uri naming a remote location gives an
// error wrapping ErrNotLocal. A relative path, which Locate refuses, is
// read here against the working directory: hashr-extract has always
// read one so (its tests and users' scripts rely on it).
func (s *Source) LocalPath() (string, error) {
	if s.Local != "" {
		return s.Local, nil
	}
	if s.URI != "" && !strings.HasPrefix(s.URI, "/") && !strings.Contains(s.URI, ":") {
		return s.URI, nil // relative: no scheme
	}
	loc, err := s.Location()
	if err != nil {
		return "", err
	}
	if loc.Scheme != "file" {
		return "", fmt.Errorf("%q is %w: run hashr-fetch before hashr-extract", s.URI, ErrNotLocal)
	}
	return FilePath(loc)
}
