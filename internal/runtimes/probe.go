package runtimes

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// This file holds the I/O of interpreter resolution: where to look,
// running the version checks, stat of the runtime client directories.
// The decisions are interpreter.go's.

// DirEnv overrides DefaultDir, in scripts/install-runtimes.sh too.
const DirEnv = "PADDOCK_RUNTIMES_DIR"

// stampFile marks a directory scripts/install-runtimes.sh completed.
const stampFile = ".paddock-installed"

// DefaultDir is where scripts/install-runtimes.sh installs the runtime
// clients and Node.js binaries: $PADDOCK_RUNTIMES_DIR, or
// $XDG_CACHE_HOME/paddock/runtimes, or ~/.cache/paddock/runtimes.
func DefaultDir() string {
	if d := os.Getenv(DirEnv); d != "" {
		return d
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "paddock", "runtimes")
}

// ClientDir is r's runtime client directory under root, which an EE sees
// at RuntimeDir: one per family, and for Python one per interpreter
// version (awslambdaric has a native module built for each).
func ClientDir(root string, r Runtime, interp Version) string {
	if r.Family == Python {
		return filepath.Join(root, "python", interp.String())
	}
	return filepath.Join(root, string(r.Family))
}

// CheckClientDir reports whether dir is an installed runtime client
// directory, and if so which client version it holds.
func CheckClientDir(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, stampFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("runtime client %s is not installed (scripts/install-runtimes.sh installs it)", dir)
		}
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// DefaultCandidates lists where r's interpreter is looked for on this
// host: the Node.js binaries of the runtimes directory root, the PATH's
// python3.X and python3, the JDKs under /usr/lib/jvm, and PATH's node or
// java. Only existing files are listed.
func DefaultCandidates(r Runtime, root string) []string {
	var paths []string
	add := func(p string) {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			paths = append(paths, p)
		}
	}
	look := func(name string) {
		if p, err := exec.LookPath(name); err == nil {
			add(p)
		}
	}
	switch r.Family {
	case NodeJS:
		if root != "" {
			add(filepath.Join(root, "node"+strconv.Itoa(r.Version.Major), "bin", "node"))
		}
		look("node")
	case Python:
		look("python" + r.Version.String())
		look("python3")
	case Java:
		jdks, _ := filepath.Glob("/usr/lib/jvm/*/bin/java")
		sort.Strings(jdks)
		for _, p := range jdks {
			add(p)
		}
		look("java")
	}
	return paths
}

// probeTimeout bounds one version check (a JVM starts in well under it).
const probeTimeout = 20 * time.Second

// Probe runs the version check of the interpreter at p (node --version,
// python3 -c ..., java -version); a missing file or a failed check is
// the Candidate's Err.
func Probe(ctx context.Context, f Family, p string) Candidate {
	c := Candidate{Path: p}
	st, err := os.Stat(p)
	if err != nil {
		c.Err = err
		return c
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		c.Err = fmt.Errorf("%s is not an executable file", p)
		return c
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, p, VersionArgs(f)...).CombinedOutput()
	if err != nil {
		c.Err = fmt.Errorf("%s %s: %w: %s", p, strings.Join(VersionArgs(f), " "), err, firstLine(string(out)))
		return c
	}
	v, exe, err := ParseVersion(f, string(out))
	if err != nil {
		c.Err = err
		return c
	}
	c.Version = v
	real := p
	if exe != "" {
		real = exe
	}
	if r, err := filepath.EvalSymlinks(real); err == nil {
		real = r
	}
	c.Real = real
	return c
}

// Resolve finds and checks r's interpreter: the operator's mapping if it
// names one, else the host's (DefaultCandidates under root), and decides
// with Choose. The error is an *UnsupportedError.
func Resolve(ctx context.Context, r Runtime, m Mapping, root string) (Choice, error) {
	if p, ok := m[r.Name]; ok {
		c := Probe(ctx, r.Family, p)
		return Choose(r, &c, nil)
	}
	var found []Candidate
	for _, p := range DefaultCandidates(r, root) {
		found = append(found, Probe(ctx, r.Family, p))
	}
	return Choose(r, nil, found)
}

// Resolution is one runtime's interpreter, or why it is refused.
type Resolution struct {
	Runtime Runtime
	Choice  Choice
	// ClientDir is the runtime client directory on this host, and
	// ClientVersion what it holds (FindHost fills them).
	ClientDir     string
	ClientVersion string
	Err           error
}

// ResolveAll resolves every managed runtime, for a caller to log at start
// (Choice.Warning, Err) and to refuse at CreateFunction those with Err.
func ResolveAll(ctx context.Context, m Mapping, root string) []Resolution {
	out := make([]Resolution, 0, len(registry))
	for _, r := range registry {
		c, err := Resolve(ctx, r, m, root)
		out = append(out, Resolution{Runtime: r, Choice: c, Err: err})
	}
	return out
}
