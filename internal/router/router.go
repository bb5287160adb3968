// Package router sends each invoke to an execution environment of its
// function version with a free slot, and throttles when none has one.
// The table of EEs is copy-on-write: the invoke path reads it with one
// atomic load and takes no lock.
package router

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"github.com/paddockhq/paddock/internal/runtimeapi"
)

// Target is one EE as the router sees it.
type Target interface {
	Invoke(ctx context.Context, inv *runtimeapi.Invocation) error
	InFlight() int
}

// ErrThrottled means every EE of the version was full (or there were none).
var ErrThrottled = errors.New("no execution environment has a free slot")

// Router holds the ready EEs of every invocable function version.
type Router struct {
	mu        sync.Mutex // serializes writers; readers use the atomic snapshot
	tables    atomic.Pointer[map[string][]Target]
	throttles sync.Map // key → *atomic.Uint64: invokes refused, for the scaler
}

// New returns an empty router.
func New() *Router {
	r := &Router{}
	empty := map[string][]Target{}
	r.tables.Store(&empty)
	return r
}

// Add makes t eligible for invokes of key (a function version).
func (r *Router) Add(key string, t Target) {
	r.update(func(m map[string][]Target) {
		m[key] = append(append([]Target(nil), m[key]...), t)
	})
}

// Remove takes t out of key's table; invokes already on it finish.
func (r *Router) Remove(key string, t Target) {
	r.update(func(m map[string][]Target) {
		old := m[key]
		kept := make([]Target, 0, len(old))
		for _, o := range old {
			if o != t {
				kept = append(kept, o)
			}
		}
		if len(kept) == 0 {
			delete(m, key)
		} else {
			m[key] = kept
		}
	})
}

// Len is the number of EEs serving key.
func (r *Router) Len(key string) int { return len((*r.tables.Load())[key]) }

func (r *Router) update(change func(map[string][]Target)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := *r.tables.Load()
	m := make(map[string][]Target, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	change(m)
	r.tables.Store(&m)
}

// Invoke runs inv on an EE of key and returns the EE that ran it. It picks
// the less loaded of two random EEs, falls back to the others when an EE
// answers that it is full, and returns ErrThrottled when all are.
func (r *Router) Invoke(ctx context.Context, key string, inv *runtimeapi.Invocation) (Target, error) {
	ees := (*r.tables.Load())[key]
	n := len(ees)
	if n == 0 {
		r.throttled(key)
		return nil, ErrThrottled
	}
	first := 0
	if n > 1 {
		a, b := rand.IntN(n), rand.IntN(n-1)
		if b >= a {
			b++
		}
		first = a
		if ees[b].InFlight() < ees[a].InFlight() {
			first = b
		}
	}
	for i := 0; i < n; i++ {
		t := ees[(first+i)%n]
		err := t.Invoke(ctx, inv)
		if errors.Is(err, runtimeapi.ErrFull) || errors.Is(err, runtimeapi.ErrClosed) {
			continue
		}
		return t, err
	}
	r.throttled(key)
	return nil, ErrThrottled
}

func (r *Router) throttled(key string) {
	c, ok := r.throttles.Load(key)
	if !ok {
		c, _ = r.throttles.LoadOrStore(key, new(atomic.Uint64))
	}
	c.(*atomic.Uint64).Add(1)
}

// Throttles is the number of invokes of key refused so far.
func (r *Router) Throttles(key string) uint64 {
	if c, ok := r.throttles.Load(key); ok {
		return c.(*atomic.Uint64).Load()
	}
	return 0
}
