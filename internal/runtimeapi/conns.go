package runtimeapi

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Flood defences. The Runtime API's client is the function itself, which
// may be hostile or broken: it must not be able to end the accept loop,
// take every file descriptor of the agent, or hold connections and bodies
// open for ever. None of this may cost the invoke path a timer per
// request, so time is kept by one sweeper goroutine per server that looks
// at every connection a few times a second (see sweep).

const (
	// connHeadroom is added to twice the max concurrency to make the cap on
	// open connections of one EE. aws-lambda-go's workers each use one
	// connection at a time, plus at most 2 idle ones in the transport's
	// pool; twice the worker count also covers a worker whose /response goes
	// on a new connection while its previous one is still being closed, and
	// the headroom covers extensions and runtimes with bigger pools.
	connHeadroom = 64

	// idleTimeout closes a connection that is neither parked on /next nor
	// in a request for that long. It is longer than the 90 s
	// IdleConnTimeout of net/http's default transport (which aws-lambda-go
	// uses), so a Go runtime always closes its own idle connections first
	// and our close never races a POST /response being sent on one: such a
	// POST is not retried by net/http, and aws-lambda-go exits on it. Slow
	// headers (slowloris) count as idle: a request's headers must be
	// complete within this time too.
	idleTimeout = 2 * time.Minute

	// bodyStallTimeout closes a connection that is in a request (reading
	// its body or writing its answer) and moved no byte for that long. A
	// runtime posts its answer from memory over loopback; a body that
	// stalls this long has been abandoned. It is a per-read deadline
	// rather than a minimum rate so that a runtime streaming a response
	// from a slow reader is not cut off while it still makes progress.
	bodyStallTimeout = 30 * time.Second

	// overdueGrace is how long past an invoke's deadline its worker may
	// still answer before its slot is freed without an answer. aws-lambda-go
	// gives the handler a context that ends at the deadline; a handler that
	// honours it returns then and still has to post its answer, maybe after
	// a GC pause on a loaded host, and that answer should free the slot.
	overdueGrace = 1500 * time.Millisecond

	// stuckQuiet is how long no worker must have polled /next or answered
	// before an EE whose every worker holds an overdue invoke is declared
	// stuck (see stuckRule). It makes the rule need more than a count: an
	// EE is replaced only when nothing at all has come from its runtime for
	// this long, which a runtime with a live worker never does.
	stuckQuiet = 5 * time.Second

	// sweepInterval is the sweeper's period: slots of overdue invokes come
	// back between deadline+overdueGrace and one interval later.
	sweepInterval = 250 * time.Millisecond

	// Accept backoff after an error, as net/http's Server does.
	acceptBackoffMin = 5 * time.Millisecond
	acceptBackoffMax = time.Second
)

// options are the limits of one server; tests shorten them.
type options struct {
	maxConns         int
	idleTimeout      time.Duration
	bodyStallTimeout time.Duration
	overdueGrace     time.Duration
	stuckQuiet       time.Duration
	sweepInterval    time.Duration
}

func defaultOptions(maxConcurrency int) options {
	return options{
		maxConns:         2*maxConcurrency + connHeadroom,
		idleTimeout:      idleTimeout,
		bodyStallTimeout: bodyStallTimeout,
		overdueGrace:     overdueGrace,
		stuckQuiet:       stuckQuiet,
		sweepInterval:    sweepInterval,
	}
}

// acceptBackoff is the wait after an accept error that followed a wait of
// prev (0 after a success): 5 ms doubling up to 1 s.
func acceptBackoff(prev time.Duration) time.Duration {
	if prev <= 0 {
		return acceptBackoffMin
	}
	return min(2*prev, acceptBackoffMax)
}

