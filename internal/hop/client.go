package hop

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/paddockhq/paddock/internal/runtimeapi"
)

// DefaultGrace is how long past an invocation's deadline a Client waits for
// the agent's answer: the agent answers a timed-out invoke itself at the
// deadline, so this covers the transfer of the answer and clock skew
// between the two machines.
const DefaultGrace = 10 * time.Second

const (
	// maxIdlePerAgent is how many idle connections a Client keeps to one
	// agent: as many as a busy router has in flight to it, or each burst
	// redials.
	maxIdlePerAgent = 256
	// idleTimeout closes a connection idle this long (under the agent's
	// ServerIdleTimeout, so that the agent seldom closes one first).
	idleTimeout = 90 * time.Second
	dialTimeout = 5 * time.Second
)

// Client is the router's end of the hop, shared by every EE of every agent.
//
// It keeps a pool of HTTP/1.1 connections per agent, and the goroutine of
// each invoke writes the request on one and reads the answer itself: no
// connection goroutines, no hand-offs (net/http's Transport passes every
// request to a write loop and every answer back from a read loop). A
// connection carries one invoke at a time and returns to the pool only
// after its answer was read whole; any failure closes it.
type Client struct {
	// Grace: see DefaultGrace. Zero means DefaultGrace.
	Grace time.Duration

	dialer net.Dialer
	mu     sync.Mutex
	pools  map[string]*pool    // by agent address, host:port (and its certificate's fingerprint, with TLS)
	slots  map[string]*muxSlot // by the pool's key and the upgrade request (which names the token)
	// sessions lets a router resume its TLS sessions with an agent, which
	// saves the handshake's signature on each new connection.
	sessions tls.ClientSessionCache
	// plainOnly sends every invoke as a request of its own (tests of the
	// plain hop).
	plainOnly bool
}

// NewClient returns a Client.
func NewClient() *Client {
	return &Client{sessions: tls.NewLRUClientSessionCache(1024), dialer: net.Dialer{
		Timeout: dialTimeout,
		// An invoke may hold its connection silent for 900 s: probes find
		// an agent machine that vanished without a reset in about 30 s,
		// rather than at the invoke's deadline.
		KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: 15 * time.Second, Interval: 5 * time.Second, Count: 3},
	}}
}

// CloseIdle closes the idle connections to every agent, and the
// multiplexed sessions that no invoke waits on.
func (c *Client) CloseIdle() {
	c.mu.Lock()
	pools := make([]*pool, 0, len(c.pools))
	for _, p := range c.pools {
		pools = append(pools, p)
	}
	slots := make([]*muxSlot, 0, len(c.slots))
	for _, sl := range c.slots {
		slots = append(slots, sl)
	}
	c.mu.Unlock()
	for _, p := range pools {
		p.reap(time.Time{}, true)
	}
	for _, sl := range slots {
		sl.mu.Lock()
		if s := sl.s; s != nil && s.idle() {
			s.close()
			sl.s = nil
		}
		sl.mu.Unlock()
	}
}

// Release forgets the connections to e's agent process: its pool, whose
// idle connections it closes, and its multiplexed session. The fleet calls
// it for an agent that restarted (a new token and certificate, so new
// keys: the old ones would stay in the maps for good) or left.
func (c *Client) Release(e *EE) {
	if e.err != nil {
		return
	}
	c.mu.Lock()
	p := c.pools[e.pool.key]
	delete(c.pools, e.pool.key)
	sl := c.slots[e.slotKey()]
	delete(c.slots, e.slotKey())
	c.mu.Unlock()
	if p != nil {
		p.reap(time.Time{}, true)
	}
	if sl != nil {
		sl.mu.Lock()
		if s := sl.s; s != nil {
			s.close()
			sl.s = nil
		}
		sl.mu.Unlock()
	}
}

// idleConns counts the idle connections of a pool, by its key: the
// agent's address, with its fingerprint after a space for TLS (for tests).
func (c *Client) idleConns(key string) int {
	p := c.pool(key)
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}

func (c *Client) pool(key string) *pool {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.pools[key]
	if p == nil {
		if c.pools == nil {
			c.pools = make(map[string]*pool)
		}
		p = &pool{key: key}
		c.pools[key] = p
	}
	return p
}

