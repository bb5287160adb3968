package hop

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paddockhq/paddock/internal/router"
	"github.com/paddockhq/paddock/internal/runtimeapi"
)

// The two ends fit what they stand between.
var (
	_ router.Target = (*EE)(nil)
	_ Invoker       = (*runtimeapi.Server)(nil)
)

func TestRequestHeadersRoundTrip(t *testing.T) {
	deadline := time.UnixMilli(1700000000123)
	for _, tc := range []struct {
		name string
		inv  *runtimeapi.Invocation
	}{
		{"id only", &runtimeapi.Invocation{ID: "req-1"}},
		{"all fields", &runtimeapi.Invocation{
			ID:              "8476a536-e9f4-11e8-9739-2dfe598c3fcd",
			FunctionARN:     "arn:aws:lambda:us-east-1:123456789012:function:echo:$LATEST",
			ClientContext:   `eyJjdXN0b20iOnsiYSI6MX19`,
			CognitoIdentity: `{"cognitoIdentityId":"id","cognitoIdentityPoolId":"pool"}`,
			TraceID:         "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1",
			WantLog:         true,
		}},
		{"not header-safe", &runtimeapi.Invocation{
			ID:              "req-2",
			ClientContext:   "line one\r\nInjected: yes",
			CognitoIdentity: " edge spaces ",
			TraceID:         "naïve ✓",
			FunctionARN:     b64Prefix + "looks encoded",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.inv
			in.Deadline = deadline
			h := http.Header{}
			encodeRequest(h, in)
			var out runtimeapi.Invocation
			if err := decodeRequest(overTheWire(t, h), &out); err != nil {
				t.Fatal(err)
			}
			if out.ID != in.ID || !out.Deadline.Equal(in.Deadline) || out.FunctionARN != in.FunctionARN ||
				out.ClientContext != in.ClientContext || out.CognitoIdentity != in.CognitoIdentity || out.TraceID != in.TraceID ||
				out.WantLog != in.WantLog {
				t.Fatalf("round trip:\n got %q %v %q %q %q %q\nwant %q %v %q %q %q %q",
					out.ID, out.Deadline, out.FunctionARN, out.ClientContext, out.CognitoIdentity, out.TraceID,
					in.ID, in.Deadline, in.FunctionARN, in.ClientContext, in.CognitoIdentity, in.TraceID)
			}
		})
	}
}

func TestResultHeadersRoundTrip(t *testing.T) {
	at := time.Unix(1700000000, 123456789)
	long := strings.Repeat("x", 3000)
	for _, tc := range []struct {
		name                     string
		functionError, errorType string
		dispatched, answered     time.Time
		log, wantLog             []string
	}{
		{"success", "", "", at, at.Add(3 * time.Millisecond), nil, nil},
		{"function error", "Unhandled", "MyError", at, at.Add(time.Second), nil, nil},
		{"never dispatched", "Unhandled", runtimeapi.ErrorTypeTimeout, time.Time{}, time.Time{}, nil, nil},
		{"odd error type", "Unhandled", "Erreur\nsur deux lignes ✗", at, time.Time{}, nil, nil},
		{"log lines", "", "", at, at, []string{"hello", "wörld\r ✓", ""}, []string{"hello", "wörld\r ✓", ""}},
		{"log past 4 KB: its tail", "", "", at, at, []string{"first " + long, "second " + long}, []string{long[len(long)-(4096-len("second "+long)-1):], "second " + long}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := &runtimeapi.Invocation{FunctionError: tc.functionError, ErrorType: tc.errorType, Answered: tc.answered, Log: tc.log}
			in.SetDispatched(tc.dispatched)
			h := http.Header{}
			encodeResult(h, in)
			out := &runtimeapi.Invocation{}
			if err := decodeResult(overTheWire(t, h), out); err != nil {
				t.Fatal(err)
			}
			if out.FunctionError != tc.functionError || out.ErrorType != tc.errorType ||
				!out.Dispatched().Equal(tc.dispatched) || !out.Answered.Equal(tc.answered) || !slices.Equal(out.Log, tc.wantLog) {
				t.Fatalf("round trip: got %q %q %v %v %q", out.FunctionError, out.ErrorType, out.Dispatched(), out.Answered, out.Log)
			}
		})
	}
}

