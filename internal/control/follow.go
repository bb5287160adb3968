package control

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Several servers share one configuration; one of them (the fleet leader)
// writes it, and the others follow: each change in the store reloads
// their view (functions, versions, aliases, capacity providers, policies)
// and the routes invokes read. Configuration changes are rare, so a
// follower reloads all of it rather than patching records in place.

// followDebounce gathers a burst of writes (a publish writes a few
// records) into one reload.
const followDebounce = 20 * time.Millisecond

// followCheck is how often a follower compares the store's last write
// with what it applied. The watch alone is not enough: after a change of
// the stream's raft leader it was seen silent for over 10 s.
const followCheck = 2 * time.Second

// Reload replaces the in-memory configuration with the store's.
func (s *Service) Reload(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cps, fns, policies := s.cps, s.fns, s.policies
	s.cps, s.fns, s.policies = map[string]*CapacityProvider{}, map[string]*fnState{}, nil
	if err := s.load(ctx); err != nil {
		s.cps, s.fns, s.policies = cps, fns, policies
		return err
	}
	s.publishRoutes()
	s.notify()
	return nil
}

// Follow reloads the configuration whenever another server changes it,
// until ctx ends. writing reports whether this server is the writer now:
// its own writes need no reload.
func (s *Service) Follow(ctx context.Context, writing func() bool) {
	for ctx.Err() == nil {
		w, err := s.store.Config.WatchUpdates(ctx)
		if err != nil {
			s.log.Warn("follow configuration", "err", err)
			sleepCtx(ctx, time.Second)
			continue
		}
		s.follow(ctx, w, writing)
		w.Stop() //nolint:errcheck
	}
}

func (s *Service) follow(ctx context.Context, w jetstream.KeyWatcher, writing func() bool) {
	// What was written before the watch began is read now.
	seen, err := s.store.Config.LastSeq(ctx)
	due := time.After(0)
	if err != nil {
		due = time.After(time.Second)
	}
	check := time.NewTicker(followCheck)
	defer check.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-check.C:
			due = s.catchUp(ctx, &seen, due)
		case <-s.behindCh():
			due = s.catchUp(ctx, &seen, due)
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			if e == nil {
				continue
			}
			seen = max(seen, e.Revision())
			if due == nil {
				due = time.After(followDebounce)
			}
		case <-due:
			due = nil
			if writing() {
				s.applied.Store(seen) // its own writes: nothing to reload
				continue
			}
			upTo := seen
			if err := s.Reload(ctx); err != nil {
				s.log.Warn("reload configuration", "err", err)
				due = time.After(time.Second)
				continue
			}
			s.applied.Store(upTo)
			s.appliedCond()
		}
	}
}

// catchUp asks the store how far the configuration is, as the watch may
// lag, and has it reloaded at once when this view is behind.
func (s *Service) catchUp(ctx context.Context, seen *uint64, due <-chan time.Time) <-chan time.Time {
	last, err := s.store.Config.LastSeq(ctx)
	if err != nil || last <= s.applied.Load() {
		return due
	}
	*seen = max(*seen, last)
	if due == nil {
		return time.After(0)
	}
	return due
}

// behindCh is the channel WaitApplied pokes.
func (s *Service) behindCh() chan struct{} {
	s.appliedMu.Lock()
	defer s.appliedMu.Unlock()
	if s.behind == nil {
		s.behind = make(chan struct{}, 1)
	}
	return s.behind
}

// ConfigSeq is the sequence of the configuration's last write, which a
// follower waits to have applied (WaitApplied) before it answers a write
// it forwarded: read-your-writes through any server.
func (s *Service) ConfigSeq(ctx context.Context) (uint64, error) { return s.store.Config.LastSeq(ctx) }

// WaitApplied waits until this server's view includes the configuration
// up to seq, or ctx ends.
func (s *Service) WaitApplied(ctx context.Context, seq uint64) error {
	if s.applied.Load() < seq {
		select { // the follow loop reads the store at once rather than wait for its watch
		case s.behindCh() <- struct{}{}:
		default:
		}
	}
	for s.applied.Load() < seq {
		s.appliedMu.Lock()
		ch := s.appliedCh
		if ch == nil {
			ch = make(chan struct{})
			s.appliedCh = ch
		}
		s.appliedMu.Unlock()
		if s.applied.Load() >= seq {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// appliedCond wakes WaitApplied's waiters.
func (s *Service) appliedCond() {
	s.appliedMu.Lock()
	if s.appliedCh != nil {
		close(s.appliedCh)
		s.appliedCh = nil
	}
	s.appliedMu.Unlock()
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