// serve accepts connections until the listener is closed. Any other accept
// error (EMFILE, ENFILE, ECONNABORTED, ...) is retried after a backoff:
// running out of file descriptors for a moment must not end the EE's
// Runtime API for good.
func (s *Server) serve() {
	var delay time.Duration
	var id uint64
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			delay = acceptBackoff(delay)
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-s.closed:
				t.Stop()
				return
			}
			continue
		}
		delay = 0
		id++
		wc := &workerConn{Conn: c, id: id}
		if !s.conns.add(wc, s.opt.maxConns) {
			c.Close() // at the cap with no idle connection to close
			continue
		}
		go s.serveConn(wc)
	}
}

// workerConn is one connection from the runtime.
type workerConn struct {
	net.Conn
	// writing orders answers on the connection: a /next answer can be
	// written by an invoking goroutine while the connection's goroutine
	// has already read the next request.
	writing sync.Mutex
	// parked: waiting on /next for an invoke. Changed under Server.mu;
	// atomic so that every request need not take that mutex to check it.
	parked atomic.Bool
	// seq is incremented when the connection's goroutine has read a
	// request's headers and again when it is done with the request: odd
	// while in a request, even between requests. Two uncontended atomic
	// adds per request are all the sweeper costs the hot path.
	seq atomic.Uint64
	// nread counts bytes read from the connection, for body stalls.
	nread atomic.Int64

	id uint64 // accept order

	// The sweeper's last view of the connection, under connSet.mu: seq and
	// nread when last seen changed, and when (unix ns of a sweep; 0 for a
	// connection accepted since the last sweep).
	seenSeq  uint64
	seenRead int64
	since    int64
}

// Read counts what the request loop reads, so the sweeper can tell a
// stalled body from a slow one.
func (wc *workerConn) Read(p []byte) (int, error) {
	n, err := wc.Conn.Read(p)
	wc.nread.Add(int64(n))
	return n, err
}

// idle reports whether the connection is between requests and not parked
// on /next. It runs under connSet.mu.
func (wc *workerConn) idle() bool {
	return wc.seq.Load()&1 == 0 && !wc.parked.Load()
}

// olderIdle reports whether a has been idle longer than b, by the
// sweeper's clock and then by accept order.
func olderIdle(a, b *workerConn) bool {
	switch {
	case a.since == b.since:
		return a.id < b.id
	case a.since == 0:
		return false
	case b.since == 0:
		return true
	}
	return a.since < b.since
}

// connSet tracks open connections so Close can end them all, the sweeper
// can time them out, and accept can keep their number under a cap.
type connSet struct {
	mu    sync.Mutex
	conns map[*workerConn]struct{}
	shut  bool
}

// add admits a new connection. At the cap it closes the connection idle
// longest to make room; with none idle it refuses the new one.
func (cs *connSet) add(wc *workerConn, limit int) bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.shut {
		return false
	}
	if cs.conns == nil {
		cs.conns = make(map[*workerConn]struct{})
	}
	if len(cs.conns) >= limit {
		var victim *workerConn
		for c := range cs.conns {
			if c.idle() && (victim == nil || olderIdle(c, victim)) {
				victim = c
			}
		}
		if victim == nil {
			return false
		}
		delete(cs.conns, victim)
		victim.Close()
	}
	cs.conns[wc] = struct{}{}
	return true
}

func (cs *connSet) remove(wc *workerConn) {
	cs.mu.Lock()
	delete(cs.conns, wc)
	cs.mu.Unlock()
}

func (cs *connSet) len() int {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return len(cs.conns)
}

func (cs *connSet) closeAll() {
	cs.mu.Lock()
	cs.shut = true
	for c := range cs.conns {
		c.Close()
	}
	cs.mu.Unlock()
}

// sweep closes connections idle for idle or stalled in a request for
// stall, as of now (unix ns). Connections parked on /next never time out:
// a worker may wait for its next invoke for ever.
func (cs *connSet) sweep(now int64, idle, stall time.Duration) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for c := range cs.conns {
		seq, nread := c.seq.Load(), c.nread.Load()
		inRequest := seq&1 == 1
		if c.since == 0 || seq != c.seenSeq || (inRequest && nread != c.seenRead) || c.parked.Load() {
			c.seenSeq, c.seenRead, c.since = seq, nread, now
			continue
		}
		c.seenRead = nread // bytes between requests (slow headers) do not count as progress
		limit := idle
		if inRequest {
			limit = stall
		}
		if time.Duration(now-c.since) >= limit {
			delete(cs.conns, c)
			c.Close()
		}
	}
}

