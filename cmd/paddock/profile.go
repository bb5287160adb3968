package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/paddockhq/paddock/internal/platform"
)

// `paddock up --write-aws-profile` writes a profile so that
// `aws --profile paddock lambda ...` reaches this Paddock with no
// --endpoint-url and no exported keys. The files are the user's own, edited
// by hand and by other tools, so the edit is surgical: only the named
// profile's keys change, and every other line (other sections, comments,
// blank lines) is kept as it was.

// awsProfilePaths returns the AWS CLI's config and credentials files: the
// AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE overrides when set, as
// the AWS CLI and SDKs honour them, else config and credentials in dir
// (~/.aws when dir is empty).
func awsProfilePaths(dir string) (configPath, credsPath string, err error) {
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", "", fmt.Errorf("find the home directory for ~/.aws: %w", err)
		}
		dir = filepath.Join(home, ".aws")
	}
	configPath, credsPath = filepath.Join(dir, "config"), filepath.Join(dir, "credentials")
	if p := os.Getenv("AWS_CONFIG_FILE"); p != "" {
		if configPath, err = expandHome(p); err != nil {
			return "", "", err
		}
	}
	if p := os.Getenv("AWS_SHARED_CREDENTIALS_FILE"); p != "" {
		if credsPath, err = expandHome(p); err != nil {
			return "", "", err
		}
	}
	return configPath, credsPath, nil
}

// expandHome expands a leading ~/, as botocore does for these variables.
func expandHome(p string) (string, error) {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("expand %s: %w", p, err)
	}
	return filepath.Join(home, p[1:]), nil
}

// writeAWSProfile adds or replaces profile name: a [profile name] section
// (endpoint_url, region) in the config file and a [name] section (the key
// pair) in the credentials file, in dir (see awsProfilePaths; "" is
// ~/.aws). Missing files are created 0600 in directories created 0700,
// since the credentials file holds a secret.
func writeAWSProfile(path, name, endpoint, region, key, secret string) error {
	if name == "" || strings.ContainsAny(name, "[]\r\n") {
		return fmt.Errorf("invalid AWS profile name %q", name)
	}
	configPath, credsPath, err := awsProfilePaths(path)
	if err != nil {
		return err
	}
	// The config file names profiles "profile NAME", except the default
	// one; the credentials file names them bare.
	configSection := "profile " + name
	if name == "default" {
		configSection = name
	}
	if err := updateINIFile(configPath, configSection, [][2]string{
		{"endpoint_url", endpoint},
		{"region", region},
	}); err != nil {
		return err
	}
	return updateINIFile(credsPath, name, [][2]string{
		{"aws_access_key_id", key},
		{"aws_secret_access_key", secret},
	})
}

// updateINIFile sets section's keys in the file at path, creating it if
// needed, and replaces the file atomically so a crash never leaves a
// half-written credentials file.
func updateINIFile(path, section string, keys [][2]string) error {
	// Dotfile managers link ~/.aws/config elsewhere: write through the link
	// rather than replace it with a plain file.
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	mode := fs.FileMode(0o600)
	old, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return fmt.Errorf("create the directory of %s: %w", path, err)
		}
	case err != nil:
		return fmt.Errorf("read %s: %w", path, err)
	default:
		if fi, err := os.Stat(path); err == nil {
			mode = fi.Mode().Perm() // keep what the user chose
		}
	}
	data := setINISection(string(old), section, keys)
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".paddock-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.WriteString(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// setINISection returns src with section's key lines replaced by keys. The
// new keys go where the section's first key was, so comments keep their
// place; all the section's old keys go, since a stale one (a session token,
// a role to assume) would change how the profile authenticates. A missing
// section is appended. Line endings follow the file's.
func setINISection(src, section string, keys [][2]string) string {
	nl := "\n"
	if strings.Contains(src, "\r\n") {
		nl = "\r\n"
	}
	var lines []string
	if src != "" {
		lines = strings.Split(strings.TrimSuffix(strings.ReplaceAll(src, "\r\n", "\n"), "\n"), "\n")
	}
	keyLines := make([]string, len(keys))
	for i, kv := range keys {
		keyLines[i] = kv[0] + " = " + kv[1]
	}

	var out []string
	found, inSection, wrote, inKey := false, false, false, false
	for _, line := range lines {
		if h, ok := iniHeader(line); ok {
			// Only the first matching section is rewritten: botocore
			// refuses files with duplicate sections, so a second one is
			// the user's to fix, not ours to guess at.
			inSection = h == section && !found
			if inSection {
				found, wrote = true, false
			}
			inKey = false
			out = append(out, line)
			continue
		}
		if !inSection {
			out = append(out, line)
			continue
		}
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "" || trimmed[0] == '#' || trimmed[0] == ';':
			inKey = false
			out = append(out, line)
		case line[0] == ' ' || line[0] == '\t':
			// An indented line continues the key above it (the AWS CLI's
			// nested settings, such as s3 =\n  max_concurrent_requests = 10)
			// and goes with it; under no key, it is kept.
			if !inKey {
				out = append(out, line)
			}
		default:
			inKey = true
			if !wrote {
				out = append(out, keyLines...)
				wrote = true
			}
		}
	}
	if found && !wrote {
		// The section had no keys: put them right under its header.
		for i := range out {
			if h, ok := iniHeader(out[i]); ok && h == section {
				out = append(out[:i+1], append(append([]string{}, keyLines...), out[i+1:]...)...)
				break
			}
		}
	}
	if !found {
		if len(out) > 0 && strings.TrimSpace(out[len(out)-1]) != "" {
			out = append(out, "")
		}
		out = append(out, "["+section+"]")
		out = append(out, keyLines...)
	}
	return strings.Join(out, nl) + nl
}

// iniHeader reports whether line is a section header, and its name with
// spaces normalised ("[ profile   x ]" is "profile x", as botocore reads
// it).
func iniHeader(line string) (string, bool) {
	t := strings.TrimSpace(line)
	if len(t) < 2 || t[0] != '[' || t[len(t)-1] != ']' {
		return "", false
	}
	return strings.Join(strings.Fields(t[1:len(t)-1]), " "), true
}

// paddockProfile is the profile `paddock up --write-aws-profile` writes.
const paddockProfile = "paddock"

// writePaddockProfile writes the paddock AWS profile for p and says so. A
// failure is reported, not fatal: Paddock is up, and the keys printed above
// work without a profile.
func writePaddockProfile(out, errw io.Writer, p *platform.Platform) {
	if err := writeAWSProfile("", paddockProfile, p.Endpoint, p.Region, p.AccessKeyID, p.SecretAccessKey); err != nil {
		fmt.Fprintf(errw, "paddock: could not write AWS profile '%s': %v\n", paddockProfile, err)
		return
	}
	configPath, credsPath, _ := awsProfilePaths("")
	fmt.Fprintf(out, "wrote AWS profile '%s': aws --profile %s lambda list-functions\n  (in %s and %s)\n",
		paddockProfile, paddockProfile, configPath, credsPath)
}
