package runtimeapi

import "sync/atomic"

// Slots admits invokes into one execution environment: at most max at once,
// none while draining. It counts invokes the EE's runtime holds (queued for a
// worker or being worked on), not workers parked on /next, so a worker that
// has not re-polled yet is never a reason to refuse work.
type Slots struct {
	max      int64
	inFlight atomic.Int64
	draining atomic.Bool
}

// NewSlots returns admission for an EE that runs up to max invokes at once.
func NewSlots(max int) *Slots { return &Slots{max: int64(max)} }

// TryAcquire takes a slot if one is free and the EE is not draining.
func (s *Slots) TryAcquire() bool {
	for {
		if s.draining.Load() {
			return false
		}
		n := s.inFlight.Load()
		if n >= s.max {
			return false
		}
		if s.inFlight.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// Release gives back a slot taken by TryAcquire.
func (s *Slots) Release() { s.inFlight.Add(-1) }

// InFlight is the number of slots taken.
func (s *Slots) InFlight() int { return int(s.inFlight.Load()) }

// Max is the EE's max concurrency.
func (s *Slots) Max() int { return int(s.max) }

// Drain stops admission; invokes already admitted run to the end.
func (s *Slots) Drain() { s.draining.Store(true) }

// Draining reports whether Drain was called.
func (s *Slots) Draining() bool { return s.draining.Load() }
