package frontdoor

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// bufSize is the reader's buffer: a request head must fit in it to be
	// served by the fast loop (net/http takes larger ones).
	bufSize = 16 << 10
	// maxDrain is how much of a body the handler left unread is discarded
	// to keep the connection; past it the connection is closed, as
	// net/http does.
	maxDrain = 256 << 10
	// lingerTime is how long lingerClose waits for the client to finish
	// sending (net/http's rstAvoidanceDelay).
	lingerTime = 500 * time.Millisecond
)

var (
	readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, bufSize) }}
	writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 4096) }}
)

// conn is one connection served by the fast loop.
type conn struct {
	srv    *Server
	nc     net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	remote string

	mu     sync.Mutex // guards state, since and closed against Shutdown and the cap
	state  connState
	since  int64 // when state was entered, Unix nanoseconds
	closed bool

	// rdl is the read deadline set on nc, kept so that a request on a
	// busy connection does not need to move it (see idle).
	rdl time.Time

	// Reused by each request in turn: a handler must not keep them past
	// its return, which net/http asks too.
	body bodyReader
	resp response
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{srv: s, nc: nc, remote: nc.RemoteAddr().String(), since: time.Now().UnixNano()}
	c.resp.c = c
	c.body.c = c
	return c
}

// serve runs the request loop until the connection closes or is handed to
// net/http.
func (c *conn) serve() {
	c.br = readerPool.Get().(*bufio.Reader)
	c.br.Reset(c.nc)
	c.bw = writerPool.Get().(*bufio.Writer)
	c.bw.Reset(c.nc)
	handedOff := false
	defer func() {
		if v := recover(); v != nil && v != http.ErrAbortHandler {
			c.srv.logPanic(v)
		}
		c.srv.track(c, false)
		c.bw.Reset(nil)
		writerPool.Put(c.bw)
		if !handedOff {
			c.nc.Close()
			c.br.Reset(nil)
			readerPool.Put(c.br)
		}
	}()

	// A new connection gets the header timeout from its accept on, as
	// with net/http; a kept one gets the idle timeout between requests,
	// then the header timeout from the first byte of its next head.
	if timeout := c.srv.ReadHeaderTimeout; timeout > 0 {
		c.setReadDeadline(time.Now().Add(timeout))
	}
	for first := true; ; first = false {
		n, err := c.readHead(first)
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
		var h head
		ok := err == nil
		if ok {
			buf, _ := c.br.Peek(n)
			h, ok = parseHead(buf)
		}
		if !ok || c.srv.Match == nil || !c.srv.Match(h.method, h.url.Path) {
			// Active, so that the cap does not close it under net/http
			// before it leaves this loop's count.
			if !c.setState(stateActive, 0) {
				return
			}
			c.nc.SetReadDeadline(time.Time{}) //nolint:errcheck // net/http sets its own
			handedOff = true
			c.srv.handOff(c.nc, c.br)
			return
		}
		if !c.setState(stateActive, 0) {
			return
		}
		c.br.Discard(n) //nolint:errcheck // n bytes are buffered
		keep := c.serveRequest(&h)
		if !keep && c.body.remaining > 0 {
			c.lingerClose()
		}
		if !keep {
			return
		}
		now := time.Now()
		if !c.setState(stateIdle, now.UnixNano()) {
			return
		}
		c.idle(now)
	}
}

// setReadDeadline sets the connection's read deadline and remembers it.
func (c *conn) setReadDeadline(t time.Time) {
	c.rdl = t
	c.nc.SetReadDeadline(t) //nolint:errcheck // fails only on a closed connection, which the next read reports
}

// idle sets the deadline for the wait for the next request: IdleTimeout
// from now. A busy connection finds the deadline it set a moment ago still
// nearly whole, and keeps it: the timeout is then between 7/8 of
// IdleTimeout and all of it, and a stream of requests moves the deadline
// (a runtime timer) once per IdleTimeout/8 rather than once per request.
func (c *conn) idle(now time.Time) {
	t := c.srv.IdleTimeout
	if t <= 0 {
		if !c.rdl.IsZero() {
			c.setReadDeadline(time.Time{})
		}
		return
	}
	// A deadline set for something else (the head, a body) is replaced,
	// whether sooner or later than this one.
	if left := c.rdl.Sub(now); left < t-t/8 || left > t {
		c.setReadDeadline(now.Add(t))
	}
}

// readHead waits for a whole request head and returns its length. It
// returns bufio.ErrBufferFull for a head larger than the buffer.
func (c *conn) readHead(first bool) (int, error) {
	if _, err := c.br.Peek(1); err != nil {
		return 0, err
	}
	// The first head is under the deadline set at the accept.
	deadline := first
	for {
		buf, _ := c.br.Peek(c.br.Buffered())
		if n := headEnd(buf); n >= 0 {
			return n, nil
		}
		if len(buf) == c.br.Size() {
			return 0, bufio.ErrBufferFull
		}
		if !deadline && c.srv.ReadHeaderTimeout > 0 {
			c.setReadDeadline(time.Now().Add(c.srv.ReadHeaderTimeout))
			deadline = true
		}
		if _, err := c.br.Peek(len(buf) + 1); err != nil {
			return 0, err
		}
	}
}

// setState marks the connection busy or idle for Shutdown and the cap;
// it reports false when the connection must end instead (it was closed
// while idle, or the server is closing and it goes idle).
func (c *conn) setState(st connState, since int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	if st != stateActive && c.srv.closing.Load() {
		return false
	}
	c.state = st
	if since != 0 {
		c.since = since
	}
	return true
}