func TestDecodeRejectsBadHeaders(t *testing.T) {
	for name, h := range map[string]http.Header{
		"no id":        {hdrDeadline: {"1"}},
		"no deadline":  {hdrRequestID: {"a"}},
		"bad deadline": {hdrRequestID: {"a"}, hdrDeadline: {"soon"}},
		"bad base64":   {hdrRequestID: {"a"}, hdrDeadline: {"1"}, hdrTraceID: {b64Prefix + "!!"}},
	} {
		if err := decodeRequest(h, &runtimeapi.Invocation{}); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

// overTheWire writes h as an HTTP header block and parses it back, as the
// far end would.
func overTheWire(t *testing.T, h http.Header) map[string][]string {
	t.Helper()
	var buf bytes.Buffer
	if err := h.Write(&buf); err != nil {
		t.Fatal(err)
	}
	buf.WriteString("\r\n")
	m, err := textproto.NewReader(bufio.NewReader(&buf)).ReadMIMEHeader()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// answer is what the test runtime does with one invoke: post body to
// /response or (isError) /error; hold, when not nil, is waited on first.
type answer struct {
	body    string
	isError bool
	hold    <-chan struct{}
}

// worker is a minimal runtime worker, as in runtimeapi's tests: it polls
// /next and answers each invoke as decide says.
func worker(ctx context.Context, addr string, decide func(payload []byte) answer) {
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
		a := decide(payload)
		if a.hold != nil {
			select {
			case <-a.hold:
			case <-ctx.Done():
				return
			}
		}
		path, header := "/response", ""
		if a.isError {
			path, header = "/error", "MyError"
		}
		post, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+id+path, strings.NewReader(a.body))
		if header != "" {
			post.Header.Set("Lambda-Runtime-Function-Error-Type", header)
		}
		resp, err = http.DefaultClient.Do(post)
		if err != nil {
			return
		}
		resp.Body.Close()
	}
}

// recorder is the agent's view of its EE: it counts invokes and reports
// what each returned.
type recorder struct {
	inner Invoker
	calls atomic.Int32
	errs  chan error
}

func (r *recorder) Invoke(ctx context.Context, inv *runtimeapi.Invocation) error {
	r.calls.Add(1)
	err := r.inner.Invoke(ctx, inv)
	select {
	case r.errs <- err:
	default:
	}
	return err
}

// rig is a runtime API server with its workers, an agent serving it as EE
// "ee1" over loopback HTTP, and a hop.EE in front.
type rig struct {
	srv   *runtimeapi.Server
	rec   *recorder
	agent *agentServer
	ee    *EE
}

// agentServer is a Handler served by a Server (the agent's way) or, with
// slow, by net/http alone, on a loopback port.
type agentServer struct {
	URL  string
	Addr string
	Cert string // the SHA-256 of its certificate, with TLS
	h    *Handler
	srv  *Server
	std  *httptest.Server
}

func startAgent(t testing.TB, h *Handler, slow bool) *agentServer {
	t.Helper()
	if slow {
		std := httptest.NewServer(h)
		t.Cleanup(std.Close)
		return &agentServer{URL: std.URL, Addr: std.Listener.Addr().String(), h: h, std: std}
	}
	return serveAgent(t, h, false)
}

// serveAgent serves h with a Server, as the agent does: over TLS with a
// certificate of its own when withTLS is set.
func serveAgent(t testing.TB, h *Handler, withTLS bool) *agentServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := &agentServer{URL: "http://" + ln.Addr().String(), Addr: ln.Addr().String(), h: h}
	if withTLS {
		cert, fp, err := NewServerCert()
		if err != nil {
			t.Fatal(err)
		}
		ln = tls.NewListener(ln, ServerTLS(cert))
		a.URL, a.Cert = "https://"+a.Addr, fp
	}
	a.srv = NewServer(h)
	done := make(chan struct{})
	go func() { defer close(done); a.srv.Serve(ln) }() //nolint:errcheck
	t.Cleanup(func() { a.srv.Close(); <-done })
	return a
}

// kill closes the agent's connections at once, as its death would.
func (a *agentServer) kill() {
	if a.std != nil {
		a.std.Listener.Close()
		a.std.CloseClientConnections()
		return
	}
	a.srv.mu.Lock()
	defer a.srv.mu.Unlock()
	for _, e := range a.srv.conns {
		if e.conn != nil {
			nc := e.conn.Conn
			if tc, ok := nc.(*tls.Conn); ok {
				nc = tc.NetConn() // a reset, not a close_notify
			}
			nc.Close()
		}
	}
}

// servers are the two ways a Handler is served in the tests.
var servers = []struct {
	name string
	slow bool
}{{"frontdoor", false}, {"net/http", true}}

const testToken = "s3cret-token"

