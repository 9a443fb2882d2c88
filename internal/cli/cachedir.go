package cli

import (
	"fmt"
	"os"
	"path/filepath"
)

// CacheDir returns dir made absolute or, when dir is empty, the user's own
// default $XDG_CACHE_HOME/hashr/NAME (~/.cache/hashr/NAME). Defaults are
// per user, never a shared directory such as /tmp: there one user's
// leftovers stopped another's run, and anyone could plant a link at a
// name known in advance. flag names the option that overrides it, for
// the hint when no cache directory can be found.
func CacheDir(dir, name, flag string) (string, error) {
	if dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return "", Usagef("finding a default %s directory: %w (set %s)", name, err, flag)
		}
		dir = filepath.Join(cache, "hashr", name)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("resolving %s directory %q: %w", name, dir, err)
	}
	return abs, nil
}
