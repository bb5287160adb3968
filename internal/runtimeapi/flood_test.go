package runtimeapi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestAcceptBackoff(t *testing.T) {
	for _, c := range []struct{ prev, want time.Duration }{
		{0, 5 * time.Millisecond},
		{5 * time.Millisecond, 10 * time.Millisecond},
		{320 * time.Millisecond, 640 * time.Millisecond},
		{640 * time.Millisecond, time.Second},
		{time.Second, time.Second},
	} {
		if got := acceptBackoff(c.prev); got != c.want {
			t.Errorf("after %v: %v, want %v", c.prev, got, c.want)
		}
	}
}

// flakyListener fails Accept with EMFILE errs times, then hands out one
// end of a pipe, then blocks until closed.
type flakyListener struct {
	mu     sync.Mutex
	errs   int
	calls  []time.Time
	conn   net.Conn
	closed chan struct{}
	once   sync.Once
}

func (l *flakyListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	l.calls = append(l.calls, time.Now())
	if l.errs > 0 {
		l.errs--
		l.mu.Unlock()
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	c := l.conn
	l.conn = nil
	l.mu.Unlock()
	if c != nil {
		return c, nil
	}
	<-l.closed
	return nil, net.ErrClosed
}

func (l *flakyListener) Close() error   { l.once.Do(func() { close(l.closed) }); return nil }
func (l *flakyListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9001} }

// Running out of file descriptors for a moment does not end the Runtime
// API: accept is retried with a growing backoff, and the connection that
// comes after is served.
func TestAcceptRetriesTemporaryErrors(t *testing.T) {
	server, client := net.Pipe()
	defer client.Close()
	ln := &flakyListener{errs: 4, conn: server, closed: make(chan struct{})}
	s := NewServerOn(ln, 1)
	defer s.Close(ErrorTypeExit)
	if s.Addr() != "127.0.0.1:9001" {
		t.Fatalf("Addr %q, want the listener's", s.Addr())
	}
	go io.WriteString(client, "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n")
	select {
	case <-s.Ready():
	case <-time.After(5 * time.Second):
		t.Fatal("the connection after the accept errors was not served")
	}
	ln.mu.Lock()
	calls := append([]time.Time(nil), ln.calls...)
	ln.mu.Unlock()
	if len(calls) < 5 {
		t.Fatalf("%d accept calls", len(calls))
	}
	want := 5 * time.Millisecond
	for i := 1; i < 5; i++ {
		if gap := calls[i].Sub(calls[i-1]); gap < want {
			t.Errorf("retry %d after %v, want at least %v", i, gap, want)
		}
		want *= 2
	}
}

// rawConn opens a TCP connection that sends nothing.
func rawConn(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedWithin reports whether the server closed c within d.
func closedWithin(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := c.Read(make([]byte, 1))
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false
	}
	return err != nil
}

// At the connection cap, idle connections are closed first, oldest first,
// and a real worker can still poll and answer.
func TestConnectionCapClosesIdleOnesFirst(t *testing.T) {
	const limit, extra = 8, 5
	s := newServerWith(t, 2, func(o *options) { o.maxConns = limit })
	var idle []net.Conn
	for range limit + extra {
		idle = append(idle, rawConn(t, s.Addr()))
		time.Sleep(time.Millisecond) // accept in order
	}
	for i, c := range idle[:extra] {
		if !closedWithin(c, 2*time.Second) {
			t.Fatalf("idle connection %d (of the oldest) still open", i)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go worker(t, ctx, s.Addr(), func(id string, p []byte) string { return string(p) })
	inv := newInvocation("capped", `1`, 5*time.Second)
	if err := s.Invoke(ctx, inv); err != nil || string(inv.Response) != `1` {
		t.Fatalf("invoke at the cap: %v %s %s", err, inv.Response, inv.ErrorType)
	}
	if n := s.conns.len(); n > limit {
		t.Fatalf("%d connections open, cap %d", n, limit)
	}
	if closedWithin(idle[len(idle)-1], 50*time.Millisecond) {
		t.Fatal("the newest idle connection was closed before older ones")
	}
}

// With every connection parked on /next, a new one is refused.
func TestConnectionCapRefusesWhenNoneIdle(t *testing.T) {
	s := newServerWith(t, 2, func(o *options) { o.maxConns = 2 })
	for range 2 {
		w := dialWorker(t, s.Addr())
		io.WriteString(w.c, "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n")
	}
	waitParked(t, s, 2)
	if c := rawConn(t, s.Addr()); !closedWithin(c, 2*time.Second) {
		t.Fatal("connection over the cap accepted")
	}
	waitParked(t, s, 2)
}

// An idle connection and a slowloris one are closed at the idle timeout; a
// worker parked on /next is not, however long it waits.
func TestIdleTimeoutSparesParkedWorkers(t *testing.T) {
	const idleFor = 200 * time.Millisecond
	s := newServerWith(t, 1, func(o *options) { o.idleTimeout, o.sweepInterval = idleFor, 10*time.Millisecond })
	parked := dialWorker(t, s.Addr())
	got := make(chan string, 1)
	go func() { id, _ := parked.next(); got <- id }()
	waitParked(t, s, 1)

	start := time.Now()
	idle := rawConn(t, s.Addr())
	slow := rawConn(t, s.Addr())
	io.WriteString(slow, "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n")
	stop := make(chan struct{})
	defer close(stop)
	go func() { // a header line every 20 ms, never the end of the headers
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
				if _, err := fmt.Fprintf(slow, "X-%d: y\r\n", i); err != nil {
					return
				}
			}
		}
	}()
	if !closedWithin(idle, 2*time.Second) {
		t.Fatal("idle connection not closed")
	}
	if d := time.Since(start); d < idleFor {
		t.Fatalf("idle connection closed after %v, before the %v timeout", d, idleFor)
	}
	if !closedWithin(slow, 2*time.Second) {
		t.Fatal("slowloris connection not closed")
	}
	time.Sleep(2 * idleFor)
	waitParked(t, s, 1)
	inv := newInvocation("late-poll", `1`, time.Second)
	go s.Invoke(context.Background(), inv) //nolint:errcheck
	if id := <-got; id != "late-poll" {
		t.Fatalf("parked worker got %q", id)
	}
	if code := parked.respond("late-poll", `"ok"`); code != http.StatusAccepted {
		t.Fatalf("answer: %d", code)
	}
}

