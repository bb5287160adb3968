package runtimeapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// worker is a minimal runtime worker: it polls /next and answers with
// answer(payload), or not at all when answer returns "".
func worker(t *testing.T, ctx context.Context, addr string, answer func(id string, payload []byte) string) {
	base := "http://" + addr + "/2018-06-01/runtime/invocation/"
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"next", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return
		}
		payload, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
		body := answer(id, payload)
		if body == "" {
			continue
		}
		post, err := http.Post(base+id+"/response", "application/json", strings.NewReader(body))
		if err != nil {
			return
		}
		post.Body.Close()
		if post.StatusCode != http.StatusAccepted {
			t.Errorf("/response answered %d", post.StatusCode)
		}
	}
}

// newServer starts a Runtime API server that the test closes at its end.
func newServer(t *testing.T, maxConcurrency int) *Server {
	t.Helper()
	s, err := NewServer(maxConcurrency)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(ErrorTypeExit) })
	return s
}

func newInvocation(id, payload string, timeout time.Duration) *Invocation {
	return &Invocation{ID: id, Payload: []byte(payload), Deadline: time.Now().Add(timeout)}
}

func TestInvokeRoundTripAndAdmission(t *testing.T) {
	s := newServer(t, 2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	release := make(chan struct{})
	for i := 0; i < 2; i++ {
		go worker(t, ctx, s.Addr(), func(id string, p []byte) string {
			if string(p) == `"hold"` {
				<-release
			}
			return `{"echo":` + string(p) + `}`
		})
	}
	<-s.Ready()

	inv := newInvocation("a", `1`, time.Second)
	if err := s.Invoke(ctx, inv); err != nil || string(inv.Response) != `{"echo":1}` || inv.FunctionError != "" {
		t.Fatalf("round trip: %v %s %q", err, inv.Response, inv.FunctionError)
	}

	// Two held invokes fill the EE; a third is refused at once.
	var wg sync.WaitGroup
	for _, id := range []string{"h1", "h2"} {
		wg.Add(1)
		go func() { defer wg.Done(); s.Invoke(ctx, newInvocation(id, `"hold"`, 5*time.Second)) }() //nolint:errcheck
	}
	for s.Slots().InFlight() < 2 {
		time.Sleep(time.Millisecond)
	}
	if err := s.Invoke(ctx, newInvocation("c", `3`, time.Second)); !errors.Is(err, ErrFull) {
		t.Fatalf("third invoke: %v, want ErrFull", err)
	}
	close(release)
	wg.Wait()
	if n := s.Slots().InFlight(); n != 0 {
		t.Fatalf("%d slots still taken", n)
	}
}

func TestTimeoutFailsAloneAndLateAnswerIsDropped(t *testing.T) {
	s := newServer(t, 4)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := 0; i < 4; i++ {
		go worker(t, ctx, s.Addr(), func(id string, p []byte) string {
			if string(p) == `"slow"` {
				time.Sleep(300 * time.Millisecond)
			}
			return string(p)
		})
	}
	<-s.Ready()
	slow := newInvocation("slow", `"slow"`, 50*time.Millisecond)
	if err := s.Invoke(ctx, slow); err != nil {
		t.Fatal(err)
	}
	if slow.FunctionError != "Unhandled" || slow.ErrorType != ErrorTypeTimeout {
		t.Fatalf("slow invoke: %q %q, want Unhandled %s", slow.FunctionError, slow.ErrorType, ErrorTypeTimeout)
	}
	// The timed-out invoke holds its worker until the late answer comes.
	if n := s.Slots().InFlight(); n != 1 {
		t.Fatalf("in flight after timeout: %d, want 1 (the worker is still busy)", n)
	}
	fast := newInvocation("fast", `"fast"`, time.Second)
	if err := s.Invoke(ctx, fast); err != nil || string(fast.Response) != `"fast"` {
		t.Fatalf("neighbour of a timeout: %v %s", err, fast.Response)
	}
	deadline := time.Now().Add(2 * time.Second)
	for s.Slots().InFlight() != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := s.Slots().InFlight(); n != 0 {
		t.Fatalf("late answer did not free the slot: %d in flight", n)
	}
	// Unknown ids get 202 too: aws-lambda-go exits on any other status.
	resp, err := http.Post("http://"+s.Addr()+"/2018-06-01/runtime/invocation/never-seen/response", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("orphaned answer: %d, want 202", resp.StatusCode)
	}
}

func TestCallerHangUpBeforeDispatchFreesTheSlot(t *testing.T) {
	s := newServer(t, 1)
	// No worker polls yet: the invoke waits in the queue.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := s.Invoke(ctx, newInvocation("gone", `1`, time.Second)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hang-up: %v", err)
	}
	wctx, wcancel := context.WithCancel(context.Background())
	defer wcancel()
	go worker(t, wctx, s.Addr(), func(id string, p []byte) string { return string(p) })
	// The abandoned invoke keeps its slot only until a worker polls and skips
	// it: until then no worker was free to take another invoke anyway.
	deadline := time.Now().Add(2 * time.Second)
	for s.Slots().InFlight() != 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	inv := newInvocation("next", `2`, time.Second)
	if err := s.Invoke(context.Background(), inv); err != nil || string(inv.Response) != `2` {
		t.Fatalf("invoke after a hang-up: %v %s", err, inv.Response)
	}
}

