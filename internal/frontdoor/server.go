// Package frontdoor serves the API port. Requests that Match picks (the
// Invoke API: the hot path) are served by a small HTTP/1.1 loop; every other
// connection is handed, with the bytes already read, to a net/http server
// with the same handler.
//
// Why: at high concurrency net/http's per-request machinery (a context, a
// background read to notice a hang-up, header maps built through
// textproto, response headers sorted) costs about as much CPU as the rest
// of an invoke's handling. The loop here does one read and one write per
// request when the client sends plainly, and allocates only the request,
// its header map and one string for the whole head.
//
// It is deliberately narrow. The decision is made at a request boundary,
// before anything is consumed: a request that is not plain HTTP/1.1 with a
// Content-Length body (chunked, HTTP/1.0, an odd Expect or Connection
// value, a head over 16 KiB, a malformed line) and every request that Match
// does not pick go to net/http, which then owns the connection for good. A
// client that hangs up during a fast request is not noticed until its
// answer is written: Lambda runs a synchronous invoke to its end anyway.
package frontdoor

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// Server serves one listener with the fast loop and net/http behind it.
type Server struct {
	// Handler serves every request, on either path. It must not need
	// http.Flusher or http.Hijacker for the requests Match picks.
	Handler http.Handler
	// Match picks the requests the fast loop serves, by method and path;
	// nil picks none.
	Match func(method, path string) bool
	// ReadHeaderTimeout bounds the time to read a request head on both
	// paths; zero means none.
	ReadHeaderTimeout time.Duration

	slow    *http.Server
	handoff *handoffListener
	ctx     context.Context // of every fast request; canceled by Close
	cancel  context.CancelFunc

	closing atomic.Bool // set by Shutdown and Close, never cleared

	mu         sync.Mutex
	onShutdown []func()
	ln         net.Listener
	conns      map[*conn]struct{}
	draining   chan struct{} // closed when the last fast connection ends during a shutdown
	wg         sync.WaitGroup
}

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = http.ErrServerClosed

// Serve accepts connections on ln until Shutdown or Close, and returns
// ErrServerClosed then.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.ln = ln
	s.conns = make(map[*conn]struct{})
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.handoff = newHandoffListener(ln.Addr())
	s.slow = &http.Server{Handler: s.Handler, ReadHeaderTimeout: s.ReadHeaderTimeout}
	s.mu.Unlock()

	slowDone := make(chan struct{})
	go func() { defer close(slowDone); s.slow.Serve(s.handoff) }() //nolint:errcheck // ends with ErrServerClosed
	defer func() { <-slowDone }()

	var tempDelay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.closing.Load() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// Out of file descriptors and the like: back off as net/http does.
				tempDelay = min(max(2*tempDelay, 5*time.Millisecond), time.Second)
				time.Sleep(tempDelay)
				continue
			}
			s.slow.Close() //nolint:errcheck
			return err
		}
		tempDelay = 0
		c := newConn(s, nc)
		if !s.track(c, true) {
			nc.Close()
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			c.serve()
		}()
	}
}

// RegisterOnShutdown registers a function to call, in a goroutine of its
// own, when Shutdown begins: as net/http's, for connections that would
// otherwise hold the shutdown (long polls, streams).
func (s *Server) RegisterOnShutdown(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onShutdown = append(s.onShutdown, f)
}

// Shutdown stops accepting, closes idle connections, and waits until the
// requests in progress are answered or ctx ends; then it closes what is
// left. It returns ctx's error if it had to cut requests short.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	first := !s.closing.Swap(true)
	if s.ln == nil {
		s.mu.Unlock()
		return nil
	}
	if first {
		for _, f := range s.onShutdown {
			go f()
		}
	}
	s.ln.Close()
	if s.draining == nil {
		s.draining = make(chan struct{})
		if len(s.conns) == 0 {
			close(s.draining)
		}
	}
	for c := range s.conns {
		c.closeIfIdle()
	}
	draining := s.draining
	s.mu.Unlock()

	slowErr := s.slow.Shutdown(ctx)
	select {
	case <-draining:
	case <-ctx.Done():
	}
	s.Close() //nolint:errcheck
	if err := ctx.Err(); err != nil {
		return err
	}
	return slowErr
}

// Close closes the listener and every connection at once, and waits for
// the fast loop's goroutines to end.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closing.Store(true)
	if s.ln == nil {
		s.mu.Unlock()
		return nil
	}
	s.ln.Close()
	s.cancel()
	for c := range s.conns {
		c.nc.Close()
	}
	s.mu.Unlock()
	err := s.slow.Close()
	s.wg.Wait()
	return err
}

// track adds or removes a fast connection; adding fails once the server is
// closing.
func (s *Server) track(c *conn, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.closing.Load() {
			return false
		}
		s.conns[c] = struct{}{}
		return true
	}
	delete(s.conns, c)
	if s.closing.Load() && len(s.conns) == 0 && s.draining != nil {
		select {
		case <-s.draining:
		default:
			close(s.draining)
		}
	}
	return true
}

// handOff gives a connection to net/http. Its reader holds the bytes the
// fast loop has looked at but not consumed.
func (s *Server) handOff(nc net.Conn, br *bufio.Reader) {
	if !s.handoff.give(&bufferedConn{Conn: nc, r: br}) {
		nc.Close()
	}
}

func (s *Server) logPanic(v any) {
	slog.Error("panic serving an API request", "panic", v, "stack", string(debug.Stack()))
}