// hopMode is how a Client sends an invoke that fits a frame: over the
// agent's multiplexed session, or as a request of its own (plain); over
// TLS or in the clear.
type hopMode struct{ plain, tls bool }

var (
	muxHop   = hopMode{}
	plainHop = hopMode{plain: true}
	hops     = []struct {
		name string
		mode hopMode
	}{{"mux", muxHop}, {"plain", plainHop}, {"mux+tls", hopMode{tls: true}}, {"plain+tls", hopMode{plain: true, tls: true}}}
)

// eachHop runs test once for each of hops.
func eachHop(t *testing.T, test func(t *testing.T, m hopMode)) {
	for _, h := range hops {
		t.Run(h.name, func(t *testing.T) { test(t, h.mode) })
	}
}

// newClient is a Client that sends every invoke as a request of its own
// when plain is set.
func newClient(plain bool) *Client {
	c := NewClient()
	c.plainOnly = plain
	return c
}

func newRig(t *testing.T, m hopMode, maxConcurrency int, decide func(payload []byte) answer) *rig {
	t.Helper()
	srv, err := runtimeapi.NewServer(maxConcurrency)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range maxConcurrency {
		wg.Go(func() { worker(ctx, srv.Addr(), decide) })
	}
	rec := &recorder{inner: srv, errs: make(chan error, 16)}
	t.Cleanup(func() {
		cancel()
		srv.Close(runtimeapi.ErrorTypeExit) // ends invokes still held, so the agent can close
		wg.Wait()
	})
	agent := serveAgent(t, &Handler{Token: testToken, Lookup: func(id string) Invoker {
		if id == "ee1" {
			return rec
		}
		return nil
	}}, m.tls)
	select {
	case <-srv.Ready():
	case <-time.After(5 * time.Second):
		t.Fatal("workers did not poll")
	}
	return &rig{srv: srv, rec: rec, agent: agent, ee: NewEE(newClient(m.plain), agent.URL, testToken, agent.Cert, "ee1")}
}

func echo(p []byte) answer { return answer{body: string(p)} }

func newInv(id, payload string, timeout time.Duration) *runtimeapi.Invocation {
	return &runtimeapi.Invocation{ID: id, Payload: []byte(payload), Deadline: time.Now().Add(timeout),
		FunctionARN: "arn:aws:lambda:us-east-1:123456789012:function:echo", TraceID: "Root=1-abc"}
}