// sweeper runs the server's periodic work until Close: connection
// timeouts, freeing the slots of overdue invokes, and the stuck check.
func (s *Server) sweeper() {
	t := time.NewTicker(s.opt.sweepInterval)
	defer t.Stop()
	var st stuckState
	for {
		select {
		case <-s.closed:
			return
		case now := <-t.C:
			s.conns.sweep(now.UnixNano(), s.opt.idleTimeout, s.opt.bodyStallTimeout)
			s.reapOverdue(now, &st)
		}
	}
}

// reapOverdue frees the slots of invokes whose caller has given up and
// whose deadline passed more than overdueGrace ago without an answer, and
// closes Stuck when the EE has no worker left to run anything.
func (s *Server) reapOverdue(now time.Time, st *stuckState) {
	cutoff := now.Add(-s.opt.overdueGrace)
	freed := 0
	s.mu.Lock()
	for id, inv := range s.pending {
		// Only abandoned ones: a caller still waiting holds its own timer.
		if inv.state.Load() == stateAbandoned && inv.Deadline.Before(cutoff) {
			delete(s.pending, id)
			s.markOverdue(id)
			freed++
		}
	}
	if len(s.queued) > 0 {
		kept := s.queued[:0]
		for _, inv := range s.queued {
			if inv.state.Load() == stateAbandoned && inv.Deadline.Before(cutoff) {
				freed++ // never reached a worker: not a stuck one
				continue
			}
			kept = append(kept, inv)
		}
		clear(s.queued[len(kept):])
		s.queued = kept
	}
	overdue, parked, activity := len(s.overdue), len(s.parked), s.activity
	s.mu.Unlock()
	for range freed {
		s.slots.Release()
	}
	if st.update(now, activity, overdue, s.slots.Max(), parked, s.opt.stuckQuiet) {
		s.stuckOnce.Do(func() { close(s.stuck) })
	}
}

// markOverdue records a dispatched invoke freed without an answer: its
// worker is presumed stuck until it answers. At most max are kept, one per
// worker, so a runtime that drops invokes and polls again cannot grow the
// set. It runs with s.mu held.
func (s *Server) markOverdue(id string) {
	if len(s.overdue) >= s.slots.Max() {
		for old := range s.overdue {
			delete(s.overdue, old)
			break
		}
	}
	s.overdue[id] = struct{}{}
}

// stuckState is the sweeper's memory for the stuck check.
type stuckState struct {
	activity    uint64    // Server.activity at the last change
	quietSince  time.Time // when it last changed
	initialized bool
}

// update takes one sweep's observations and reports whether the EE is
// stuck.
func (st *stuckState) update(now time.Time, activity uint64, overdue, max, parked int, quiet time.Duration) bool {
	if !st.initialized || activity != st.activity {
		st.activity, st.quietSince, st.initialized = activity, now, true
	}
	return stuckRule(overdue, max, parked, now.Sub(st.quietSince), quiet)
}

// stuckRule is the definition of a stuck EE: as many invokes as the EE has
// workers were freed past their deadline plus grace without an answer
// (each worker runs one invoke at a time, so every worker is presumed to
// be holding one), none of them was answered since, no worker is parked on
// /next, and no worker has polled or answered anything for quiet. A slow
// but healthy EE cannot match: an invoke answered before its deadline plus
// grace is never counted, a late answer removes its invoke from the count,
// and any worker polling or answering resets the quiet time.
func stuckRule(overdue, max, parked int, quietFor, quiet time.Duration) bool {
	return max > 0 && overdue >= max && parked == 0 && quietFor >= quiet
}
