package hop

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
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
				out.ClientContext != in.ClientContext || out.CognitoIdentity != in.CognitoIdentity || out.TraceID != in.TraceID {
				t.Fatalf("round trip:\n got %q %v %q %q %q %q\nwant %q %v %q %q %q %q",
					out.ID, out.Deadline, out.FunctionARN, out.ClientContext, out.CognitoIdentity, out.TraceID,
					in.ID, in.Deadline, in.FunctionARN, in.ClientContext, in.CognitoIdentity, in.TraceID)
			}
		})
	}
}

func TestResultHeadersRoundTrip(t *testing.T) {
	at := time.Unix(1700000000, 123456789)
	for _, tc := range []struct {
		name                     string
		functionError, errorType string
		dispatched, answered     time.Time
	}{
		{"success", "", "", at, at.Add(3 * time.Millisecond)},
		{"function error", "Unhandled", "MyError", at, at.Add(time.Second)},
		{"never dispatched", "Unhandled", runtimeapi.ErrorTypeTimeout, time.Time{}, time.Time{}},
		{"odd error type", "Unhandled", "Erreur\nsur deux lignes ✗", at, time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := &runtimeapi.Invocation{FunctionError: tc.functionError, ErrorType: tc.errorType, Answered: tc.answered}
			in.SetDispatched(tc.dispatched)
			h := http.Header{}
			encodeResult(h, in)
			out := &runtimeapi.Invocation{}
			if err := decodeResult(overTheWire(t, h), out); err != nil {
				t.Fatal(err)
			}
			if out.FunctionError != tc.functionError || out.ErrorType != tc.errorType ||
				!out.Dispatched().Equal(tc.dispatched) || !out.Answered.Equal(tc.answered) {
				t.Fatalf("round trip: got %q %q %v %v", out.FunctionError, out.ErrorType, out.Dispatched(), out.Answered)
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
	agent *httptest.Server
	ee    *EE
}

const testToken = "s3cret-token"

func newRig(t *testing.T, maxConcurrency int, decide func(payload []byte) answer) *rig {
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
	agent := httptest.NewServer(&Handler{Token: testToken, Lookup: func(id string) Invoker {
		if id == "ee1" {
			return rec
		}
		return nil
	}})
	t.Cleanup(func() {
		cancel()
		srv.Close(runtimeapi.ErrorTypeExit) // ends invokes still held, so the agent can close
		agent.Close()
		wg.Wait()
	})
	select {
	case <-srv.Ready():
	case <-time.After(5 * time.Second):
		t.Fatal("workers did not poll")
	}
	return &rig{srv: srv, rec: rec, agent: agent, ee: NewEE(NewClient(), agent.URL, testToken, "ee1")}
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
	r := newRig(t, 2, echo)
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
}

func TestPayloadTooLarge(t *testing.T) {
	r := newRig(t, 1, echo)
	err := r.ee.Invoke(context.Background(), newInv("huge", strings.Repeat("x", MaxPayloadBytes+1), 5*time.Second))
	if err == nil || retryable(err) || !strings.Contains(err.Error(), "413") {
		t.Fatalf("oversized payload: %v", err)
	}
	if n := r.rec.calls.Load(); n != 0 {
		t.Fatalf("EE invoked %d times", n)
	}
}

func TestFunctionError(t *testing.T) {
	r := newRig(t, 1, func([]byte) answer {
		return answer{body: `{"errorMessage":"boom","errorType":"MyError"}`, isError: true}
	})
	inv := newInv("fail", `1`, 5*time.Second)
	if err := r.ee.Invoke(context.Background(), inv); err != nil {
		t.Fatal(err)
	}
	if inv.FunctionError != "Unhandled" || inv.ErrorType != "MyError" || !strings.Contains(string(inv.Response), "boom") {
		t.Fatalf("function error: %q %q %s", inv.FunctionError, inv.ErrorType, inv.Response)
	}
}

func TestTimeout(t *testing.T) {
	hold := make(chan struct{})
	defer close(hold)
	r := newRig(t, 1, func(p []byte) answer { return answer{body: "late", hold: hold} })
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
}

func TestFull(t *testing.T) {
	hold := make(chan struct{})
	r := newRig(t, 1, func(p []byte) answer {
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
	agent := httptest.NewServer(&Handler{Token: testToken, Lookup: func(id string) Invoker {
		switch id {
		case "closed":
			return closed
		case "broken":
			return broken
		}
		return nil
	}})
	defer agent.Close()
	c := NewClient()
	for _, id := range []string{"closed", "no-such-ee"} {
		err := NewEE(c, agent.URL, testToken, id).Invoke(context.Background(), newInv("x", "1", time.Second))
		if !errors.Is(err, runtimeapi.ErrClosed) || errors.Is(err, runtimeapi.ErrFull) {
			t.Errorf("%s: %v, want ErrClosed", id, err)
		}
	}
	// Any other agent-side failure is not retryable.
	err := NewEE(c, agent.URL, testToken, "broken").Invoke(context.Background(), newInv("x", "1", time.Second))
	if err == nil || retryable(err) || !strings.Contains(err.Error(), "sandbox on fire") {
		t.Errorf("broken: %v", err)
	}
}

func TestBadToken(t *testing.T) {
	s := &stub{}
	agent := httptest.NewServer(&Handler{Token: testToken, Lookup: func(string) Invoker { return s }})
	defer agent.Close()
	c := NewClient()
	for _, token := range []string{"", "wrong", testToken + "x"} {
		err := NewEE(c, agent.URL, token, "ee1").Invoke(context.Background(), newInv("x", "1", time.Second))
		if err == nil || retryable(err) || !strings.Contains(err.Error(), "401") {
			t.Errorf("token %q: %v, want a 401", token, err)
		}
	}
	// An empty Token on the agent refuses everyone, the empty token too.
	open := httptest.NewServer(&Handler{Lookup: func(string) Invoker { return s }})
	defer open.Close()
	if err := NewEE(c, open.URL, "", "ee1").Invoke(context.Background(), newInv("x", "1", time.Second)); err == nil {
		t.Error("an agent without a token admitted an invoke")
	}

	// The 401 comes before the body is read: the agent answers a request
	// whose promised body never arrives.
	conn, err := net.Dial("tcp", agent.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second)) //nolint:errcheck
	fmt.Fprintf(conn, "POST /v1/ee/ee1/invoke HTTP/1.1\r\nHost: agent\r\nContent-Length: 1000000\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer before the body: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !resp.Close {
		t.Fatalf("status %d close %v, want 401 and the connection closed", resp.StatusCode, resp.Close)
	}
	if n := s.calls.Load(); n != 0 {
		t.Fatalf("Invoke called %d times without a valid token", n)
	}
}

func TestCallerCancelFreesTheSlot(t *testing.T) {
	hold := make(chan struct{})
	r := newRig(t, 1, func(p []byte) answer {
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
}

func TestAgentDiesMidInvoke(t *testing.T) {
	hold := make(chan struct{})
	defer close(hold)
	r := newRig(t, 1, func(p []byte) answer { return answer{body: "never seen", hold: hold} })
	done := make(chan error, 1)
	go func() { done <- r.ee.Invoke(context.Background(), newInv("lost", "1", 30*time.Second)) }()
	waitFor(t, "the invoke to be dispatched", func() bool { return r.srv.Slots().InFlight() == 1 })
	r.agent.Listener.Close()
	r.agent.CloseClientConnections()
	err := <-done
	if err == nil || retryable(err) {
		t.Fatalf("invoke cut off mid-way: %v, want a non-retryable error", err)
	}
}

func TestDialRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	e := NewEE(NewClient(), "http://"+addr, testToken, "ee1")
	if err := e.Invoke(context.Background(), newInv("x", "1", time.Second)); !errors.Is(err, runtimeapi.ErrClosed) {
		t.Fatalf("refused dial: %v, want ErrClosed", err)
	}
}