func retryable(err error) bool {
	return errors.Is(err, runtimeapi.ErrFull) || errors.Is(err, runtimeapi.ErrClosed)
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestInvokeSuccess(t *testing.T) {
	eachHop(t, func(t *testing.T, m hopMode) {
		r := newRig(t, m, 2, echo)
		before := time.Now()
		inv := newInv("ok", `{"a":1}`, 5*time.Second)
		if err := r.ee.Invoke(context.Background(), inv); err != nil {
			t.Fatal(err)
		}
		if string(inv.Response) != `{"a":1}` || inv.FunctionError != "" || inv.ErrorType != "" {
			t.Fatalf("answer: %s %q %q", inv.Response, inv.FunctionError, inv.ErrorType)
		}
		d, a := inv.Dispatched(), inv.Answered
		if d.Before(before.Add(-time.Second)) || a.Before(d) || a.After(time.Now().Add(time.Second)) {
			t.Fatalf("times: dispatched %v answered %v (invoked at %v)", d, a, before)
		}
		if n := r.ee.InFlight(); n != 0 {
			t.Fatalf("client in flight %d", n)
		}

		// A payload near the limit goes both ways in one piece.
		big := `"` + strings.Repeat("x", 5<<20) + `"`
		inv = newInv("big", big, 10*time.Second)
		if err := r.ee.Invoke(context.Background(), inv); err != nil || string(inv.Response) != big {
			t.Fatalf("5 MB echo: %v, %d bytes back", err, len(inv.Response))
		}
	})
}

func TestPayloadTooLarge(t *testing.T) {
	r := newRig(t, muxHop, 1, echo)
	err := r.ee.Invoke(context.Background(), newInv("huge", strings.Repeat("x", MaxPayloadBytes+1), 5*time.Second))
	if err == nil || retryable(err) || !strings.Contains(err.Error(), "413") {
		t.Fatalf("oversized payload: %v", err)
	}
	if n := r.rec.calls.Load(); n != 0 {
		t.Fatalf("EE invoked %d times", n)
	}
}

func TestFunctionError(t *testing.T) {
	eachHop(t, func(t *testing.T, m hopMode) {
		r := newRig(t, m, 1, func([]byte) answer {
			return answer{body: `{"errorMessage":"boom","errorType":"MyError"}`, isError: true}
		})
		inv := newInv("fail", `1`, 5*time.Second)
		if err := r.ee.Invoke(context.Background(), inv); err != nil {
			t.Fatal(err)
		}
		if inv.FunctionError != "Unhandled" || inv.ErrorType != "MyError" || !strings.Contains(string(inv.Response), "boom") {
			t.Fatalf("function error: %q %q %s", inv.FunctionError, inv.ErrorType, inv.Response)
		}
	})
}

func TestTimeout(t *testing.T) {
	eachHop(t, func(t *testing.T, m hopMode) {
		hold := make(chan struct{})
		defer close(hold)
		r := newRig(t, m, 1, func(p []byte) answer { return answer{body: "late", hold: hold} })
		inv := newInv("slow", `1`, time.Second)
		if err := r.ee.Invoke(context.Background(), inv); err != nil {
			t.Fatal(err)
		}
		if inv.FunctionError != "Unhandled" || inv.ErrorType != runtimeapi.ErrorTypeTimeout ||
			!strings.Contains(string(inv.Response), "Task timed out") {
			t.Fatalf("timeout: %q %q %s", inv.FunctionError, inv.ErrorType, inv.Response)
		}
		if inv.Dispatched().IsZero() {
			t.Fatal("a dispatched invoke that timed out has no dispatched time")
		}
	})
}

func TestFull(t *testing.T) {
	eachHop(t, func(t *testing.T, m hopMode) {
		hold := make(chan struct{})
		r := newRig(t, m, 1, func(p []byte) answer {
			if string(p) == "hold" {
				return answer{body: "held", hold: hold}
			}
			return echo(p)
		})
		first := make(chan error, 1)
		inv := newInv("first", "hold", 10*time.Second)
		go func() { first <- r.ee.Invoke(context.Background(), inv) }()
		waitFor(t, "the first invoke to take the slot", func() bool { return r.srv.Slots().InFlight() == 1 })
		if err := r.ee.Invoke(context.Background(), newInv("second", "2", 5*time.Second)); !errors.Is(err, runtimeapi.ErrFull) {
			t.Fatalf("second invoke: %v, want ErrFull", err)
		}
		close(hold)
		if err := <-first; err != nil || string(inv.Response) != "held" {
			t.Fatalf("first invoke: %v %s", err, inv.Response)
		}
	})
}

type stub struct {
	err   error
	calls atomic.Int32
}

func (s *stub) Invoke(context.Context, *runtimeapi.Invocation) error {
	s.calls.Add(1)
	return s.err
}

func TestClosedAndUnknownEE(t *testing.T) {
	closed := &stub{err: runtimeapi.ErrClosed}
	broken := &stub{err: errors.New("sandbox on fire")}
	for _, sv := range servers {
		t.Run(sv.name, func(t *testing.T) { testClosedAndUnknownEE(t, sv.slow, closed, broken) })
	}
}

func testClosedAndUnknownEE(t *testing.T, slow bool, closed, broken *stub) {
	agent := startAgent(t, &Handler{Token: testToken, Lookup: func(id string) Invoker {
		switch id {
		case "closed":
			return closed
		case "broken":
			return broken
		}
		return nil
	}}, slow)
	c := NewClient()
	for _, id := range []string{"closed", "no-such-ee"} {
		err := NewEE(c, agent.URL, testToken, "", id).Invoke(context.Background(), newInv("x", "1", time.Second))
		if !errors.Is(err, runtimeapi.ErrClosed) || errors.Is(err, runtimeapi.ErrFull) {
			t.Errorf("%s: %v, want ErrClosed", id, err)
		}
	}
	// Any other agent-side failure is not retryable.
	err := NewEE(c, agent.URL, testToken, "", "broken").Invoke(context.Background(), newInv("x", "1", time.Second))
	if err == nil || retryable(err) || !strings.Contains(err.Error(), "sandbox on fire") {
		t.Errorf("broken: %v", err)
	}
}

func TestBadToken(t *testing.T) {
	for _, sv := range servers {
		t.Run(sv.name, func(t *testing.T) { testBadToken(t, sv.slow) })
	}
}

func testBadToken(t *testing.T, slow bool) {
	s := &stub{}
	agent := startAgent(t, &Handler{Token: testToken, Lookup: func(string) Invoker { return s }}, slow)
	c := NewClient()
	for _, token := range []string{"", "wrong", testToken + "x"} {
		err := NewEE(c, agent.URL, token, "", "ee1").Invoke(context.Background(), newInv("x", "1", time.Second))
		if err == nil || retryable(err) || !strings.Contains(err.Error(), "401") {
			t.Errorf("token %q: %v, want a 401", token, err)
		}
	}
	// An empty Token on the agent refuses everyone, the empty token too.
	open := startAgent(t, &Handler{Lookup: func(string) Invoker { return s }}, slow)
	if err := NewEE(c, open.URL, "", "", "ee1").Invoke(context.Background(), newInv("x", "1", time.Second)); err == nil {
		t.Error("an agent without a token admitted an invoke")
	}

	// The 401 comes before the body is read: the agent answers a request
	// whose promised body never arrives (a small one too: frontdoor's
	// loop would otherwise wait to drain it).
	for _, n := range []int{1000000, 1000} {
		badTokenBeforeBody(t, agent.Addr, n)
	}
	if n := s.calls.Load(); n != 0 {
		t.Fatalf("Invoke called %d times without a valid token", n)
	}
}

func badTokenBeforeBody(t *testing.T, addr string, length int) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second)) //nolint:errcheck
	fmt.Fprintf(conn, "POST /v1/ee/ee1/invoke HTTP/1.1\r\nHost: agent\r\nContent-Length: %d\r\n\r\n", length)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer before the body: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !resp.Close {
		t.Fatalf("length %d: status %d close %v, want 401 and the connection closed", length, resp.StatusCode, resp.Close)
	}
}

