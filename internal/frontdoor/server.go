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
//
// It is built to outlive floods of connections: an Accept error never ends
// Serve (it backs off, as net/http does); open connections are capped
// (MaxConns), and at the cap the idle ones are closed to make room; and
// every phase of a connection has a timeout (ReadHeaderTimeout,
// IdleTimeout, the minimum body rate), so a client that connects and does
// nothing, sends its head a byte at a time, or stalls in the middle of a
// body, is closed. The timeouts and the cap apply on both paths.
type Server struct {
	// Handler serves every request, on either path. It must not need
	// http.Flusher or http.Hijacker for the requests Match picks.
	Handler http.Handler
	// Match picks the requests the fast loop serves, by method and path;
	// nil picks none.
	Match func(method, path string) bool
	// ReadHeaderTimeout bounds the time to read a request head on both
	// paths: from the accept for the first one, from its first byte for
	// the next; zero means none.
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes a kept-alive connection that waits this long for
	// its next request (net/http's IdleTimeout); zero means never.
	IdleTimeout time.Duration
	// BodyReadWindow and BodyReadMin are the minimum body rate: a request
	// body must bring BodyReadMin bytes (or its rest) in every window of
	// BodyReadWindow, or its read fails and the connection is closed. A
	// zero window means no minimum.
	BodyReadWindow time.Duration
	BodyReadMin    int64
	// MaxConns caps the open connections of both paths; zero means no
	// cap. At the cap, idle connections are closed to make room (see
	// pickVictims); when every one is busy the new connection is closed.
	MaxConns int

	slow    *http.Server
	handoff *handoffListener
	ctx     context.Context // of every request, on both paths; canceled by Close with ErrServerAbort
	cancel  context.CancelCauseFunc
	stop    chan struct{} // closed when Shutdown or Close begins
	stopped sync.Once

	closing atomic.Bool // set by Shutdown and Close, never cleared

	// inHandler counts the handlers running, on both paths: Close gives
	// them cutGrace to answer once their context is canceled.
	inHandler atomic.Int64

	mu         sync.Mutex
	onShutdown []func()
	ln         net.Listener
	conns      map[*conn]struct{}
	slowConns  map[*bufferedConn]struct{} // handed to net/http, until it closes them
	draining   chan struct{}              // closed when the last fast connection ends during a shutdown
	wg         sync.WaitGroup
	lastWarn   time.Time // of the last refusal or eviction logged
}

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = http.ErrServerClosed

// ErrServerAbort is the cause (context.Cause) of the context of every
// request that Close cuts short, on both paths: a handler that sees it
// knows the server, not the client, ended the request, and should answer
// an error (the client is still there to read it) rather than nothing.
var ErrServerAbort = errors.New("the server is shutting down")

// cutGrace is how long Close lets handlers answer once it has canceled
// their context, before it closes their connections.
const cutGrace = time.Second

// Serve accepts connections on ln until Shutdown or Close, and returns
// ErrServerClosed then. It returns another error only when ln is closed
// from outside: any other Accept error is retried.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.ln = ln
	s.conns = make(map[*conn]struct{})
	s.slowConns = make(map[*bufferedConn]struct{})
	s.ctx, s.cancel = context.WithCancelCause(context.Background())
	s.stop = make(chan struct{})
	s.handoff = newHandoffListener(ln.Addr())
	s.slow = &http.Server{
		Handler:           s.slowHandler(),
		ReadHeaderTimeout: s.ReadHeaderTimeout,
		IdleTimeout:       s.IdleTimeout,
		ConnState:         s.slowState,
		BaseContext:       func(net.Listener) context.Context { return s.ctx },
	}
	s.mu.Unlock()

	slowDone := make(chan struct{})
	go func() { defer close(slowDone); s.slow.Serve(s.handoff) }() //nolint:errcheck // ends with ErrServerClosed
	defer func() { <-slowDone }()

	var backoff acceptBackoff
	var failures int
	var lastLog time.Time
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.closing.Load() {
				return ErrServerClosed
			}
			if acceptFatal(err) {
				s.slow.Close() //nolint:errcheck
				return err
			}
			if outOfDescriptors(err) {
				s.makeRoom(true)
			}
			failures++
			if time.Since(lastLog) > 10*time.Second {
				lastLog = time.Now()
				slog.Warn("API accept failed; retrying", "err", err, "failures", failures)
			}
			select {
			case <-time.After(backoff.next()):
			case <-s.stop:
			}
			continue
		}
		if failures > 0 {
			slog.Info("API accepts again", "failures", failures)
			failures, lastLog = 0, time.Time{}
		}
		backoff.reset()
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

// slowHandler is the handler net/http runs: Handler, with the minimum
// body rate on the request's body. A handler that returns without
// answering because Close cut it short gets its connection closed before
// any status line (net/http would send an empty 200, which a client takes
// for a success).
func (s *Server) slowHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.inHandler.Add(1)
		defer s.inHandler.Add(-1)
		if s.BodyReadWindow > 0 && r.Body != nil && r.Body != http.NoBody {
			r.Body = &rateBody{body: r.Body, rc: http.NewResponseController(w), window: s.BodyReadWindow, min: s.BodyReadMin}
		}
		tw := &trackedWriter{ResponseWriter: w}
		s.Handler.ServeHTTP(tw, r)
		if !tw.wrote && s.ctx.Err() != nil {
			panic(http.ErrAbortHandler)
		}
	})
}