// pool is the idle connections to one agent, the most recently used last.
type pool struct {
	key   string // the Client's pools key
	mu    sync.Mutex
	idle  []*hopConn
	timer *time.Timer // reaps idle connections; nil when none is idle
}

// hopConn is one connection to an agent.
type hopConn struct {
	nc    net.Conn
	br    *bufio.Reader
	bw    *bufio.Writer
	since time.Time // idle since
}

var (
	readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}
	writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 4096) }}
)

func newHopConn(nc net.Conn) *hopConn {
	br := readerPool.Get().(*bufio.Reader)
	br.Reset(nc)
	bw := writerPool.Get().(*bufio.Writer)
	bw.Reset(nc)
	return &hopConn{nc: nc, br: br, bw: bw}
}

func (hc *hopConn) close() {
	hc.nc.Close()
	if hc.br != nil {
		hc.br.Reset(nil)
		readerPool.Put(hc.br)
		hc.bw.Reset(nil)
		writerPool.Put(hc.bw)
		hc.br, hc.bw = nil, nil
	}
}

// alive reports whether an idle connection can carry a request: the agent
// has not closed it (an agent that restarted, or timed it out) and sent
// nothing unasked. It costs a read that does not wait.
func (hc *hopConn) alive() bool {
	if hc.br.Buffered() > 0 {
		return false
	}
	nc := hc.nc
	if tc, ok := nc.(*tls.Conn); ok {
		// A TLS record waiting would be as unasked as a byte: the
		// session's tickets come before the first answer, which read them.
		nc = tc.NetConn()
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	alive := false
	var one [1]byte
	err = rc.Read(func(fd uintptr) bool {
		// A peek that does not wait: EAGAIN is the healthy answer; 0 is
		// the agent's FIN, a byte something unasked, an error a reset.
		n, _, err := syscall.Recvfrom(int(fd), one[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		alive = n < 0 && (err == syscall.EAGAIN || err == syscall.EWOULDBLOCK)
		return true
	})
	return err == nil && alive
}

// get returns an idle connection, or nil.
func (p *pool) get() *hopConn {
	for {
		p.mu.Lock()
		n := len(p.idle)
		if n == 0 {
			p.mu.Unlock()
			return nil
		}
		hc := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		if time.Since(hc.since) < idleTimeout && hc.alive() {
			return hc
		}
		hc.close()
	}
}

// put returns a connection whose exchange ended cleanly to the pool.
func (p *pool) put(hc *hopConn) {
	hc.since = time.Now()
	p.mu.Lock()
	if len(p.idle) >= maxIdlePerAgent {
		p.mu.Unlock()
		hc.close()
		return
	}
	p.idle = append(p.idle, hc)
	if p.timer == nil {
		p.timer = time.AfterFunc(idleTimeout, func() { p.reap(time.Now(), false) })
	}
	p.mu.Unlock()
}

// reap closes the connections idle since before now-idleTimeout (all of
// them with all), and schedules itself again while some remain.
func (p *pool) reap(now time.Time, all bool) {
	p.mu.Lock()
	var old []*hopConn
	keep := p.idle[:0]
	for _, hc := range p.idle {
		if all || now.Sub(hc.since) >= idleTimeout {
			old = append(old, hc)
		} else {
			keep = append(keep, hc)
		}
	}
	clear(p.idle[len(keep):])
	p.idle = keep
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	if len(p.idle) > 0 {
		next := idleTimeout - now.Sub(p.idle[0].since)
		if all {
			next = idleTimeout
		}
		p.timer = time.AfterFunc(max(next, time.Second), func() { p.reap(time.Now(), false) })
	}
	p.mu.Unlock()
	for _, hc := range old {
		hc.close()
	}
}

// EE is an execution environment on another machine, as the router sees it
// (a router.Target).
type EE struct {
	client *Client
	addr   string      // host:port
	tls    *tls.Config // pinned to the agent's certificate; nil for http
	pool   *pool       // the client's for addr (and the certificate)
	head   string      // request line, Host and Authorization, as sent
	// streamHead is head for an invoke whose answer is streamed (inv.Stream set).
	streamHead string
	muxHead    string // the upgrade to the multiplexed hop
	err        error  // an address or token that cannot be used
	id         string
	inFlight   atomic.Int64
}

// NewEE is the EE eeID on the agent at baseURL, reached with token: over
// TLS pinned to certSHA256 (the hex SHA-256 of the agent's certificate)
// for an https URL such as "https://10.0.0.7:9402", in the clear for http
// (an agent run with --hop-tls=false; certSHA256 empty).
func NewEE(client *Client, baseURL, token, certSHA256, eeID string) *EE {
	e := &EE{client: client, id: eeID}
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	var pinned *tls.Config
	if err == nil && u.Scheme == "https" {
		pinned, err = pinnedTLS(certSHA256, client.sessions)
	}
	switch {
	case err != nil:
		e.err = fmt.Errorf("agent URL %q: %w", baseURL, err)
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		e.err = fmt.Errorf("agent URL %q: want https://host:port (or http://)", baseURL)
	case u.Scheme == "http" && certSHA256 != "":
		e.err = fmt.Errorf("agent URL %q names no TLS, but the agent has a certificate", baseURL)
	case strings.ContainsFunc(token, func(r rune) bool { return r < 0x20 || r > 0x7e }):
		e.err = errors.New("the agent's token cannot go in a header")
	default:
		e.addr, e.tls = u.Host, pinned
		if u.Port() == "" && pinned != nil {
			e.addr = net.JoinHostPort(u.Hostname(), "443")
		} else if u.Port() == "" {
			e.addr = net.JoinHostPort(u.Hostname(), "80")
		}
		key := e.addr
		if pinned != nil {
			key += " " + certSHA256
		}
		e.pool = client.pool(key)
		rest := " HTTP/1.1\r\nHost: " + u.Host + "\r\nAuthorization: Bearer " + token + "\r\n"
		base := "POST " + u.EscapedPath() + pathPrefix + url.PathEscape(eeID)
		e.head, e.streamHead = base+pathSuffix+rest, base+pathStreamSuffix+rest
		e.muxHead = "POST " + u.EscapedPath() + pathMux + rest + "Connection: Upgrade\r\nUpgrade: " + muxProtocol + "\r\nContent-Length: 0\r\n\r\n"
	}
	return e
}

// ID is the EE's id on its agent.
func (e *EE) ID() string { return e.id }

// InFlight counts the invokes this router has on the EE.
func (e *EE) InFlight() int { return int(e.inFlight.Load()) }

// Invoke runs inv on the remote EE and fills its result fields.
//
// It returns runtimeapi.ErrFull or runtimeapi.ErrClosed only when the
// invoke certainly did not run (the agent refused it, or no connection
// could be made), so that the router may try another EE. Any failure once
// the request may have reached the agent is a plain error: the invoke may
// have been dispatched, and must not run twice (nothing is resent). ctx's
// error is returned when the caller gave up: its connection is closed at
// once, which cancels the invoke on the agent.
func (e *EE) Invoke(ctx context.Context, inv *runtimeapi.Invocation) error {
	e.inFlight.Add(1)
	defer e.inFlight.Add(-1)
	if e.err != nil {
		return fmt.Errorf("hop: invoke %s on EE %s: %w", inv.ID, e.id, e.err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	grace := e.client.Grace
	if grace <= 0 {
		grace = DefaultGrace
	}
	if !e.client.plainOnly && inv.Stream == nil && len(inv.Payload) <= muxMaxPayload {
		if err := e.invokeMux(ctx, inv, grace); !errors.Is(err, errNoMux) {
			return err
		}
	}

	p := e.pool
	hc := p.get()
	if hc == nil {
		nc, err := e.client.dial(ctx, e)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("hop: EE %s: %w: %w", e.id, runtimeapi.ErrClosed, err)
		}
		hc = newHopConn(nc)
	}
	// The whole exchange is bounded by the invocation's deadline plus the
	// grace; the caller's cancel closes the connection, which ends any
	// read or write in progress.
	hc.nc.SetDeadline(inv.Deadline.Add(grace)) //nolint:errcheck // a closed connection fails the write
	stop := context.AfterFunc(ctx, func() { hc.nc.Close() })
	reuse, err := e.exchange(hc, inv)
	if !stop() {
		reuse = false // closed by the cancel
		if err != nil {
			hc.close()
			return ctx.Err()
		}
	}
	if reuse {
		hc.nc.SetDeadline(time.Time{}) //nolint:errcheck
		p.put(hc)
	} else {
		hc.close()
	}
	return err
}

// exchange writes inv's request on hc and reads the answer. It reports
// whether the connection can carry another request.
func (e *EE) exchange(hc *hopConn, inv *runtimeapi.Invocation) (reuse bool, err error) {
	h := make(map[string][]string, 4)
	encodeRequest(h, inv)
	bw := hc.bw
	head := e.head
	if inv.Stream != nil {
		head = e.streamHead
	}
	bw.WriteString(head)                           //nolint:errcheck // Flush reports it
	bw.WriteString("Content-Length: ")             //nolint:errcheck
	bw.WriteString(strconv.Itoa(len(inv.Payload))) //nolint:errcheck
	bw.WriteString("\r\n")                         //nolint:errcheck
	for k, vs := range h {
		bw.WriteString(k)      //nolint:errcheck
		bw.WriteString(": ")   //nolint:errcheck
		bw.WriteString(vs[0])  //nolint:errcheck
		bw.WriteString("\r\n") //nolint:errcheck
	}
	bw.WriteString("\r\n") //nolint:errcheck
	bw.Write(inv.Payload)  //nolint:errcheck
	if err := bw.Flush(); err != nil {
		// Some of the request may have reached the agent: not retryable.
		return false, fmt.Errorf("hop: invoke %s on EE %s: send: %w", inv.ID, e.id, err)
	}

	resp, err := http.ReadResponse(hc.br, nil)
	if err != nil {
		return false, fmt.Errorf("hop: invoke %s on EE %s: read answer: %w", inv.ID, e.id, err)
	}
	// Reused only after a whole answer framed by its length, on a
	// connection the agent keeps.
	reuse = resp.ContentLength >= 0 && !resp.Close && resp.ProtoAtLeast(1, 1)

	switch resp.StatusCode {
	case http.StatusOK:
		if ct := first(resp.Header, hdrStreamType); ct != "" && inv.Stream != nil {
			if err := e.readStream(resp, ct, inv); err != nil {
				return false, fmt.Errorf("hop: invoke %s on EE %s: read answer: %w", inv.ID, e.id, err)
			}
			return !resp.Close && resp.ProtoAtLeast(1, 1), nil
		}
		body, err := readPayload(resp.Body, resp.ContentLength, maxAnswerBytes)
		if err != nil {
			return false, fmt.Errorf("hop: invoke %s on EE %s: read answer: %w", inv.ID, e.id, err)
		}
		if err := decodeResult(resp.Header, inv); err != nil {
			return false, fmt.Errorf("hop: invoke %s on EE %s: %w", inv.ID, e.id, err)
		}
		inv.Response = body
		return reuse, nil
	case http.StatusTooManyRequests:
		if first(resp.Header, hdrRefused) == refusedFull {
			return reuse && drain(resp.Body), runtimeapi.ErrFull
		}
	case http.StatusGone:
		if first(resp.Header, hdrRefused) == refusedClosed {
			return reuse && drain(resp.Body), fmt.Errorf("hop: EE %s: %w", e.id, runtimeapi.ErrClosed)
		}
	}
	// Any other answer closes the connection: the agent may close it too
	// (after a 401, without saying so on frontdoor's loop).
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	return false, fmt.Errorf("hop: invoke %s on EE %s: agent answered %s: %s", inv.ID, e.id, resp.Status, bytes.TrimSpace(msg))
}

// readStream passes a streamed answer's parts to inv.Stream as they come
// (a stream that refuses them gets no more; the rest is read), then takes
// the result fields from its trailers.
func (e *EE) readStream(resp *http.Response, contentType string, inv *runtimeapi.Invocation) error {
	buf := make([]byte, 32<<10)
	var n int64
	open := true
	for {
		m, err := resp.Body.Read(buf)
		if n += int64(m); n > runtimeapi.MaxStreamedResponseBytes+1<<20 {
			return errTooLarge
		}
		if m > 0 && open {
			open = inv.Stream.WriteStream(contentType, buf[:m]) == nil
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	if err := decodeResult(resp.Trailer, inv); err != nil {
		return err
	}
	if v := first(resp.Trailer, hdrErrorBody); v != "" {
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return fmt.Errorf("the error of a streamed answer: %w", err)
		}
		inv.Response = b
	}
	return nil
}

// drain reads the rest of a short body (a refusal's is empty) and reports
// whether it ended.
func drain(body io.Reader) bool {
	n, err := io.Copy(io.Discard, io.LimitReader(body, 4096))
	return err == nil && n < 4096
}
