package runtimes

import (
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Mapping is the operator's choice of interpreter per runtime
// (--runtime-path nodejs22.x=/opt/node22/bin/node).
type Mapping map[string]string

// ParseMapping reads RUNTIME=PATH entries (each may hold several, comma
// separated). A runtime must be a managed one, a path absolute, and a
// runtime named once.
func ParseMapping(entries []string) (Mapping, error) {
	m := Mapping{}
	for _, entry := range entries {
		for _, item := range strings.Split(entry, ",") {
			item = strings.TrimSpace(item)
			if item == "" {
				continue
			}
			name, p, ok := strings.Cut(item, "=")
			if !ok || name == "" || p == "" {
				return nil, fmt.Errorf("runtime path %q: want RUNTIME=PATH, as nodejs22.x=/usr/local/bin/node", item)
			}
			if _, known := Lookup(name); !known {
				return nil, fmt.Errorf("runtime path %q: %s is not a managed runtime (%s)", item, name, strings.Join(names(), ", "))
			}
			if !path.IsAbs(p) {
				return nil, fmt.Errorf("runtime path %q: the path must be absolute", item)
			}
			if _, dup := m[name]; dup {
				return nil, fmt.Errorf("runtime path %q: %s is mapped twice", item, name)
			}
			m[name] = path.Clean(p)
		}
	}
	return m, nil
}

// String is the mapping as ParseMapping reads it, sorted.
func (m Mapping) String() string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// Candidate is an interpreter found on the host, probed.
type Candidate struct {
	Path string // as mapped or found
	// Real is the executable itself: symlinks resolved, and for Python
	// the interpreter's sys.executable (a pyenv shim is a script).
	Real    string
	Version Version
	// Err is why the interpreter cannot be used: missing, or its version
	// check failed.
	Err error
}

// Choice is the interpreter a runtime runs on.
type Choice struct {
	Candidate
	// Root is the interpreter's install root, the parent of the
	// directory holding Real (/usr/lib/jvm/temurin-25-jdk-amd64 for its
	// bin/java): the EE sees it at LangDir.
	Root string
	// Explicit: the operator mapped it.
	Explicit bool
	// Warning, when set, is for the caller to log at start: an older
	// interpreter than the runtime's version, run because it was mapped.
	Warning string
}

// PathIn is the interpreter's path in an EE that sees Root at langDir.
func (c Choice) PathIn(langDir string) string {
	rel := strings.TrimPrefix(c.Real, c.Root)
	return strings.TrimSuffix(langDir, "/") + rel
}

// Choose decides which interpreter r runs on, from the operator's
// mapping (nil when there is none) or else the candidates found on the
// host, in order of preference. The rule: a missing interpreter refuses
// the runtime; an older one than the runtime's version runs only where
// the operator mapped it, with a warning; otherwise the oldest candidate
// of the runtime's version or newer wins (the first of equals): java21
// takes a JDK 21 over a JDK 25 when both are there.
func Choose(r Runtime, mapped *Candidate, found []Candidate) (Choice, error) {
	if mapped != nil {
		if mapped.Err != nil {
			return Choice{}, &UnsupportedError{Runtime: r.Name,
				Reason: fmt.Sprintf("its interpreter %s (mapped by the operator) cannot be used: %v", mapped.Path, mapped.Err)}
		}
		c := Choice{Candidate: *mapped, Root: rootOf(mapped.Real), Explicit: true}
		if mapped.Version.Less(r.Version) {
			c.Warning = fmt.Sprintf("runtime %s runs on %s %s (%s), older than the runtime's %s, because the operator mapped it",
				r.Name, r.Interpreter, mapped.Version, mapped.Path, want(r))
		}
		return c, nil
	}
	var older []string
	best := -1
	for i, f := range found {
		if f.Err != nil {
			continue
		}
		if f.Version.Less(r.Version) {
			older = append(older, fmt.Sprintf("%s %s at %s", r.Interpreter, f.Version, f.Path))
			continue
		}
		if best < 0 || f.Version.Less(found[best].Version) {
			best = i
		}
	}
	if best >= 0 {
		return Choice{Candidate: found[best], Root: rootOf(found[best].Real)}, nil
	}
	reason := fmt.Sprintf("no %s %s or newer on this machine", r.Interpreter, want(r))
	if len(older) > 0 {
		reason += fmt.Sprintf(" (found %s: older; the operator may map it with --runtime-path %s=PATH to run it anyway)",
			strings.Join(older, ", "), r.Name)
	}
	return Choice{}, &UnsupportedError{Runtime: r.Name, Reason: reason}
}

// want is the runtime's version as its family writes it.
func want(r Runtime) string {
	if r.Family == Python {
		return r.Version.String()
	}
	return strconv.Itoa(r.Version.Major)
}

func rootOf(real string) string { return path.Dir(path.Dir(real)) }

// VersionArgs is the command line that prints an interpreter's version
// (ParseVersion reads its output). Python's also prints sys.executable,
// which Candidate.Real takes.
func VersionArgs(f Family) []string {
	switch f {
	case NodeJS:
		return []string{"--version"}
	case Python:
		return []string{"-c", "import sys, platform; print('Python ' + platform.python_version()); print(sys.executable)"}
	case Java:
		return []string{"-version"}
	}
	return nil
}

var (
	nodeVersionRE   = regexp.MustCompile(`(?m)^v(\d+)\.(\d+)\.\d+`)
	pythonVersionRE = regexp.MustCompile(`(?m)^Python (\d+)\.(\d+)`)
	// java -version: `openjdk version "25.0.1" 2025-10-21`, `java version "1.8.0_402"`, `openjdk version "21" 2023-09-19`.
	javaVersionRE = regexp.MustCompile(`version "(\d+)(?:\.(\d+))?`)
)

// ParseVersion reads a family's version output (stdout and stderr
// together: java -version writes to stderr). For Python the second line
// is sys.executable, returned as exe.
func ParseVersion(f Family, out string) (v Version, exe string, err error) {
	var m []string
	switch f {
	case NodeJS:
		m = nodeVersionRE.FindStringSubmatch(out)
	case Python:
		m = pythonVersionRE.FindStringSubmatch(out)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) >= 2 && path.IsAbs(strings.TrimSpace(lines[1])) {
			exe = strings.TrimSpace(lines[1])
		}
	case Java:
		m = javaVersionRE.FindStringSubmatch(out)
	}
	if m == nil {
		return Version{}, "", fmt.Errorf("no %s version in %q", f, firstLine(out))
	}
	v.Major, _ = strconv.Atoi(m[1])
	if m[2] != "" {
		v.Minor, _ = strconv.Atoi(m[2])
	}
	if f == Java && v.Major == 1 {
		// "1.8" is Java 8.
		v = Version{Major: v.Minor}
	}
	return v, exe, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 80 {
		s = s[:80]
	}
	return s
}