func TestCallerCancelFreesTheSlot(t *testing.T) {
	eachHop(t, func(t *testing.T, m hopMode) {
		hold := make(chan struct{})
		r := newRig(t, m, 1, func(p []byte) answer {
			if string(p) == "hold" {
				return answer{body: "held", hold: hold}
			}
			return echo(p)
		})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- r.ee.Invoke(ctx, newInv("gone", "hold", 30*time.Second)) }()
		waitFor(t, "the invoke to be dispatched", func() bool { return r.srv.Slots().InFlight() == 1 })
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("caller's invoke: %v, want context.Canceled", err)
		}
		// The hang-up reached the agent: its Invoke ended with the request's
		// context, not with an answer.
		select {
		case err := <-r.rec.errs:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("agent's invoke: %v, want context.Canceled", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the agent's invoke went on after the caller hung up")
		}
		if n := r.ee.InFlight(); n != 0 {
			t.Fatalf("client in flight %d", n)
		}
		// The worker finishing the abandoned invoke frees the slot for the next.
		close(hold)
		waitFor(t, "the slot to be freed", func() bool { return r.srv.Slots().InFlight() == 0 })
		inv := newInv("next", "2", 5*time.Second)
		if err := r.ee.Invoke(context.Background(), inv); err != nil || string(inv.Response) != "2" {
			t.Fatalf("invoke after a hang-up: %v %s", err, inv.Response)
		}
	})
}

func TestAgentDiesMidInvoke(t *testing.T) {
	eachHop(t, func(t *testing.T, m hopMode) {
		hold := make(chan struct{})
		defer close(hold)
		r := newRig(t, m, 1, func(p []byte) answer { return answer{body: "never seen", hold: hold} })
		done := make(chan error, 1)
		go func() { done <- r.ee.Invoke(context.Background(), newInv("lost", "1", 30*time.Second)) }()
		waitFor(t, "the invoke to be dispatched", func() bool { return r.srv.Slots().InFlight() == 1 })
		r.agent.kill()
		err := <-done
		if err == nil || retryable(err) {
			t.Fatalf("invoke cut off mid-way: %v, want a non-retryable error", err)
		}
	})
}

func TestDialRefused(t *testing.T) {
	eachHop(t, func(t *testing.T, m hopMode) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		e := NewEE(newClient(m.plain), "http://"+addr, testToken, "", "ee1")
		if err := e.Invoke(context.Background(), newInv("x", "1", time.Second)); !errors.Is(err, runtimeapi.ErrClosed) {
			t.Fatalf("refused dial: %v, want ErrClosed", err)
		}
	})
}

// plainHops are the plain hop's modes: in the clear and over TLS.
var plainHops = []struct {
	name string
	mode hopMode
}{{"plain", plainHop}, {"plain+tls", hopMode{plain: true, tls: true}}}

