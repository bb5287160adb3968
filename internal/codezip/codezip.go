// Package codezip checks and unpacks Lambda deployment packages.
//
// A deployment zip comes from a user, so every part of it is untrusted: entry
// names may try to climb out of the code directory, symlinks may point at the
// host's files, and sizes in the headers may lie to hide a zip bomb. Inspect
// answers "would this zip be accepted?" without touching the disk, and Extract
// unpacks it while re-checking everything it actually writes.
package codezip

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path"
	"strings"
)

// Sentinel errors let callers map a failure to the right API error with
// errors.Is, while the wrapping message tells the user what was wrong.
var (
	// ErrNotZip means the bytes are not a zip archive this package can read.
	ErrNotZip = errors.New("not a readable zip archive")
	// ErrUnsafePath means an entry would land outside the code directory,
	// or would be written over or through another entry.
	ErrUnsafePath = errors.New("unsafe path in zip archive")
	// ErrTooLarge means the unzipped size, the entry count or one entry's
	// compression ratio is over its limit.
	ErrTooLarge = errors.New("zip archive too large")
)

// Defaults follow what AWS Lambda itself accepts, so that a package that
// deploys there deploys here.
const (
	// DefaultMaxUnzippedBytes is Lambda's 250 MiB unzipped code limit.
	DefaultMaxUnzippedBytes int64 = 250 << 20
	// DefaultMaxFiles bounds the inode and metadata work one zip can cause.
	DefaultMaxFiles = 20000
	// DefaultMaxRatio is far above what real code compresses to (Go
	// binaries shrink 2-4x) yet far below what a bomb needs.
	DefaultMaxRatio int64 = 200
)

const (
	// ratioFloor is the size below which an entry is never called a bomb:
	// small files of repeated bytes compress absurdly well and are harmless.
	ratioFloor = 1 << 20
	// maxSymlinkTarget is Linux's PATH_MAX; a longer target cannot be a
	// real symlink and would only waste memory.
	maxSymlinkTarget = 4096
	// copyBufSize is large enough that a 10 MB binary is written in a few
	// dozen syscalls instead of hundreds.
	copyBufSize = 256 << 10
)

// CodeSha256 returns the base64 (std encoding) of the SHA-256 of the zip bytes, as AWS Lambda reports CodeSha256.
// Clients compare it with their own hash to confirm the upload, so the
// encoding must match AWS's byte for byte.
func CodeSha256(zip []byte) string {
	sum := sha256.Sum256(zip)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// Limits bounds what Extract and Inspect accept.
// A zero (or negative) field means its default, so Limits{} is the safe,
// Lambda-compatible choice.
type Limits struct {
	MaxUnzippedBytes int64 // total of uncompressed sizes; default 250 MiB (262144000) when zero
	MaxFiles         int   // default 20000 when zero
	MaxRatio         int64 // max uncompressed/compressed ratio per entry before it is treated as a bomb; default 200 when zero (ignore for entries < 1 MiB uncompressed)
}

// withDefaults fills in unset fields so the checks never compare against 0.
func (l Limits) withDefaults() Limits {
	if l.MaxUnzippedBytes <= 0 {
		l.MaxUnzippedBytes = DefaultMaxUnzippedBytes
	}
	if l.MaxFiles <= 0 {
		l.MaxFiles = DefaultMaxFiles
	}
	if l.MaxRatio <= 0 {
		l.MaxRatio = DefaultMaxRatio
	}
	return l
}

// Info describes a zip that passed Inspect.
// Files counts every entry (directories and symlinks too), because that is
// what MaxFiles bounds. HasBootstrap tells whether the package can run on an
// OS-only runtime such as provided.al2023, which executes ./bootstrap.
type Info struct {
	Files         int
	UnzippedBytes int64
	HasBootstrap  bool
}

// entryKind says how an entry is materialized on disk.
type entryKind int

const (
	kindFile entryKind = iota
	kindDir
	kindSymlink
)

// entry is a zip member that passed the checks, with the path it will be
// written to, so Extract writes exactly what Inspect approved.
type entry struct {
	f      *zip.File
	name   string // cleaned, slash-separated, relative, never "." or ".."
	kind   entryKind
	target string // symlink target, for kindSymlink
}

// Inspect validates a zip without writing anything: it is a zip, no entry escapes (absolute paths, "..", backslash tricks), sizes within limits (using the declared sizes), and reports whether a top-level file named "bootstrap" exists.
// It reads nothing but the central directory and symlink targets, so it is
// cheap enough to run on every upload before the zip is stored.
func Inspect(zip []byte, lim Limits) (Info, error) {
	_, info, _, err := open(zip, lim.withDefaults())
	return info, err
}

// open parses and checks the archive once, for both Inspect and Extract.
func open(data []byte, lim Limits) (*zip.Reader, Info, []entry, error) {
	if len(data) == 0 {
		return nil, Info{}, nil, fmt.Errorf("the zip file is empty: %w", ErrNotZip)
	}
	r, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	// With GODEBUG=zipinsecurepath=0 the reader flags odd names but is
	// still usable; our own checks below are stricter, so carry on.
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, Info{}, nil, fmt.Errorf("cannot read the zip file (%v): %w", err, ErrNotZip)
	}
	if len(r.File) > lim.MaxFiles {
		return nil, Info{}, nil, fmt.Errorf("zip has %d entries, more than the limit of %d: %w", len(r.File), lim.MaxFiles, ErrTooLarge)
	}
	info := Info{Files: len(r.File)}
	entries := make([]entry, 0, len(r.File))
	// seen records what each path already is, so an entry cannot replace
	// an earlier file or be written through an earlier file or symlink
	// (which is how symlink tricks reach outside the directory).
	seen := make(map[string]entryKind, len(r.File))
	var total uint64
	for _, f := range r.File {
		e, err := checkEntry(f, lim)
		if err != nil {
			return nil, Info{}, nil, err
		}
		total += f.UncompressedSize64
		if total < f.UncompressedSize64 || total > uint64(lim.MaxUnzippedBytes) {
			return nil, Info{}, nil, fmt.Errorf("unzipped size is over the limit of %d bytes: %w", lim.MaxUnzippedBytes, ErrTooLarge)
		}
		if e.kind == kindDir && e.name == "." {
			continue // "./" names the code directory itself
		}
		if err := claim(seen, e); err != nil {
			return nil, Info{}, nil, err
		}
		if e.name == "bootstrap" && e.kind != kindDir {
			info.HasBootstrap = true
		}
		entries = append(entries, e)
	}
	info.UnzippedBytes = int64(total)
	return r, info, entries, nil
}

