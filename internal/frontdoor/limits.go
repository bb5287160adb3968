package frontdoor

import (
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"syscall"
	"time"
)

// This file holds what keeps the API port alive under a flood: the accept
// loop's backoff, the choice of connections to close when the cap is
// reached, and the minimum body rate.

// Accept backoff bounds, as net/http's.
const (
	minAcceptDelay = 5 * time.Millisecond
	maxAcceptDelay = time.Second
)

// acceptBackoff is the delay before the next Accept after one failed: 5 ms,
// doubling to 1 s, back to nothing after a success. Why: an Accept that
// fails for want of file descriptors fails again at once; retrying in a
// tight loop burns a core, and giving up (as the server once did) leaves
// the port dead after the flood has passed.
type acceptBackoff struct{ delay time.Duration }

func (b *acceptBackoff) next() time.Duration {
	b.delay = min(max(2*b.delay, minAcceptDelay), maxAcceptDelay)
	return b.delay
}

func (b *acceptBackoff) reset() { b.delay = 0 }

// acceptFatal reports whether an Accept error ends the server: only a
// closed listener does. Everything else (EMFILE, ENFILE, ECONNABORTED,
// ENOBUFS, a timeout, or an error nobody foresaw) is retried with the
// backoff, since a listener that still exists may accept again.
func acceptFatal(err error) bool { return errors.Is(err, net.ErrClosed) }

// outOfDescriptors reports whether an Accept failed because the process or
// the system ran out of file descriptors: closing idle connections then
// makes room for the next one.
func outOfDescriptors(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)
}

// connState is what a connection is doing, for the choice of which to
// close when the cap is reached.
type connState uint32

const (
	// stateNew: accepted, its first request head not complete yet.
	stateNew connState = iota
	// stateIdle: kept alive between requests.
	stateIdle
	// stateActive: a request is being read, served or answered.
	stateActive
)

// candidate is one open connection as pickVictims sees it.
type candidate struct {
	state connState
	since int64 // when it entered its state, in Unix nanoseconds
}

// pickVictims returns the indexes of up to n connections to close to make
// room for new ones: idle kept-alive connections first, longest idle first
// (the least likely to be used again, and closing one costs its client at
// most a reconnection); then connections that have not sent a whole
// request head yet, oldest first (a slowloris is oldest). A connection
// with a request in progress is never chosen: a flood must not cut a
// caller's invoke short.
func pickVictims(cs []candidate, n int) []int {
	var out []int
	for _, st := range [...]connState{stateIdle, stateNew} {
		if len(out) >= n {
			break
		}
		var tier []int
		for i, c := range cs {
			if c.state == st {
				tier = append(tier, i)
			}
		}
		slices.SortFunc(tier, func(a, b int) int {
			switch {
			case cs[a].since < cs[b].since:
				return -1
			case cs[a].since > cs[b].since:
				return 1
			}
			return a - b
		})
		out = append(out, tier[:min(len(tier), n-len(out))]...)
	}
	return out
}

// DefaultMaxConns is the default cap on open API connections: half the
// process's soft RLIMIT_NOFILE less a reserve, at least 64. Why half: the
// same descriptor table holds the engine's files, every execution
// environment's pipes and sockets, the Runtime API's connections and the
// logs; a flood on the API port must not take the descriptors those need.
// (Go raises the soft limit to the hard one when a program starts, so this
// is the hard limit in practice.)
func DefaultMaxConns() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 1024
	}
	return maxConnsFor(rl.Cur)
}

// connReserve is the descriptors DefaultMaxConns leaves aside besides the
// other half.
const connReserve = 256

func maxConnsFor(soft uint64) int {
	n := int64(min(soft, 1<<30)/2) - connReserve
	return int(max(n, 64))
}

// rateBody enforces the minimum body rate on a request that net/http
// serves: each window must bring min bytes (or the rest of the body), or
// the read fails with a timeout and net/http closes the connection. The
// deadline moves through http.ResponseController, as the connection is
// net/http's. The fast loop does the same in bodyReader.
type rateBody struct {
	body   io.ReadCloser
	rc     *http.ResponseController
	window time.Duration
	min    int64
	got    int64 // since the deadline was last moved
	armed  bool
	done   bool
}

func (b *rateBody) Read(p []byte) (int, error) {
	if !b.done && (!b.armed || b.got >= b.min) {
		b.armed, b.got = true, 0
		b.rc.SetReadDeadline(time.Now().Add(b.window)) //nolint:errcheck // the connection is gone or not a net.Conn: nothing to bound
	}
	n, err := b.body.Read(p)
	b.got += int64(n)
	if err != nil && !b.done {
		b.done = true
		if err == io.EOF {
			// net/http then reads in the background to notice a hang-up;
			// a deadline left behind would cancel a long request.
			b.rc.SetReadDeadline(time.Time{}) //nolint:errcheck
		}
	}
	return n, err
}

func (b *rateBody) Close() error { return b.body.Close() }