func TestPoolReuse(t *testing.T) {
	for _, h := range plainHops {
		t.Run(h.name, func(t *testing.T) {
			r := newRig(t, h.mode, 2, echo)
			for i := range 20 {
				inv := newInv(fmt.Sprint("seq-", i), `"x"`, 5*time.Second)
				if err := r.ee.Invoke(context.Background(), inv); err != nil || string(inv.Response) != `"x"` {
					t.Fatalf("invoke %d: %v %s", i, err, inv.Response)
				}
			}
			if n := r.agent.srv.OpenConns(); n != 1 {
				t.Fatalf("20 invokes in a row opened %d connections, want 1", n)
			}
			if n := r.ee.client.idleConns(r.ee.pool.key); n != 1 {
				t.Fatalf("%d idle connections, want 1", n)
			}
			r.ee.client.CloseIdle()
			if n := r.ee.client.idleConns(r.ee.pool.key); n != 0 {
				t.Fatalf("%d idle connections after CloseIdle", n)
			}
		})
	}
}

func TestAgentClosedIdleConnection(t *testing.T) {
	for _, h := range plainHops {
		t.Run(h.name, func(t *testing.T) {
			r := newRig(t, h.mode, 1, echo)
			if err := r.ee.Invoke(context.Background(), newInv("one", "1", 5*time.Second)); err != nil {
				t.Fatal(err)
			}
			// The agent closes the idle connection (its idle timeout, a
			// restart): the next invoke finds it dead before sending, and
			// dials.
			r.agent.kill()
			waitFor(t, "the agent to drop the connection", func() bool { return r.agent.srv.OpenConns() == 0 })
			inv := newInv("two", "2", 5*time.Second)
			if err := r.ee.Invoke(context.Background(), inv); err != nil || string(inv.Response) != "2" {
				t.Fatalf("invoke after the agent closed the idle connection: %v %s", err, inv.Response)
			}
		})
	}
}

// fakeAgent is a TCP server that reads each request and answers it with
// the bytes answer returns (the connection closes when answer says so);
// accepts counts its connections.
type fakeAgent struct {
	addr    string
	accepts atomic.Int32
	closed  chan struct{} // one value per connection that ended
}

func startFakeAgent(t *testing.T, answer func(n int, req *http.Request, body []byte) (out string, closeAfter bool, stall bool)) *fakeAgent {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fa := &fakeAgent{addr: ln.Addr().String(), closed: make(chan struct{}, 64)}
	var served atomic.Int32
	acceptEach(t, ln, func(c net.Conn) {
		fa.accepts.Add(1)
		defer func() { c.Close(); fa.closed <- struct{}{} }()
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			body, _ := io.ReadAll(req.Body)
			out, closeAfter, stall := answer(int(served.Add(1)), req, body)
			if _, err := io.WriteString(c, out); err != nil {
				return
			}
			if stall {
				// Hold until the client hangs up.
				io.Copy(io.Discard, c) //nolint:errcheck
				return
			}
			if closeAfter {
				return
			}
		}
	})
	return fa
}

// acceptEach serves each connection ln accepts with handle, in a
// goroutine of its own, until stop (or the test's end) closes ln and waits
// for them.
func acceptEach(t testing.TB, ln net.Listener, handle func(net.Conn)) (stop func()) {
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { handle(c) })
		}
	})
	stop = func() { ln.Close(); wg.Wait() }
	t.Cleanup(stop)
	return stop
}

func okAnswer(body string, extra string) string {
	return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s", len(body), extra, body)
}