// checkEntry validates one member on its own: name, type, method and ratio.
func checkEntry(f *zip.File, lim Limits) (entry, error) {
	e := entry{f: f, kind: kindFile}
	mode := f.Mode()
	switch {
	case mode.IsDir() || strings.HasSuffix(f.Name, "/") || strings.HasSuffix(f.Name, `\`):
		e.kind = kindDir
	case mode&fs.ModeSymlink != 0:
		e.kind = kindSymlink
	}
	name, err := cleanName(f.Name, e.kind == kindDir)
	if err != nil {
		return entry{}, err
	}
	e.name = name
	if f.Flags&0x1 != 0 {
		return entry{}, fmt.Errorf("zip entry %q is encrypted, which Lambda does not support: %w", f.Name, ErrNotZip)
	}
	if f.Method != zip.Store && f.Method != zip.Deflate {
		return entry{}, fmt.Errorf("zip entry %q uses unsupported compression method %d (use deflate or store): %w", f.Name, f.Method, ErrNotZip)
	}
	if isBomb(f.UncompressedSize64, f.CompressedSize64, lim.MaxRatio) {
		return entry{}, fmt.Errorf("zip entry %q expands from %d to %d bytes, more than %d times (possible zip bomb): %w",
			f.Name, f.CompressedSize64, f.UncompressedSize64, lim.MaxRatio, ErrTooLarge)
	}
	if e.kind == kindSymlink {
		if e.target, err = readSymlink(f); err != nil {
			return entry{}, err
		}
	}
	return e, nil
}

// cleanName turns a zip name into a safe relative slash path.
// Backslashes are read as separators, as Info-ZIP's unzip does for archives
// made on Windows, so that no name can look harmless to this check yet mean
// "..\" to some later tool.
func cleanName(name string, isDir bool) (string, error) {
	escapes := func() error {
		return fmt.Errorf("zip entry %q escapes the code directory: %w", name, ErrUnsafePath)
	}
	if name == "" {
		return "", fmt.Errorf("zip has an entry with an empty name: %w", ErrUnsafePath)
	}
	if strings.IndexByte(name, 0) >= 0 {
		return "", fmt.Errorf("zip entry %q contains a NUL byte: %w", name, ErrUnsafePath)
	}
	p := strings.ReplaceAll(name, `\`, "/")
	if strings.HasPrefix(p, "/") || hasVolume(p) {
		return "", escapes()
	}
	p = path.Clean(p)
	if p == ".." || strings.HasPrefix(p, "../") {
		return "", escapes()
	}
	if p == "." && !isDir {
		return "", fmt.Errorf("zip entry %q names the code directory itself: %w", name, ErrUnsafePath)
	}
	return p, nil
}

// hasVolume reports a Windows drive prefix like "C:/"; it is absolute on the
// system that made the zip, so it is refused rather than guessed at.
func hasVolume(p string) bool {
	if len(p) < 2 || p[1] != ':' || p[0]|0x20 < 'a' || p[0]|0x20 > 'z' {
		return false
	}
	return len(p) == 2 || p[2] == '/'
}

// isBomb applies the per-entry ratio rule on declared sizes (Inspect) or on
// the bytes really produced (Extract).
func isBomb(uncompressed, compressed uint64, maxRatio int64) bool {
	if uncompressed < ratioFloor {
		return false
	}
	if compressed > math.MaxUint64/uint64(maxRatio) {
		return false
	}
	return uncompressed > compressed*uint64(maxRatio)
}

// readSymlink reads and checks a symlink entry's target. Targets that are
// absolute or use ".." are refused outright: a relative, ".."-free target
// can only resolve below the link's own directory, which is inside the
// code directory because no entry is ever written through a symlink.
func readSymlink(f *zip.File) (string, error) {
	if f.UncompressedSize64 > maxSymlinkTarget {
		return "", fmt.Errorf("zip entry %q is a symlink with a target longer than %d bytes: %w", f.Name, maxSymlinkTarget, ErrUnsafePath)
	}
	rc, err := f.Open()
	if err != nil {
		return "", fmt.Errorf("cannot read zip entry %q (%v): %w", f.Name, err, ErrNotZip)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxSymlinkTarget+1))
	if err != nil {
		return "", fmt.Errorf("cannot read zip entry %q (%v): %w", f.Name, err, ErrNotZip)
	}
	target := string(b)
	if len(b) > maxSymlinkTarget {
		return "", fmt.Errorf("zip entry %q is a symlink with a target longer than %d bytes: %w", f.Name, maxSymlinkTarget, ErrUnsafePath)
	}
	if target == "" || strings.IndexByte(target, 0) >= 0 {
		return "", fmt.Errorf("zip entry %q is a symlink with an invalid target: %w", f.Name, ErrUnsafePath)
	}
	t := strings.ReplaceAll(target, `\`, "/")
	if strings.HasPrefix(t, "/") || hasVolume(t) {
		return "", fmt.Errorf("zip entry %q is a symlink to %q, an absolute path outside the code directory: %w", f.Name, target, ErrUnsafePath)
	}
	for _, el := range strings.Split(t, "/") {
		if el == ".." {
			return "", fmt.Errorf("zip entry %q is a symlink to %q, which may point outside the code directory: %w", f.Name, target, ErrUnsafePath)
		}
	}
	return target, nil
}

// claim records e's path and its parents in seen, refusing an entry that
// would overwrite an earlier file or symlink, or that needs an earlier file
// or symlink to be a directory. Repeated directories are fine.
func claim(seen map[string]entryKind, e entry) error {
	for dir := path.Dir(e.name); dir != "."; dir = path.Dir(dir) {
		if k, ok := seen[dir]; ok && k != kindDir {
			return fmt.Errorf("zip entry %q would be written inside %q, which is not a directory: %w", e.f.Name, dir, ErrUnsafePath)
		}
		seen[dir] = kindDir
	}
	if k, ok := seen[e.name]; ok && (k != kindDir || e.kind != kindDir) {
		return fmt.Errorf("zip entry %q clashes with an earlier entry for the same path: %w", e.f.Name, ErrUnsafePath)
	}
	seen[e.name] = e.kind
	return nil
}

// Extract writes the zip into dir (which must exist and be empty or not exist; create it with 0o755), refusing any entry whose cleaned path escapes dir, any symlink entry whose target escapes dir (or simply refuse symlinks that are absolute or contain ".."), and stopping with ErrTooLarge once the bytes actually written pass MaxUnzippedBytes (never trust declared sizes: count while copying with io.LimitReader). Regular files keep their executable bit from the zip's mode (a file with any x bit gets 0o755, else 0o644); directories 0o755. It must be fast for a typical 5-10 MB Go binary zip: use a 256 KiB copy buffer, no needless copies.
//
// All writes go through an os.Root, so even a bug in the name checks cannot
// make the kernel follow a path out of dir. Modes are set explicitly rather
// than left to the umask because the runtime that executes the code may run
// as another user. On error dir may hold a partial tree; the caller owns dir
// and should remove it.
func Extract(zip []byte, dir string, lim Limits) error {
	lim = lim.withDefaults()
	_, _, entries, err := open(zip, lim)
	if err != nil {
		return err
	}
	if err := prepareDir(dir); err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("open code directory: %w", err)
	}
	defer root.Close()
	return extractEntries(root, entries, lim)
}

// prepareDir makes sure dir is a fresh, empty directory, so extraction never
// mixes with or overwrites something already there.
func prepareDir(dir string) error {
	st, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create code directory: %w", err)
		}
		return os.Chmod(dir, 0o755)
	}
	if err != nil {
		return fmt.Errorf("check code directory: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("code directory %q is not a directory", dir)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("check code directory: %w", err)
	}
	defer d.Close()
	if names, _ := d.Readdirnames(1); len(names) > 0 {
		return fmt.Errorf("code directory %q is not empty", dir)
	}
	return nil
}

// extractEntries writes checked entries below root. It counts the bytes
// really produced instead of trusting headers: archive/zip already stops at
// the declared size, but this bound must hold even if that ever changes.
func extractEntries(root *os.Root, entries []entry, lim Limits) error {
	buf := make([]byte, copyBufSize)
	budget := lim.MaxUnzippedBytes
	made := map[string]bool{".": true}
	for _, e := range entries {
		if err := mkdirAll(root, path.Dir(e.name), made); err != nil {
			return err
		}
		switch e.kind {
		case kindDir:
			if err := mkdirAll(root, e.name, made); err != nil {
				return err
			}
		case kindSymlink:
			budget -= int64(len(e.target))
			if budget < 0 {
				return fmt.Errorf("unzipped size is over the limit of %d bytes: %w", lim.MaxUnzippedBytes, ErrTooLarge)
			}
			if err := root.Symlink(e.target, e.name); err != nil {
				return fmt.Errorf("create symlink for zip entry %q: %w", e.f.Name, err)
			}
		default:
			n, err := writeFile(root, e, buf, budget, lim)
			if err != nil {
				return err
			}
			budget -= n
		}
	}
	return nil
}

// writeFile copies one regular entry, writing at most budget bytes and no
// more than the ratio rule allows for its compressed size.
func writeFile(root *os.Root, e entry, buf []byte, budget int64, lim Limits) (int64, error) {
	// The largest output the ratio rule lets this entry produce.
	ratioCap := int64(math.MaxInt64)
	if c := e.f.CompressedSize64; c <= uint64(math.MaxInt64/lim.MaxRatio) {
		ratioCap = max(int64(c)*lim.MaxRatio, ratioFloor-1)
	}
	limit := min(budget, ratioCap)

	rc, err := e.f.Open()
	if err != nil {
		return 0, fmt.Errorf("cannot read zip entry %q (%v): %w", e.f.Name, err, ErrNotZip)
	}
	defer rc.Close()

	perm := fs.FileMode(0o644)
	if e.f.Mode()&0o111 != 0 {
		perm = 0o755
	}
	// O_EXCL: never follow or replace anything already at this path.
	out, err := root.OpenFile(e.name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return 0, fmt.Errorf("create file for zip entry %q: %w", e.f.Name, err)
	}
	// Hide (*os.File).ReadFrom so io.CopyBuffer really uses our buffer
	// instead of falling back to a 32 KiB one.
	n, err := io.CopyBuffer(struct{ io.Writer }{out}, io.LimitReader(rc, limit+1), buf)
	if err == nil && n > limit {
		if n > budget {
			err = fmt.Errorf("unzipped size is over the limit of %d bytes: %w", lim.MaxUnzippedBytes, ErrTooLarge)
		} else {
			err = fmt.Errorf("zip entry %q expands more than %d times (possible zip bomb): %w", e.f.Name, lim.MaxRatio, ErrTooLarge)
		}
	} else if err != nil {
		err = fmt.Errorf("cannot unzip entry %q (%v): %w", e.f.Name, err, ErrNotZip)
	}
	if err == nil {
		err = out.Chmod(perm) // the umask must not strip bits the runtime needs
	}
	if cerr := out.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("write file for zip entry %q: %w", e.f.Name, cerr)
	}
	return n, err
}

// mkdirAll creates name and its parents inside root with mode 0o755.
// Root.MkdirAll exists, but it would leave modes to the umask. made caches
// directories already created so a zip of many files in one directory costs
// one mkdir, not one per file.
func mkdirAll(root *os.Root, name string, made map[string]bool) error {
	if made[name] {
		return nil
	}
	if err := mkdirAll(root, path.Dir(name), made); err != nil {
		return err
	}
	// claim guarantees nothing but a directory can already be at name,
	// and made says we have not created it, so it must not exist yet.
	if err := root.Mkdir(name, 0o755); err != nil {
		return fmt.Errorf("create directory %q: %w", name, err)
	}
	if err := root.Chmod(name, 0o755); err != nil {
		return fmt.Errorf("create directory %q: %w", name, err)
	}
	made[name] = true
	return nil
}
