package frontdoor

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestAcceptBackoff(t *testing.T) {
	var b acceptBackoff
	ms := time.Millisecond
	want := []time.Duration{5 * ms, 10 * ms, 20 * ms, 40 * ms, 80 * ms, 160 * ms, 320 * ms, 640 * ms, time.Second, time.Second}
	for i, w := range want {
		if got := b.next(); got != w {
			t.Fatalf("delay %d = %v, want %v", i, got, w)
		}
	}
	b.reset()
	if got := b.next(); got != 5*ms {
		t.Fatalf("after a success the delay is %v, want 5ms", got)
	}
}

func TestAcceptFatal(t *testing.T) {
	opErr := func(err error) error {
		return &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", err)}
	}
	for _, c := range []struct {
		name  string
		err   error
		fatal bool
		fds   bool
	}{
		{"EMFILE", opErr(syscall.EMFILE), false, true},
		{"ENFILE", opErr(syscall.ENFILE), false, true},
		{"ECONNABORTED", opErr(syscall.ECONNABORTED), false, false},
		{"ENOBUFS", opErr(syscall.ENOBUFS), false, false},
		{"ENOMEM", opErr(syscall.ENOMEM), false, false},
		{"timeout", opErr(os.ErrDeadlineExceeded), false, false},
		{"unforeseen", errors.New("something odd"), false, false},
		{"closed listener", opErr(net.ErrClosed), true, false},
	} {
		if got := acceptFatal(c.err); got != c.fatal {
			t.Errorf("%s: fatal = %v, want %v", c.name, got, c.fatal)
		}
		if got := outOfDescriptors(c.err); got != c.fds {
			t.Errorf("%s: out of descriptors = %v, want %v", c.name, got, c.fds)
		}
	}
}

func TestPickVictims(t *testing.T) {
	N, I, A := stateNew, stateIdle, stateActive
	for _, c := range []struct {
		name string
		cs   []candidate
		n    int
		want []int
	}{
		{"idle before headless, oldest first", []candidate{{N, 1}, {I, 5}, {A, 0}, {I, 3}, {N, 2}}, 3, []int{3, 1, 0}},
		{"only as many as asked", []candidate{{I, 9}, {I, 8}, {I, 7}}, 1, []int{2}},
		{"never an active one", []candidate{{A, 1}, {A, 2}, {N, 3}}, 3, []int{2}},
		{"all active: none", []candidate{{A, 1}, {A, 2}}, 2, nil},
		{"headless by age", []candidate{{N, 30}, {N, 10}, {N, 20}}, 2, []int{1, 2}},
		{"ties keep order", []candidate{{I, 1}, {I, 1}}, 2, []int{0, 1}},
		{"nothing open", nil, 4, nil},
	} {
		if got := pickVictims(c.cs, c.n); !slices.Equal(got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

func TestMaxConnsFor(t *testing.T) {
	for _, c := range []struct {
		soft uint64
		want int
	}{
		{20000, 9744}, {1024, 256}, {256, 64}, {0, 64}, {1 << 20, 1<<19 - 256}, {^uint64(0), 1<<29 - 256},
	} {
		if got := maxConnsFor(c.soft); got != c.want {
			t.Errorf("maxConnsFor(%d) = %d, want %d", c.soft, got, c.want)
		}
	}
}

// flakyListener fails its first Accepts with the errors given.
type flakyListener struct {
	net.Listener
	errs []error
	n    atomic.Int32
}

func (l *flakyListener) Accept() (net.Conn, error) {
	if i := int(l.n.Add(1)) - 1; i < len(l.errs) {
		return nil, l.errs[i]
	}
	return l.Listener.Accept()
}

// TestAcceptErrorsDoNotEndServe: the server that once stopped on EMFILE
// backs off and serves again.
func TestAcceptErrorsDoNotEndServe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	emfile := &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	fl := &flakyListener{Listener: ln, errs: []error{emfile, emfile, emfile, errors.New("odd")}}
	s := &Server{Handler: http.HandlerFunc(testHandler), Match: isFast}
	done := make(chan error, 1)
	go func() { done <- s.Serve(fl) }()
	t.Cleanup(func() { s.Close(); <-done })
	rc := dial(t, ln.Addr().String())
	rc.send(post("/x", "alive"))
	if _, body := rc.read(); body != "alive" {
		t.Fatalf("body %q", body)
	}
	select {
	case err := <-done:
		t.Fatalf("Serve returned %v", err)
	default:
	}
}

// limitServer starts a server with the flood limits set; block holds the
// requests to /hold until it is closed.
func limitServer(t *testing.T, s *Server) (addr string, block chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	block = make(chan struct{})
	s.Match = isFast
	s.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/hold") {
			<-block
		}
		testHandler(w, r)
	})
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		select {
		case <-block:
		default:
			close(block)
		}
		s.Close()
		<-done
	})
	return ln.Addr().String(), block
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestCapClosesIdleFirst fills the cap with a kept-alive connection, a
// connection that sent nothing and busy ones, then connects more: the idle
// one goes first, the headless one next, the busy ones never, and when
// only busy ones are left the newcomer is refused.
func TestCapClosesIdleFirst(t *testing.T) {
	s := &Server{MaxConns: 4, ReadHeaderTimeout: time.Minute, IdleTimeout: time.Minute}
	addr, block := limitServer(t, s)

	kept := dial(t, addr)
	kept.send(post("/x", "a"))
	kept.read() // now idle
	silent := dial(t, addr)
	waitFor(t, "2 connections", func() bool { return s.OpenConns() == 2 })
	busyFast := dial(t, addr)
	busyFast.send(post("/hold", "b"))
	busySlow := dial(t, addr)
	busySlow.send("GET /slow/hold HTTP/1.1\r\nHost: h\r\n\r\n")
	waitFor(t, "4 connections", func() bool { return s.OpenConns() == 4 })
	time.Sleep(50 * time.Millisecond) // let both requests start

	fifth := dial(t, addr)
	closedByServer(t, kept, "the idle connection")
	sixth := dial(t, addr)
	closedByServer(t, silent, "the oldest headless connection")
	fifth.send(post("/x", "5"))
	if _, body := fifth.read(); body != "5" {
		t.Fatalf("body %q", body)
	}
	seventh := dial(t, addr) // fifth is idle now: it goes
	closedByServer(t, fifth, "the idle connection")
	sixth.send(post("/hold", "6"))
	seventh.send(post("/hold", "7"))
	waitFor(t, "4 connections", func() bool { return s.OpenConns() == 4 })
	time.Sleep(50 * time.Millisecond)
	eighth := dial(t, addr) // every connection is busy: the newcomer goes
	closedByServer(t, eighth, "the newcomer")

	close(block)
	for _, rc := range []*rawConn{busyFast, busySlow, sixth, seventh} {
		if resp, _ := rc.read(); resp.StatusCode != 200 {
			t.Fatalf("a busy connection got %d", resp.StatusCode)
		}
	}
}

