package objstore

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// The shared config and credentials files, as the AWS SDKs and CLI read
// them (https://docs.aws.amazon.com/sdkref/latest/guide/file-format.html):
// INI files where the config file names a profile [profile NAME] (the
// default one [default]) and the credentials file [NAME]; a key in the
// credentials file wins over the same key in the config file.

// profileName is AWS_PROFILE, "default" without it.
func profileName(getenv func(string) string) string {
	return firstOf(getenv("AWS_PROFILE"), "default")
}

// sharedFile is where one of the files is: its variable, else under ~/.aws.
func sharedFile(getenv func(string) string, variable, name string) string {
	if f := getenv(variable); f != "" {
		return f
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".aws", name)
}

// loadProfile reads the selected profile's keys from both files. A
// missing file is an empty one; a profile named by AWS_PROFILE that
// neither file holds is an error, as in the SDKs.
func loadProfile(getenv func(string) string) (map[string]string, error) {
	name := profileName(getenv)
	configSection := "profile " + name
	if name == "default" {
		configSection = "default"
	}
	merged := map[string]string{}
	found := false
	for _, f := range []struct{ variable, file, section string }{
		{"AWS_CONFIG_FILE", "config", configSection},
		{"AWS_SHARED_CREDENTIALS_FILE", "credentials", name},
	} {
		path := sharedFile(getenv, f.variable, f.file)
		if path == "" {
			continue
		}
		sections, err := readINI(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading the AWS %s file %s: %w (hint: fix it, or set %s to another file)", f.file, path, err, f.variable)
		}
		keys, ok := sections[f.section]
		if !ok && name == "default" && f.file == "config" {
			keys, ok = sections["profile default"]
		}
		found = found || ok
		for k, v := range keys {
			merged[k] = v
		}
	}
	if !found && getenv("AWS_PROFILE") != "" {
		return nil, fmt.Errorf("AWS_PROFILE %q: no such profile in %s or %s (hint: `aws configure --profile %s` creates it)",
			name, sharedFile(getenv, "AWS_CONFIG_FILE", "config"), sharedFile(getenv, "AWS_SHARED_CREDENTIALS_FILE", "credentials"), name)
	}
	return merged, nil
}

// readINI reads the sections of an AWS INI file: keys lowercased, values
// trimmed, comments (# and ;) and indented sub-properties (the s3 = block
// of nested settings) skipped.
func readINI(path string) (map[string]map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sections := map[string]map[string]string{}
	var current map[string]string
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		raw := sc.Text()
		line := strings.TrimSpace(raw)
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[':
			name, ok := strings.CutSuffix(line, "]")
			if !ok {
				return nil, fmt.Errorf("line %d: a section header without its ]", n)
			}
			name = strings.Join(strings.Fields(name[1:]), " ")
			if sections[name] == nil {
				sections[name] = map[string]string{}
			}
			current = sections[name]
		case raw[0] == ' ' || raw[0] == '\t':
			// a nested sub-property's line: not a key of the profile
		default:
			key, value, ok := strings.Cut(line, "=")
			if !ok {
				return nil, fmt.Errorf("line %d: neither a [section] nor a key = value", n)
			}
			if current != nil {
				current[strings.ToLower(strings.TrimSpace(key))] = strings.TrimSpace(value)
			}
		}
	}
	return sections, sc.Err()
}