func TestConnectionNotReused(t *testing.T) {
	fa := startFakeAgent(t, func(n int, req *http.Request, body []byte) (string, bool, bool) {
		if req.Header.Get("Authorization") != "Bearer "+testToken || req.URL.Path != "/v1/ee/ee1/invoke" {
			return "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", true, false
		}
		switch string(body) {
		case "close": // the agent says the connection ends
			return okAnswer("closing", "Connection: close\r\n"), true, false
		case "500": // an error answer, which the agent may follow with a close
			return "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\nboom", false, false
		case "short": // the answer is cut off
			return "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b", true, false
		}
		return okAnswer(string(body), ""), false, false
	})
	ee := NewEE(newClient(true), "http://"+fa.addr, testToken, "", "ee1")
	t.Cleanup(ee.client.CloseIdle)
	invoke := func(payload string) (*runtimeapi.Invocation, error) {
		inv := newInv("x", payload, 5*time.Second)
		return inv, ee.Invoke(context.Background(), inv)
	}
	if inv, err := invoke("a"); err != nil || string(inv.Response) != "a" {
		t.Fatalf("first: %v", err)
	}
	if inv, err := invoke("b"); err != nil || string(inv.Response) != "b" || fa.accepts.Load() != 1 {
		t.Fatalf("second: %v, %d connections", err, fa.accepts.Load())
	}
	if inv, err := invoke("close"); err != nil || string(inv.Response) != "closing" {
		t.Fatalf("close: %v", err)
	}
	if n := ee.client.idleConns(fa.addr); n != 0 {
		t.Fatalf("a connection the agent closes was kept (%d idle)", n)
	}
	if _, err := invoke("c"); err != nil || fa.accepts.Load() != 2 {
		t.Fatalf("after close: %v, %d connections, want 2", err, fa.accepts.Load())
	}
	if _, err := invoke("500"); err == nil || retryable(err) || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("500: %v", err)
	}
	if n := ee.client.idleConns(fa.addr); n != 0 {
		t.Fatalf("a connection after an error answer was kept (%d idle)", n)
	}
	if _, err := invoke("d"); err != nil || fa.accepts.Load() != 3 {
		t.Fatalf("after 500: %v, %d connections, want 3", err, fa.accepts.Load())
	}
	// A broken answer is a plain error (the invoke may have run) and its
	// connection is not reused.
	if _, err := invoke("short"); err == nil || retryable(err) {
		t.Fatalf("cut-off answer: %v, want a non-retryable error", err)
	}
	if n := ee.client.idleConns(fa.addr); n != 0 {
		t.Fatalf("a connection with a cut-off answer was kept (%d idle)", n)
	}
	if _, err := invoke("e"); err != nil || fa.accepts.Load() != 4 {
		t.Fatalf("after a cut-off answer: %v, %d connections, want 4", err, fa.accepts.Load())
	}
}

func TestCancelMidResponse(t *testing.T) {
	fa := startFakeAgent(t, func(int, *http.Request, []byte) (string, bool, bool) {
		// The head and part of the body, then nothing.
		return "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nten bytes.", false, true
	})
	ee := NewEE(newClient(true), "http://"+fa.addr, testToken, "", "ee1")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ee.Invoke(ctx, newInv("x", "1", 30*time.Second)) }()
	waitFor(t, "the request to reach the agent", func() bool { return fa.accepts.Load() == 1 })
	time.Sleep(20 * time.Millisecond) // into the body
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("canceled mid-answer: %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the cancel did not end the exchange")
	}
	select {
	case <-fa.closed: // the agent saw the hang-up
	case <-time.After(5 * time.Second):
		t.Fatal("the connection stayed open after the cancel")
	}
	if n := ee.client.idleConns(fa.addr); n != 0 {
		t.Fatalf("the canceled connection was kept (%d idle)", n)
	}
}

func TestDeadlineBoundsTheExchange(t *testing.T) {
	fa := startFakeAgent(t, func(int, *http.Request, []byte) (string, bool, bool) { return "", false, true })
	c := newClient(true)
	c.Grace = 50 * time.Millisecond
	ee := NewEE(c, "http://"+fa.addr, testToken, "", "ee1")
	start := time.Now()
	err := ee.Invoke(context.Background(), newInv("x", "1", 100*time.Millisecond))
	if err == nil || retryable(err) || time.Since(start) > 3*time.Second {
		t.Fatalf("silent agent: %v after %v, want a non-retryable error at deadline+grace", err, time.Since(start))
	}
}

// sleeper answers each invoke with its payload after d.
type sleeper struct{ d time.Duration }

func (s sleeper) Invoke(ctx context.Context, inv *runtimeapi.Invocation) error {
	select {
	case <-time.After(s.d):
	case <-ctx.Done():
		return ctx.Err()
	}
	inv.Response = inv.Payload
	return nil
}