// closedByServer checks that the server closes rc within 3 s (a timeout of
// the client's own read is not a close).
func closedByServer(t *testing.T, rc *rawConn, what string) {
	t.Helper()
	rc.c.SetReadDeadline(time.Now().Add(3 * time.Second))
	_, err := rc.br.Read(make([]byte, 1))
	var ne net.Error
	if err == nil || errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("%s is still open (%v)", what, err)
	}
	rc.c.SetReadDeadline(time.Now().Add(10 * time.Second))
}

// TestIdleTimeout: a kept connection waiting for its next request is
// closed after IdleTimeout, on both paths.
func TestIdleTimeout(t *testing.T) {
	s := &Server{ReadHeaderTimeout: time.Minute, IdleTimeout: 200 * time.Millisecond}
	addr, _ := limitServer(t, s)
	for _, req := range []string{post("/x", "a"), "GET /slow HTTP/1.1\r\nHost: h\r\n\r\n"} {
		rc := dial(t, addr)
		rc.send(req)
		rc.read()
		start := time.Now()
		closedByServer(t, rc, "the idle connection")
		if d := time.Since(start); d < 150*time.Millisecond || d > 3*time.Second {
			t.Fatalf("idle connection closed after %v, want about 200ms", d)
		}
	}
	// Requests in a row within the timeout keep the connection.
	rc := dial(t, addr)
	for i := range 5 {
		rc.send(post("/x", fmt.Sprint(i)))
		if _, body := rc.read(); body != fmt.Sprint(i) {
			t.Fatalf("body %q", body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSlowloris: a head sent a byte at a time, slower than the header
// timeout allows in all, is cut off at the timeout, on a new connection
// and on a kept one.
func TestSlowloris(t *testing.T) {
	s := &Server{ReadHeaderTimeout: 300 * time.Millisecond, IdleTimeout: time.Minute}
	addr, _ := limitServer(t, s)
	for _, warm := range []bool{false, true} {
		rc := dial(t, addr)
		if warm {
			rc.send(post("/x", "a"))
			rc.read()
		}
		start := time.Now()
		head := post("/x", "a")
		var err error
		for i := 0; i < len(head) && err == nil; i++ {
			_, err = rc.c.Write([]byte{head[i]})
			time.Sleep(50 * time.Millisecond)
		}
		closedByServer(t, rc, "the slowloris")
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("warm=%v: closed after %v", warm, d)
		}
	}
}

// TestStalledBody: a body that stops coming is cut off within the body
// window, on both paths; a slow one that keeps the minimum rate is read
// to its end.
func TestStalledBody(t *testing.T) {
	s := &Server{ReadHeaderTimeout: time.Minute, IdleTimeout: time.Minute, BodyReadWindow: 500 * time.Millisecond, BodyReadMin: 10}
	addr, _ := limitServer(t, s)
	for _, path := range []string{"/x", "/slow"} {
		rc := dial(t, addr)
		rc.send(fmt.Sprintf("POST %s HTTP/1.1\r\nHost: h\r\nContent-Length: 1000\r\n\r\n", path))
		rc.send(strings.Repeat("x", 100))
		start := time.Now()
		resp, _ := rc.read()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(resp.Header.Get("X-Read-Error"), "timeout") {
			t.Fatalf("%s: got %d %q", path, resp.StatusCode, resp.Header.Get("X-Read-Error"))
		}
		closedByServer(t, rc, "the stalled body")
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("%s: stalled body cut after %v", path, d)
		}

		rc = dial(t, addr)
		rc.send(fmt.Sprintf("POST %s HTTP/1.1\r\nHost: h\r\nContent-Length: 60\r\n\r\n", path))
		for range 6 { // 10 bytes per 200ms: 1.2s in all, more than two windows
			rc.send(strings.Repeat("y", 10))
			time.Sleep(200 * time.Millisecond)
		}
		resp, body := rc.read()
		if resp.StatusCode != 200 || body != strings.Repeat("y", 60) {
			t.Fatalf("%s: slow body: %d %q", path, resp.StatusCode, body)
		}
	}
}

var _ io.Reader = (*rateBody)(nil)
