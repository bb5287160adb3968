package hop

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/paddockhq/paddock/internal/frontdoor"
)

// Server serves a Handler on the agent's hop port with frontdoor's fast
// HTTP/1.1 loop (net/http behind it for any request that is not plain),
// with the limits every Paddock server has: a cap on connections (idle ones
// are closed first to make room), a header timeout, an idle timeout and a
// minimum body rate; no overall read or write timeout, since an invoke may
// last 900 s.
//
// The fast loop alone would lose two things the hop rests on, so Server
// wraps each connection to keep them:
//
//   - a router's hang-up cancels the invoke: once the EE has run it for
//     watchAfter (20 ms), a goroutine waits on the connection (as
//     net/http's background read does) and cancels the invoke's context
//     when the read fails (the router closes the connection when its
//     caller gives up). A byte that arrives instead (a pipelined request)
//     is kept for the loop. Invokes shorter than that cost no goroutine.
//   - a 401 comes before the body: the connection's next read fails, so
//     the loop answers at once with "Connection: close" instead of
//     draining up to 256 KiB of an unauthenticated body first.
type Server struct {
	fd frontdoor.Server

	// The handler finds its connection by the request's RemoteAddr (the
	// fast loop passes nothing else): conns holds each open connection by
	// its remote address. An address shared by two connections (possible
	// only across local addresses) is ambiguous: neither is watched.
	mu    sync.Mutex
	conns map[string]*connEntry
}

type connEntry struct {
	conn *watchedConn // nil when n > 1
	n    int
}

// conn is the connection with that remote address, or nil.
func (s *Server) conn(remote string) *watchedConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.conns[remote]; e != nil {
		return e.conn
	}
	return nil
}

func (s *Server) track(c *watchedConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.conns[c.key]; e != nil {
		e.conn = nil
		e.n++
		return
	}
	s.conns[c.key] = &connEntry{conn: c, n: 1}
}

func (s *Server) untrack(c *watchedConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.conns[c.key]; e != nil {
		if e.n--; e.n <= 0 {
			delete(s.conns, c.key)
		}
	}
}

// Limits of NewServer.
const (
	ServerReadHeaderTimeout = 10 * time.Second
	ServerIdleTimeout       = 2 * time.Minute
	// ServerMaxConns: every invoke in flight holds a connection, and each
	// server keeps up to maxIdlePerAgent idle ones.
	ServerMaxConns = 4096
)

// NewServer is a Server for h.
func NewServer(h *Handler) *Server {
	s := &Server{conns: make(map[string]*connEntry)}
	s.fd = frontdoor.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var wc *watchedConn
			// Only on the fast loop: net/http (whose requests carry its
			// ServerContextKey) reads the connection itself.
			if r.Context().Value(http.ServerContextKey) == nil {
				wc = s.conn(r.RemoteAddr)
			}
			h.serve(w, r, wc)
		}),
		// Streamed answers are chunked, and a multiplexed session takes
		// its connection over: net/http does both.
		Match:             func(_, path string) bool { return path != pathMux && !strings.HasSuffix(path, pathStreamSuffix) },
		ReadHeaderTimeout: ServerReadHeaderTimeout,
		IdleTimeout:       ServerIdleTimeout,
		BodyReadWindow:    10 * time.Second,
		BodyReadMin:       16 << 10,
		MaxConns:          ServerMaxConns,
	}
	return s
}

// Serve serves ln until Close; it then returns http.ErrServerClosed.
func (s *Server) Serve(ln net.Listener) error {
	return s.fd.Serve(&watchListener{Listener: ln, s: s})
}

// Close stops the server: invokes in progress have their context canceled
// and a moment to answer (frontdoor.Server.Close).
func (s *Server) Close() error { return s.fd.Close() }

// OpenConns is the number of open connections.
func (s *Server) OpenConns() int { return s.fd.OpenConns() }

type watchListener struct {
	net.Listener
	s *Server
}

func (l *watchListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	c := &watchedConn{Conn: nc, s: l.s, key: nc.RemoteAddr().String()}
	l.s.track(c)
	return c, nil
}