// A /response body that stalls is closed at the stall timeout; one that
// trickles but progresses is read to its end.
func TestBodyStallTimeout(t *testing.T) {
	const stall = 600 * time.Millisecond // far above the 40 ms between the slow body's bytes, for loaded machines
	s := newServerWith(t, 1, func(o *options) {
		o.bodyStallTimeout, o.idleTimeout, o.sweepInterval = stall, time.Hour, 10*time.Millisecond
	})
	stalled := rawConn(t, s.Addr())
	io.WriteString(stalled, "POST /2018-06-01/runtime/invocation/x/response HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
	if !closedWithin(stalled, 5*time.Second) {
		t.Fatal("stalled body not closed")
	}

	slow := dialWorker(t, s.Addr())
	body := bytes.Repeat([]byte("z"), 20)
	fmt.Fprintf(slow.c, "POST /2018-06-01/runtime/invocation/y/response HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", len(body))
	for _, b := range body { // 20 bytes over 0.8 s: longer than the stall timeout in all, never a gap as long
		time.Sleep(40 * time.Millisecond)
		if _, err := slow.c.Write([]byte{b}); err != nil {
			t.Fatalf("slow body cut: %v", err)
		}
	}
	resp, err := http.ReadResponse(slow.br, nil)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("slow body: %v %v", err, resp)
	}
	resp.Body.Close()
}

// Evidence for why a connection's close does not mean its invoke is
// abandoned: net/http's transport, which aws-lambda-go uses with its
// defaults (2 idle connections per host), closes the connection that
// carried an invoke as soon as it has read it when 2 others are idle,
// while the handler still runs; the answer comes on another connection.
func TestGoClientClosesInvokeConnectionsWhileHandlersRun(t *testing.T) {
	const workers = 4
	inner, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &watchListener{Listener: inner}
	s := NewServerOn(ln, workers)
	defer s.Close(ErrorTypeExit)

	// As aws-lambda-go's newRuntimeAPIClient builds it.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	client := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()
	base := "http://" + s.Addr() + "/2018-06-01/runtime/invocation/"
	var received sync.WaitGroup
	received.Add(workers)
	release := make(chan struct{})
	for range workers {
		go func() {
			resp, err := client.Get(base + "next")
			if err != nil {
				t.Error(err)
				return
			}
			payload, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
			received.Done()
			<-release // the handler runs
			post, err := client.Post(base+id+"/response", "application/json", bytes.NewReader(payload))
			if err != nil {
				t.Error(err)
				return
			}
			post.Body.Close()
		}()
	}
	<-s.Ready()
	waitParked(t, s, workers)
	invs := make([]*Invocation, workers)
	var done sync.WaitGroup
	for i := range invs {
		invs[i] = newInvocation(fmt.Sprint("w", i), fmt.Sprint(i), 5*time.Second)
		done.Add(1)
		go func() { defer done.Done(); s.Invoke(context.Background(), invs[i]) }() //nolint:errcheck
	}
	received.Wait()
	time.Sleep(100 * time.Millisecond) // let the transport put back or close
	closedEarly := ln.closedAfterInvoke()
	close(release)
	done.Wait()
	for _, inv := range invs {
		if inv.FunctionError != "" || string(inv.Response) != string(inv.Payload) {
			t.Fatalf("invoke %s: %q %s", inv.ID, inv.ErrorType, inv.Response)
		}
	}
	t.Logf("%d of %d connections that carried an invoke were closed by the client before its handler answered", closedEarly, workers)
	if closedEarly < workers-2 {
		t.Fatalf("%d invoke connections closed early, want at least %d", closedEarly, workers-2)
	}
}

// watchListener records, for each connection, whether an invoke was
// written to it and whether the client then closed it.
type watchListener struct {
	net.Listener
	mu    sync.Mutex
	conns []*watchConn
}

type watchConn struct {
	net.Conn
	mu      sync.Mutex
	invoked bool
	eof     bool
}

func (l *watchListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	wc := &watchConn{Conn: c}
	l.mu.Lock()
	l.conns = append(l.conns, wc)
	l.mu.Unlock()
	return wc, nil
}

func (l *watchListener) closedAfterInvoke() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, c := range l.conns {
		c.mu.Lock()
		if c.invoked && c.eof {
			n++
		}
		c.mu.Unlock()
	}
	return n
}

func (c *watchConn) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("Lambda-Runtime-Aws-Request-Id")) {
		c.mu.Lock()
		c.invoked = true
		c.mu.Unlock()
	}
	return c.Conn.Write(p)
}

func (c *watchConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err == io.EOF {
		c.mu.Lock()
		c.eof = true
		c.mu.Unlock()
	}
	return n, err
}