func TestCloseFailsInvokesInFlight(t *testing.T) {
	s := newServer(t, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go worker(t, ctx, s.Addr(), func(id string, p []byte) string { <-ctx.Done(); return "" })
	<-s.Ready()
	done := make(chan *Invocation)
	go func() {
		inv := newInvocation("x", `1`, 5*time.Second)
		s.Invoke(ctx, inv) //nolint:errcheck
		done <- inv
	}()
	for s.Slots().InFlight() == 0 {
		time.Sleep(time.Millisecond)
	}
	s.Close(ErrorTypeExit)
	inv := <-done
	if inv.FunctionError != "Unhandled" || inv.ErrorType != ErrorTypeExit {
		t.Fatalf("invoke on a dying EE: %q %q", inv.FunctionError, inv.ErrorType)
	}
	if err := s.Invoke(ctx, newInvocation("y", `1`, time.Second)); !errors.Is(err, ErrFull) && !errors.Is(err, ErrClosed) {
		t.Fatalf("invoke after Close: %v", err)
	}
}

// A worker that hangs up while parked on /next is forgotten: the next
// invoke goes to a live worker instead of waiting for its deadline.
func TestWorkerGoneWhileParkedIsForgotten(t *testing.T) {
	s := newServer(t, 2)
	gone, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(gone, "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n")
	<-s.Ready()
	waitParked(t, s, 1)
	gone.Close()
	waitParked(t, s, 0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go worker(t, ctx, s.Addr(), func(id string, p []byte) string { return string(p) })
	waitParked(t, s, 1)
	for i := range 3 {
		inv := newInvocation(fmt.Sprint("after-", i), `1`, 2*time.Second)
		start := time.Now()
		if err := s.Invoke(ctx, inv); err != nil || string(inv.Response) != `1` {
			t.Fatalf("invoke %d: %v %s %s", i, err, inv.Response, inv.ErrorType)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("invoke %d took %v: it went to the vanished worker first", i, d)
		}
	}
}

// A runtime that sends another request while its /next is still waiting
// (pipelining, which runtimes do not do) loses the connection rather than
// get an answer written into the middle of another.
func TestRequestWhileParkedEndsTheConnection(t *testing.T) {
	s := newServer(t, 1)
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const next = "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n"
	io.WriteString(c, next+next)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatalf("read %d bytes, want the connection closed", n)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.parked) != 0 {
		t.Fatalf("%d workers still parked", len(s.parked))
	}
}

// Payloads too large to write from the invoking goroutine go through a
// goroutine of their own and arrive whole.
func TestLargePayloadRoundTrip(t *testing.T) {
	s := newServer(t, 2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for range 2 {
		go worker(t, ctx, s.Addr(), func(id string, p []byte) string { return string(p) })
	}
	<-s.Ready()
	waitParked(t, s, 2)
	for _, size := range []int{inlinePayload, inlinePayload + 1, 1 << 20} {
		payload := `"` + strings.Repeat("x", size-2) + `"`
		inv := newInvocation(fmt.Sprint("big-", size), payload, 5*time.Second)
		if err := s.Invoke(ctx, inv); err != nil || string(inv.Response) != payload {
			t.Fatalf("%d bytes: %v, %d bytes back, error %q", size, err, len(inv.Response), inv.ErrorType)
		}
	}
}

// waitParked waits until n workers are parked on /next.
func waitParked(t *testing.T, s *Server, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		s.mu.Lock()
		got := len(s.parked)
		s.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d workers parked, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}