// closeIf closes the connection if it is still in state st, which is not
// stateActive, and reports whether it did: the cap's way to make room
// without racing a request that has just begun.
func (c *conn) closeIf(st connState) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.state != st || st == stateActive {
		return false
	}
	c.closed = true
	c.nc.Close()
	return true
}

// closeIfIdle closes the connection if it is waiting for a request. (The
// server's mutex is held: the lock order is server, then connection.)
func (c *conn) closeIfIdle() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != stateActive {
		c.closed = true
		c.nc.Close()
	}
}

// serveRequest runs the handler for one request and writes its answer. It
// reports whether the connection can serve another request.
func (c *conn) serveRequest(h *head) (keep bool) {
	req := &http.Request{
		Method:        h.method,
		URL:           h.url,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h.header,
		ContentLength: h.contentLength,
		Close:         h.close,
		Host:          h.host,
		RemoteAddr:    c.remote,
		RequestURI:    h.target,
	}
	c.body.reset(h.contentLength, h.expect100)
	if h.contentLength > 0 {
		req.Body = &c.body
	} else {
		req.Body = http.NoBody
	}
	req = req.WithContext(c.srv.ctx)
	c.resp.reset()
	c.runHandler(req)
	if c.resp.status == 0 && c.srv.ctx.Err() != nil {
		// Close cut the request short and the handler answered
		// nothing: finishing it would send an empty 200, which a client
		// takes for a success. Close the connection before any status
		// line instead.
		return false
	}

	keep = !h.close
	if c.body.remaining > 0 {
		// The handler left part of the body. A client that waits for
		// 100 Continue never sends it; a large one costs more to drain
		// than a new connection.
		if c.body.expect || c.body.remaining > maxDrain {
			keep = false
		} else if _, err := io.Copy(io.Discard, &c.body); err != nil {
			keep = false
		}
	}
	if c.body.err != nil {
		keep = false
	}
	return c.resp.finish(keep) && keep
}

// runHandler runs the handler, counted for Close.
func (c *conn) runHandler(req *http.Request) {
	c.srv.inHandler.Add(1)
	defer c.srv.inHandler.Add(-1)
	c.srv.Handler.ServeHTTP(&c.resp, req)
}

// lingerClose prepares to close a connection whose client may still be
// sending a body the handler left unread. Closing with unread bytes resets
// the connection, and a reset can destroy the answer in the client's
// buffers before it reads it; so half-close, and discard what still comes
// for a moment, as net/http does.
func (c *conn) lingerClose() {
	if tc, ok := c.nc.(interface{ CloseWrite() error }); ok {
		tc.CloseWrite() //nolint:errcheck // the close follows anyway
	}
	c.setReadDeadline(time.Now().Add(lingerTime))
	io.Copy(io.Discard, c.nc) //nolint:errcheck // ends at EOF or the deadline
}

// bodyReader reads a Content-Length request body from the connection.
type bodyReader struct {
	c         *conn
	remaining int64
	expect    bool // 100 Continue not yet sent
	err       error
	// The minimum rate: got counts the bytes since the deadline was last
	// set for the body (armed).
	got   int64
	armed bool
}

func (b *bodyReader) reset(n int64, expect bool) {
	b.remaining, b.expect, b.err, b.got, b.armed = n, expect && n > 0, nil, 0, false
}

// deadline sets the read deadline before a read that has to wait for the
// network. Reads of bytes already buffered (an invoke's body usually comes
// with its head) touch no deadline. The first wait starts a window of
// BodyReadWindow; a window in which BodyReadMin bytes came is followed by
// a new one; a window that brings less runs out and fails the read. With
// no minimum rate, the deadline left by the head is cleared.
func (b *bodyReader) deadline() {
	c := b.c
	w := c.srv.BodyReadWindow
	switch {
	case w <= 0:
		if !c.rdl.IsZero() {
			c.setReadDeadline(time.Time{})
		}
	case !b.armed || b.got >= c.srv.BodyReadMin:
		b.armed, b.got = true, 0
		c.setReadDeadline(time.Now().Add(w))
	}
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.remaining <= 0 {
		return 0, io.EOF
	}
	if b.expect {
		b.expect = false
		b.c.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n") //nolint:errcheck // Flush reports it
		if err := b.c.bw.Flush(); err != nil {
			b.err = err
			return 0, err
		}
	}
	if int64(len(p)) > b.remaining {
		p = p[:b.remaining]
	}
	if b.c.br.Buffered() == 0 {
		b.deadline()
	}
	n, err := b.c.br.Read(p)
	b.remaining -= int64(n)
	b.got += int64(n)
	switch {
	case err == io.EOF:
		err = io.ErrUnexpectedEOF // the peer closed before its announced body ended
	case err == nil && b.remaining == 0:
		err = io.EOF
	}
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

func (b *bodyReader) Close() error { return nil }

// handoffListener is the net.Listener that net/http serves: it yields the
// connections the fast loop hands over.
type handoffListener struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newHandoffListener(addr net.Addr) *handoffListener {
	return &handoffListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

// give passes c to net/http; false once the listener is closed.
func (l *handoffListener) give(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.done:
		return false
	}
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *handoffListener) Addr() net.Addr { return l.addr }

// bufferedConn is a connection whose first bytes wait in a reader: one the
// fast loop handed to net/http. Its state follows net/http's ConnState,
// for the cap.
type bufferedConn struct {
	net.Conn
	r     *bufio.Reader
	state atomic.Uint32 // a connState
	since atomic.Int64  // Unix nanoseconds
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