// errRefusedBody fails the read of a body the handler refused to take.
var errRefusedBody = errors.New("hop: request body refused")

// aLongTimeAgo is a deadline in the past: it ends a blocked read at once.
var aLongTimeAgo = time.Unix(1, 0)

// watchedConn is a hop connection. Its Read and deadlines are frontdoor's
// (or net/http's) but for the two things Server's doc names.
type watchedConn struct {
	net.Conn
	s   *Server
	key string

	mu      sync.Mutex
	rdl     time.Time // the read deadline last asked for
	refuse  bool      // the next Read fails with errRefusedBody
	stashed bool      // stash holds a byte the watch read
	stash   [1]byte
	err     error // a read error the watch met, for the next Read
	once    sync.Once
}

func (c *watchedConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	switch {
	case c.refuse:
		c.refuse = false
		c.mu.Unlock()
		return 0, errRefusedBody
	case c.stashed:
		c.stashed = false
		c.mu.Unlock()
		if len(p) == 0 {
			return 0, nil
		}
		p[0] = c.stash[0]
		return 1, nil
	case c.err != nil:
		err := c.err
		c.mu.Unlock()
		return 0, err
	}
	c.mu.Unlock()
	return c.Conn.Read(p)
}

func (c *watchedConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.rdl = t
	c.mu.Unlock()
	return c.Conn.SetReadDeadline(t)
}

func (c *watchedConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.rdl = t
	c.mu.Unlock()
	return c.Conn.SetDeadline(t)
}

// CloseWrite lets frontdoor half-close before it lingers.
func (c *watchedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (c *watchedConn) Close() error {
	c.once.Do(func() { c.s.untrack(c) })
	return c.Conn.Close()
}

// refuseBody makes the next read of the connection fail, so that the loop
// closes the connection after its answer rather than draining the body.
func (c *watchedConn) refuseBody() {
	c.mu.Lock()
	c.refuse = true
	c.mu.Unlock()
}

// watchAfter is how long an invoke runs before its connection is watched
// for a hang-up: most end sooner, and then cost no goroutine, read or
// deadline change; a hang-up is noticed at most this much later.
const watchAfter = 20 * time.Millisecond

// watch returns a context that ends with parent or when the peer hangs up,
// and the function that ends the watch (to call before the answer is
// written). The request's body must have been read whole: what the watch
// reads is the next request, or the end of the connection.
func (c *watchedConn) watch(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancel(parent)
	var (
		mu      sync.Mutex
		started bool
		stopped bool
		done    chan struct{}
	)
	t := time.AfterFunc(watchAfter, func() {
		mu.Lock()
		c.mu.Lock()
		busy := c.stashed || c.err != nil // not expected: one watch per request
		c.mu.Unlock()
		if stopped || busy {
			mu.Unlock()
			return
		}
		started = true
		done = make(chan struct{})
		defer close(done)
		// No deadline while the invoke runs, so that any timeout the read
		// meets is stop's doing. Set under mu: stop's deadline comes after.
		c.Conn.SetReadDeadline(time.Time{}) //nolint:errcheck // a closed connection fails the read below
		mu.Unlock()
		n, err := c.Conn.Read(c.stash[:])
		c.mu.Lock()
		defer c.mu.Unlock()
		if n > 0 {
			c.stashed = true // a pipelined request's first byte, for the loop
		}
		var ne net.Error
		if err != nil && !(errors.As(err, &ne) && ne.Timeout()) {
			c.err = err
			cancel() // the router hung up, or the connection broke
		}
	})
	return ctx, func() {
		mu.Lock()
		stopped = true
		running, d := started, done
		mu.Unlock()
		if running {
			c.Conn.SetReadDeadline(aLongTimeAgo) //nolint:errcheck
			<-d
			c.mu.Lock()
			rdl := c.rdl
			c.mu.Unlock()
			c.Conn.SetReadDeadline(rdl) //nolint:errcheck
		} else {
			t.Stop()
		}
		cancel()
	}
}
