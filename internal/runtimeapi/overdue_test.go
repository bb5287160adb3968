package runtimeapi

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// newServerWith starts a server on loopback with shortened limits.
func newServerWith(t *testing.T, maxConcurrency int, set func(*options)) *Server {
	t.Helper()
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opt := defaultOptions(maxConcurrency)
	set(&opt)
	s := newServerOn(ln, maxConcurrency, opt)
	t.Cleanup(func() { s.Close(ErrorTypeExit) })
	return s
}

// rawWorker is a runtime worker on a plain TCP connection, for workers
// that misbehave.
type rawWorker struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialWorker(t *testing.T, addr string) *rawWorker {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawWorker{t: t, c: c, br: bufio.NewReader(c)}
}

// next polls /next and returns the invoke's id and payload. It may run
// in a goroutine of its own.
func (w *rawWorker) next() (string, string) {
	w.t.Helper()
	io.WriteString(w.c, "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(w.br, nil)
	if err != nil {
		w.t.Errorf("/next: %v", err)
		return "", ""
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.Header.Get("Lambda-Runtime-Aws-Request-Id"), string(body)
}

// respond posts body as id's response and returns the status.
func (w *rawWorker) respond(id, body string) int {
	w.t.Helper()
	fmt.Fprintf(w.c, "POST /2018-06-01/runtime/invocation/%s/response HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", id, len(body), body)
	resp, err := http.ReadResponse(w.br, nil)
	if err != nil {
		w.t.Errorf("/response: %v", err)
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func waitInFlight(t *testing.T, s *Server, n int, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for s.Slots().InFlight() != n {
		if time.Since(start) > within {
			t.Fatalf("in flight %d after %v, want %d", s.Slots().InFlight(), within, n)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return time.Since(start)
}

// A worker that takes an invoke and never answers: the caller gets the
// timeout at the deadline, the slot comes back at deadline plus grace, and
// the late answer is accepted and changes nothing.
func TestHeldInvokeSlotComesBackAfterGrace(t *testing.T) {
	const grace, sweep = 200 * time.Millisecond, 20 * time.Millisecond
	s := newServerWith(t, 2, func(o *options) { o.overdueGrace, o.sweepInterval, o.stuckQuiet = grace, sweep, time.Hour })
	thief := dialWorker(t, s.Addr())
	got := make(chan string, 1)
	go func() { id, _ := thief.next(); got <- id }()
	<-s.Ready()
	waitParked(t, s, 1)

	const timeout = 100 * time.Millisecond
	inv := newInvocation("held", `1`, timeout)
	start := time.Now()
	if err := s.Invoke(context.Background(), inv); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if inv.ErrorType != ErrorTypeTimeout || took < timeout-5*time.Millisecond || took > timeout+time.Second {
		t.Fatalf("held invoke: %q after %v, want %s at %v", inv.ErrorType, took, ErrorTypeTimeout, timeout)
	}
	if id := <-got; id != "held" {
		t.Fatalf("thief got %q", id)
	}
	if n := s.Slots().InFlight(); n != 1 && time.Since(inv.Deadline) < grace/2 {
		t.Fatalf("in flight right after the timeout: %d, want 1 (still within grace)", n)
	}
	waitInFlight(t, s, 0, grace+4*sweep+2*time.Second)
	if freedAfter := time.Since(inv.Deadline); freedAfter < grace {
		t.Fatalf("slot freed %v after the deadline, before the grace of %v", freedAfter, grace)
	}

	// A new invoke is admitted and served by a working worker.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go worker(t, ctx, s.Addr(), func(id string, p []byte) string { return string(p) })
	next := newInvocation("after", `2`, 2*time.Second)
	if err := s.Invoke(ctx, next); err != nil || string(next.Response) != `2` {
		t.Fatalf("invoke after the slot came back: %v %s %s", err, next.Response, next.ErrorType)
	}
	waitInFlight(t, s, 0, time.Second)

	// The late answer: 202, no slot released twice, the caller's answer
	// untouched.
	if code := thief.respond("held", `"forged"`); code != http.StatusAccepted {
		t.Fatalf("late answer: %d, want 202", code)
	}
	if n := s.Slots().InFlight(); n != 0 {
		t.Fatalf("in flight after the late answer: %d, want 0", n)
	}
	if inv.ErrorType != ErrorTypeTimeout || strings.Contains(string(inv.Response), "forged") {
		t.Fatalf("late answer changed the invoke: %s %s", inv.ErrorType, inv.Response)
	}
	// Both slots are usable: never more than max, never negative.
	for range 2 {
		if !s.Slots().TryAcquire() {
			t.Fatal("slot refused")
		}
	}
	if s.Slots().TryAcquire() {
		t.Fatal("third slot admitted on a max-2 EE")
	}
	s.Slots().Release()
	s.Slots().Release()
}

// A caller that hangs up on a dispatched invoke: the slot comes back at
// the deadline plus grace too, not only when the worker answers.
func TestHungUpInvokeSlotComesBackAfterGrace(t *testing.T) {
	const grace, sweep = 100 * time.Millisecond, 10 * time.Millisecond
	s := newServerWith(t, 1, func(o *options) { o.overdueGrace, o.sweepInterval, o.stuckQuiet = grace, sweep, time.Hour })
	thief := dialWorker(t, s.Addr())
	go thief.next()
	<-s.Ready()
	waitParked(t, s, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	inv := newInvocation("gone", `1`, 150*time.Millisecond)
	if err := s.Invoke(ctx, inv); err != context.DeadlineExceeded {
		t.Fatalf("hang-up: %v", err)
	}
	waitInFlight(t, s, 0, 150*time.Millisecond+grace+time.Second)
	if d := time.Since(inv.Deadline); d < grace {
		t.Fatalf("slot freed %v after the deadline, before the grace", d)
	}
}

// Overdue invokes still queued (no worker ever took them) lose their slot
// too: an EE whose workers are all stuck keeps admitting and failing new
// invokes rather than filling up for ever.
func TestQueuedAbandonedInvokeSlotComesBack(t *testing.T) {
	const grace, sweep = 50 * time.Millisecond, 10 * time.Millisecond
	s := newServerWith(t, 2, func(o *options) { o.overdueGrace, o.sweepInterval, o.stuckQuiet = grace, sweep, time.Hour })
	for i := range 2 {
		inv := newInvocation(fmt.Sprint("q", i), `1`, 30*time.Millisecond)
		if err := s.Invoke(context.Background(), inv); err != nil || inv.ErrorType != ErrorTypeTimeout {
			t.Fatalf("queued invoke: %v %q", err, inv.ErrorType)
		}
	}
	waitInFlight(t, s, 0, time.Second)
	s.mu.Lock()
	q := len(s.queued)
	s.mu.Unlock()
	if q != 0 {
		t.Fatalf("%d invokes still queued", q)
	}
	// A worker polling now gets nothing stale.
	w := dialWorker(t, s.Addr())
	got := make(chan string, 1)
	go func() { id, _ := w.next(); got <- id }()
	waitParked(t, s, 1)
	done := make(chan error, 1)
	inv := newInvocation("fresh", `1`, time.Second)
	go func() { done <- s.Invoke(context.Background(), inv) }()
	if id := <-got; id != "fresh" {
		t.Fatalf("worker got %q, want fresh", id)
	}
	w.respond("fresh", `"ok"`)
	if err := <-done; err != nil || string(inv.Response) != `"ok"` {
		t.Fatalf("fresh invoke: %v %s", err, inv.Response)
	}
}

// Many invokes time out under many stuck and answering workers at once:
// slots never go negative or past max, and all come back.
func TestOverdueUnderRace(t *testing.T) {
	const max = 8
	s := newServerWith(t, max, func(o *options) {
		o.overdueGrace, o.sweepInterval, o.stuckQuiet = 5*time.Millisecond, 2*time.Millisecond, time.Hour
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := range max {
		go worker(t, ctx, s.Addr(), func(id string, p []byte) string {
			// Answers late, after the grace, half of the time.
			if i%2 == 0 {
				time.Sleep(30 * time.Millisecond)
			}
			return string(p)
		})
	}
	<-s.Ready()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				inv := newInvocation(fmt.Sprintf("r%d-%d", g, i), `1`, 10*time.Millisecond)
				if s.Invoke(ctx, inv) == ErrFull {
					time.Sleep(time.Millisecond)
				}
				if n := s.Slots().InFlight(); n < 0 || n > max {
					t.Errorf("in flight %d", n)
				}
			}
		}()
	}
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	cancel()
	waitInFlight(t, s, 0, 2*time.Second)
}

func TestStuckRule(t *testing.T) {
	for _, c := range []struct {
		name                 string
		overdue, max, parked int
		quietFor             time.Duration
		want                 bool
	}{
		{"every worker overdue, quiet", 4, 4, 0, 3 * time.Second, true},
		{"one worker still answering", 3, 4, 0, 3 * time.Second, false},
		{"a worker parked on /next", 4, 4, 1, 3 * time.Second, false},
		{"a poll or answer just now", 4, 4, 0, time.Second, false},
		{"quiet but nothing overdue", 0, 4, 0, time.Hour, false},
		{"no slots", 0, 0, 0, time.Hour, false},
		{"default mode, its one worker stuck", 1, 1, 0, 2 * time.Second, true},
	} {
		if got := stuckRule(c.overdue, c.max, c.parked, c.quietFor, 2*time.Second); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	// The quiet time restarts with any activity.
	var st stuckState
	t0 := time.Now()
	if st.update(t0, 7, 2, 2, 0, time.Second) {
		t.Error("stuck at the first sweep")
	}
	if !st.update(t0.Add(time.Second), 7, 2, 2, 0, time.Second) {
		t.Error("not stuck after a quiet second")
	}
	if st.update(t0.Add(1500*time.Millisecond), 8, 2, 2, 0, time.Second) {
		t.Error("stuck right after a poll")
	}
}

// Every worker holds an invoke past its deadline and grace: Stuck fires.
func TestStuckWhenEveryWorkerHoldsAnOverdueInvoke(t *testing.T) {
	s := newServerWith(t, 2, func(o *options) {
		o.overdueGrace, o.sweepInterval, o.stuckQuiet = 50*time.Millisecond, 10*time.Millisecond, 100*time.Millisecond
	})
	for range 2 {
		w := dialWorker(t, s.Addr())
		go w.next() // and never answers
	}
	<-s.Ready()
	waitParked(t, s, 2)
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.Invoke(context.Background(), newInvocation(fmt.Sprint("s", i), `1`, 50*time.Millisecond)) //nolint:errcheck
		}()
	}
	wg.Wait()
	select {
	case <-s.Stuck():
	case <-time.After(2 * time.Second):
		t.Fatal("Stuck not closed")
	}
}

// A slow EE whose workers answer, even after their deadline and grace,
// is never stuck; nor is one with a worker left.
func TestSlowButAnsweringIsNotStuck(t *testing.T) {
	s := newServerWith(t, 2, func(o *options) {
		o.overdueGrace, o.sweepInterval, o.stuckQuiet = 30*time.Millisecond, 10*time.Millisecond, 300*time.Millisecond
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for range 2 {
		go worker(t, ctx, s.Addr(), func(id string, p []byte) string {
			time.Sleep(150 * time.Millisecond) // past deadline and grace, within the quiet time
			return string(p)
		})
	}
	<-s.Ready()
	end := time.Now().Add(1500 * time.Millisecond)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(end); i++ {
				inv := newInvocation(fmt.Sprintf("slow%d-%d", g, i), `1`, 40*time.Millisecond)
				if s.Invoke(ctx, inv) == ErrFull {
					time.Sleep(5 * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	select {
	case <-s.Stuck():
		t.Fatal("Stuck closed for an EE whose workers answer")
	case <-time.After(400 * time.Millisecond):
	}
}