// trackedWriter notes whether a net/http handler answered anything.
type trackedWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *trackedWriter) WriteHeader(status int) {
	w.wrote = true
	w.ResponseWriter.WriteHeader(status)
}

func (w *trackedWriter) Write(p []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(p)
}

// Flush keeps http.Flusher for the handlers that stream.
func (w *trackedWriter) Flush() {
	w.wrote = true
	http.NewResponseController(w.ResponseWriter).Flush() //nolint:errcheck // as http.Flusher, no error
}

// Unwrap lets http.ResponseController reach net/http's writer.
func (w *trackedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// slowState follows net/http's connections, for the cap.
func (s *Server) slowState(nc net.Conn, st http.ConnState) {
	bc, ok := nc.(*bufferedConn)
	if !ok {
		return
	}
	switch st {
	case http.StateIdle:
		bc.since.Store(time.Now().UnixNano())
		bc.state.Store(uint32(stateIdle))
	case http.StateActive:
		bc.state.Store(uint32(stateActive))
	case http.StateHijacked, http.StateClosed:
		s.mu.Lock()
		delete(s.slowConns, bc)
		s.mu.Unlock()
	}
}

// OpenConns is the number of connections the cap counts.
func (s *Server) OpenConns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns) + len(s.slowConns)
}

// makeRoom closes idle connections, a batch of them, when the cap is
// reached (or, with force, because Accept ran out of descriptors). It
// reports whether there is room for one more connection. Batches (1/64 of
// the cap) keep a flood from costing a scan of every connection per
// accept. The server's mutex must not be held.
func (s *Server) makeRoom(force bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	open := len(s.conns) + len(s.slowConns)
	if !force && (s.MaxConns <= 0 || open < s.MaxConns) {
		return true
	}
	n := max(1, s.MaxConns/64, open/64)
	fast := make([]*conn, 0, len(s.conns))
	slow := make([]*bufferedConn, 0, len(s.slowConns))
	cands := make([]candidate, 0, open)
	for c := range s.conns {
		c.mu.Lock()
		st, since := c.state, c.since
		c.mu.Unlock()
		fast = append(fast, c)
		cands = append(cands, candidate{st, since})
	}
	for bc := range s.slowConns {
		slow = append(slow, bc)
		cands = append(cands, candidate{connState(bc.state.Load()), bc.since.Load()})
	}
	closed := 0
	for _, i := range pickVictims(cands, n) {
		if i < len(fast) {
			c := fast[i]
			if c.closeIf(cands[i].state) {
				delete(s.conns, c)
				closed++
			}
			continue
		}
		bc := slow[i-len(fast)]
		if connState(bc.state.Load()) != stateActive {
			delete(s.slowConns, bc)
			bc.Conn.Close()
			closed++
		}
	}
	if !force && time.Since(s.lastWarn) > 10*time.Second {
		s.lastWarn = time.Now()
		if closed > 0 {
			slog.Warn("API connections at their limit: closing idle ones", "open", open, "max", s.MaxConns, "closed", closed)
		} else {
			slog.Warn("API connections at their limit, all busy: refusing new ones", "open", open, "max", s.MaxConns)
		}
	}
	return closed > 0 || open < s.MaxConns || s.MaxConns <= 0
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
	s.stopped.Do(func() { close(s.stop) })
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

// Close closes the listener, cancels the context of every request in
// progress with ErrServerAbort, gives their handlers a moment (cutGrace)
// to answer, then closes every connection and waits for the fast loop's
// goroutines to end. A request cut short is never finished as a success:
// it gets the handler's answer, or its connection closes before a status
// line.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closing.Store(true)
	if s.ln == nil {
		s.mu.Unlock()
		return nil
	}
	s.stopped.Do(func() { close(s.stop) })
	s.ln.Close()
	s.mu.Unlock()
	s.cancel(ErrServerAbort)
	s.awaitHandlers(cutGrace)
	s.mu.Lock()
	for c := range s.conns {
		c.nc.Close()
	}
	s.mu.Unlock()
	err := s.slow.Close()
	s.wg.Wait()
	s.awaitHandlers(cutGrace) // net/http's, which its Close does not wait for
	return err
}

// awaitHandlers waits until no handler runs, or d has passed.
func (s *Server) awaitHandlers(d time.Duration) {
	deadline := time.Now().Add(d)
	for s.inHandler.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
}

// track adds or removes a fast connection; adding fails once the server is
// closing, or at the cap when no idle connection can make room.
func (s *Server) track(c *conn, add bool) bool {
	if add && s.MaxConns > 0 && !s.makeRoom(false) {
		return false
	}
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
	bc := &bufferedConn{Conn: nc, r: br}
	bc.state.Store(uint32(stateActive)) // it has a head to serve
	s.mu.Lock()
	s.slowConns[bc] = struct{}{}
	s.mu.Unlock()
	if !s.handoff.give(bc) {
		s.mu.Lock()
		delete(s.slowConns, bc)
		s.mu.Unlock()
		nc.Close()
	}
}

func (s *Server) logPanic(v any) {
	slog.Error("panic serving an API request", "panic", v, "stack", string(debug.Stack()))
}
