package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/paddockhq/paddock/internal/codezip"
)

// FetchFunc returns the code zip stored under a hex SHA-256.
type FetchFunc func(ctx context.Context, hexSHA string) ([]byte, error)

// CodeCache extracts each code zip once into dir/<sha256>/ and shares it
// among the EEs that run it. Extraction goes to a temporary directory that is
// renamed into place, so a crash never leaves a half-extracted tree behind a
// valid name.
type CodeCache struct {
	dir   string
	fetch FetchFunc

	mu       sync.Mutex
	inflight map[string]*extraction
}

type extraction struct {
	done chan struct{}
	err  error
}

// NewCodeCache keeps extracted code under dir.
func NewCodeCache(dir string, fetch FetchFunc) *CodeCache {
	return &CodeCache{dir: dir, fetch: fetch, inflight: make(map[string]*extraction)}
}

// Dir returns the directory holding the extracted code for hexSHA, fetching
// and extracting it on first use. Concurrent callers for the same code share
// one extraction.
func (c *CodeCache) Dir(ctx context.Context, hexSHA string) (string, error) {
	return c.build(ctx, hexSHA, func(ctx context.Context, tmp string) error { return c.extract(ctx, hexSHA, tmp) })
}

// LayersDir returns a directory holding the layers hexSHAs extracted in
// order, as Lambda extracts a function's layers into /opt: a file of a
// later layer replaces an earlier one's. Each layer is extracted once (Dir)
// and each list merged once, of hard links to them.
func (c *CodeCache) LayersDir(ctx context.Context, hexSHAs []string) (string, error) {
	sum := sha256.Sum256([]byte(strings.Join(hexSHAs, ",")))
	return c.build(ctx, "layers-"+hex.EncodeToString(sum[:]), func(ctx context.Context, tmp string) error {
		for _, sha := range hexSHAs {
			dir, err := c.Dir(ctx, sha)
			if err != nil {
				return err
			}
			if err := overlay(dir, tmp); err != nil {
				return fmt.Errorf("layer %s: %w", sha, err)
			}
		}
		return nil
	})
}

// build returns dir/key, made by fill into a temporary directory that is
// renamed into place on first use (a crash never leaves a half-made tree
// behind a valid name). Concurrent callers for one key share one build.
func (c *CodeCache) build(ctx context.Context, key string, fill func(ctx context.Context, tmp string) error) (string, error) {
	final := filepath.Join(c.dir, key)
	if _, err := os.Stat(final); err == nil {
		return final, nil
	}
	c.mu.Lock()
	x, ok := c.inflight[key]
	if !ok {
		x = &extraction{done: make(chan struct{})}
		c.inflight[key] = x
		go func() {
			// Detached from ctx on purpose: other callers wait on this result.
			x.err = c.make(context.WithoutCancel(ctx), final, fill)
			close(x.done)
			c.mu.Lock()
			delete(c.inflight, key)
			c.mu.Unlock()
		}()
	}
	c.mu.Unlock()
	select {
	case <-x.done:
		if x.err != nil {
			return "", x.err
		}
		return final, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func (c *CodeCache) make(ctx context.Context, final string, fill func(ctx context.Context, tmp string) error) error {
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return fmt.Errorf("code cache: %w", err)
	}
	tmp, err := os.MkdirTemp(c.dir, ".extract-")
	if err != nil {
		return fmt.Errorf("code cache: %w", err)
	}
	if err := fill(ctx, tmp); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		os.RemoveAll(tmp)
		if _, statErr := os.Stat(final); statErr == nil {
			return nil // another process won the race with the same bytes
		}
		return fmt.Errorf("code cache: %w", err)
	}
	return nil
}

// extract fetches the zip of hexSHA and extracts it into dir.
func (c *CodeCache) extract(ctx context.Context, hexSHA, dir string) error {
	zip, err := c.fetch(ctx, hexSHA)
	if err != nil {
		return fmt.Errorf("fetch code %s: %w", hexSHA, err)
	}
	if err := codezip.Extract(zip, dir, codezip.Limits{}); err != nil {
		return fmt.Errorf("extract code %s: %w", hexSHA, err)
	}
	return nil
}

// overlay puts the tree src over dst: directories merged, each file or
// symlink of src replacing whatever dst had at its path (hard links: src
// and dst are in the cache, on one file system).
func overlay(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil || rel == "." {
			return err
		}
		target := filepath.Join(dst, rel)
		old, statErr := os.Lstat(target)
		if d.IsDir() {
			if statErr == nil && old.IsDir() {
				return nil
			}
			if statErr == nil {
				if err := os.Remove(target); err != nil {
					return err
				}
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			return os.Mkdir(target, info.Mode().Perm())
		}
		if statErr == nil {
			if err := os.RemoveAll(target); err != nil {
				return err
			}
		}
		if d.Type()&fs.ModeSymlink != 0 {
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		}
		return os.Link(path, target)
	})
}