func TestWatchedConnectionCarriesOn(t *testing.T) {
	// Invokes long enough to be watched leave their connection as it was,
	// over TLS too (the watch's read is stopped by a deadline, which a
	// TLS connection survives).
	var agent *agentServer
	for _, withTLS := range []bool{true, false} {
		agent = serveAgent(t, &Handler{Token: testToken, Lookup: func(string) Invoker { return sleeper{3 * watchAfter} }}, withTLS)
		c := newClient(true)
		t.Cleanup(c.CloseIdle)
		ee := NewEE(c, agent.URL, testToken, agent.Cert, "ee1")
		for i := range 3 {
			inv := newInv("w", fmt.Sprint(i), 5*time.Second)
			if err := ee.Invoke(context.Background(), inv); err != nil || string(inv.Response) != fmt.Sprint(i) {
				t.Fatalf("tls %v: invoke %d: %v %s", withTLS, i, err, inv.Response)
			}
		}
		if n := agent.srv.OpenConns(); n != 1 {
			t.Fatalf("tls %v: %d connections, want 1", withTLS, n)
		}
	}

	// Two requests sent at once: the watch reads the second one's first
	// byte during the first invoke, and the loop still serves it whole.
	conn, err := net.Dial("tcp", agent.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second)) //nolint:errcheck
	req := func(id, body string) string {
		return fmt.Sprintf("POST /v1/ee/ee1/invoke HTTP/1.1\r\nHost: agent\r\nAuthorization: Bearer %s\r\n"+
			"Lambda-Runtime-Aws-Request-Id: %s\r\nLambda-Runtime-Deadline-Ms: %d\r\nContent-Length: %d\r\n\r\n%s",
			testToken, id, time.Now().Add(5*time.Second).UnixMilli(), len(body), body)
	}
	if _, err := io.WriteString(conn, req("p1", "first")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * watchAfter) // the watch is reading
	if _, err := io.WriteString(conn, req("p2", "second")); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	for _, want := range []string{"first", "second"} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("answer %q: %v", want, err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || string(body) != want {
			t.Fatalf("answer: %d %q, want 200 %q", resp.StatusCode, body, want)
		}
	}
}

// TestPinnedCertificate: a router pinned to an agent's certificate does
// not talk to a process that took over the agent's address with another
// certificate: the handshake fails before any request (and so before the
// bearer token) is sent, and the failure is retryable, since nothing ran.
func TestPinnedCertificate(t *testing.T) {
	_, genuine, err := NewServerCert()
	if err != nil {
		t.Fatal(err)
	}
	cert, _, err := NewServerCert()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", ServerTLS(cert))
	if err != nil {
		t.Fatal(err)
	}
	var got atomic.Int64 // bytes of requests the impostor read
	stop := acceptEach(t, ln, func(c net.Conn) {
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second)) //nolint:errcheck
		n, _ := io.Copy(io.Discard, c)
		got.Add(n)
	})
	for _, h := range []hopMode{muxHop, plainHop} {
		ee := NewEE(newClient(h.plain), "https://"+ln.Addr().String(), testToken, genuine, "ee1")
		err := ee.Invoke(context.Background(), newInv("x", "1", time.Second))
		if !errors.Is(err, runtimeapi.ErrClosed) || !errors.Is(err, errPin) {
			t.Errorf("plain=%v: %v, want ErrClosed for the pin", h.plain, err)
		}
	}
	stop()
	if n := got.Load(); n != 0 {
		t.Fatalf("the impostor read %d bytes of requests", n)
	}
}

func TestNewEERefusesBadAgentURLs(t *testing.T) {
	_, fp, err := NewServerCert()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		url, cert string
		ok        bool
	}{
		{"https://10.0.0.7:9402", fp, true},
		{"http://10.0.0.7:9402", "", true},
		{"https://10.0.0.7:9402", "", false},            // TLS needs the pin
		{"https://10.0.0.7:9402", fp[:62], false},       // not a SHA-256
		{"https://10.0.0.7:9402", "zz" + fp[2:], false}, // not hex
		{"http://10.0.0.7:9402", fp, false},             // a certificate, yet no TLS
		{"ftp://10.0.0.7:9402", "", false},
		{"https://", fp, false},
	} {
		e := NewEE(NewClient(), tc.url, testToken, tc.cert, "ee1")
		if (e.err == nil) != tc.ok {
			t.Errorf("NewEE(%q, %q): err %v, want ok=%v", tc.url, tc.cert, e.err, tc.ok)
		}
	}
}

// TestRelease: a released agent process leaves no pool or session behind
// in the Client (each process has a token and a certificate of its own,
// so its keys never come back), and its connections are closed.
func TestRelease(t *testing.T) {
	for _, h := range hops {
		t.Run(h.name, func(t *testing.T) {
			r := newRig(t, h.mode, 2, echo)
			if err := r.ee.Invoke(context.Background(), newInv("one", "1", 5*time.Second)); err != nil {
				t.Fatal(err)
			}
			c := r.ee.client
			c.Release(r.ee)
			c.mu.Lock()
			pools, slots := len(c.pools), len(c.slots)
			c.mu.Unlock()
			if pools != 0 || slots != 0 {
				t.Fatalf("after Release: %d pools, %d sessions, want none", pools, slots)
			}
			waitFor(t, "the agent to see its connections closed", func() bool { return r.agent.srv.OpenConns() == 0 })
		})
	}
}
