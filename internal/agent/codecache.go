package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
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
	final := filepath.Join(c.dir, hexSHA)
	if _, err := os.Stat(final); err == nil {
		return final, nil
	}
	c.mu.Lock()
	x, ok := c.inflight[hexSHA]
	if !ok {
		x = &extraction{done: make(chan struct{})}
		c.inflight[hexSHA] = x
		go func() {
			// Detached from ctx on purpose: other callers wait on this result.
			x.err = c.extract(context.WithoutCancel(ctx), hexSHA, final)
			close(x.done)
			c.mu.Lock()
			delete(c.inflight, hexSHA)
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

func (c *CodeCache) extract(ctx context.Context, hexSHA, final string) error {
	zip, err := c.fetch(ctx, hexSHA)
	if err != nil {
		return fmt.Errorf("fetch code %s: %w", hexSHA, err)
	}
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return fmt.Errorf("code cache: %w", err)
	}
	tmp, err := os.MkdirTemp(c.dir, ".extract-")
	if err != nil {
		return fmt.Errorf("code cache: %w", err)
	}
	if err := codezip.Extract(zip, tmp, codezip.Limits{}); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("extract code %s: %w", hexSHA, err)
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
