package hop

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paddockhq/paddock/internal/runtimeapi"
)

func TestMuxCarriesConcurrentInvokesOnOneConnection(t *testing.T) {
	r := newRig(t, muxHop, 16, echo)
	// As many callers as the EE has slots, each invoking in a row.
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < 200; i += 16 {
				want := fmt.Sprintf(`"payload %d"`, i)
				inv := newInv(fmt.Sprint("c-", i), want, 10*time.Second)
				if err := r.ee.Invoke(context.Background(), inv); err != nil {
					errs <- err
				} else if string(inv.Response) != want {
					errs <- fmt.Errorf("invoke %d got %s", i, inv.Response)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := r.agent.h.sessions.Load(); n != 1 {
		t.Fatalf("%d multiplexed sessions, want 1", n)
	}
	if n := r.rec.calls.Load(); n != 200 {
		t.Fatalf("the EE ran %d invokes, want 200", n)
	}
	r.ee.client.CloseIdle()
	waitFor(t, "the agent to end the idle session", func() bool { return r.agent.h.sessions.Load() == 0 })
}

func TestMuxSessionEndsWithTheAgent(t *testing.T) {
	r := newRig(t, muxHop, 1, echo)
	if err := r.ee.Invoke(context.Background(), newInv("one", "1", 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	s, err := r.ee.client.session(context.Background(), r.ee)
	if err != nil {
		t.Fatal(err)
	}
	// The agent's end closes (a restart): the router sees it at once and
	// the next invoke dials a new session.
	r.agent.kill()
	waitFor(t, "the router to see the session end", func() bool { return !s.open() })
	inv := newInv("two", "2", 5*time.Second)
	if err := r.ee.Invoke(context.Background(), inv); err != nil || string(inv.Response) != "2" {
		t.Fatalf("invoke after the session ended: %v %s", err, inv.Response)
	}
}

func TestMuxFallsBackToPlainRequests(t *testing.T) {
	// An agent without the multiplexed hop (an older one) answers the
	// upgrade 404 and serves plain requests.
	fa := startFakeAgent(t, func(n int, req *http.Request, body []byte) (string, bool, bool) {
		if req.URL.Path == pathMux {
			return "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", false, false
		}
		return okAnswer(string(body), ""), false, false
	})
	ee := NewEE(NewClient(), "http://"+fa.addr, testToken, "", "ee1")
	t.Cleanup(ee.client.CloseIdle)
	for _, p := range []string{"a", "b", "c"} {
		inv := newInv("x", p, 5*time.Second)
		if err := ee.Invoke(context.Background(), inv); err != nil || string(inv.Response) != p {
			t.Fatalf("invoke %s: %v %s", p, err, inv.Response)
		}
	}
	// One connection for the refused upgrade, one kept for the requests:
	// the client did not ask again on every invoke.
	if n := fa.accepts.Load(); n != 2 {
		t.Fatalf("%d connections, want 2", n)
	}
}

// stuck never answers, whatever its context says.
type stuck struct{ release chan struct{} }

func (s stuck) Invoke(context.Context, *runtimeapi.Invocation) error {
	<-s.release
	return errors.New("released")
}

func TestMuxDeadlineBoundsTheWait(t *testing.T) {
	s := stuck{release: make(chan struct{})}
	agent := startAgent(t, &Handler{Token: testToken, Lookup: func(string) Invoker { return s }}, false)
	t.Cleanup(func() { close(s.release) }) // before the agent's Close, which waits for it
	c := NewClient()
	c.Grace = 50 * time.Millisecond
	ee := NewEE(c, agent.URL, testToken, "", "ee1")
	start := time.Now()
	err := ee.Invoke(context.Background(), newInv("x", "1", 100*time.Millisecond))
	if err == nil || retryable(err) || time.Since(start) > 3*time.Second {
		t.Fatalf("silent EE: %v after %v, want a non-retryable error at deadline+grace", err, time.Since(start))
	}
}

func TestMuxAgentShutdownFailsInvokesInFlight(t *testing.T) {
	agent := startAgent(t, &Handler{Token: testToken, Lookup: func(string) Invoker { return sleeper{time.Minute} }}, false)
	ee := NewEE(NewClient(), agent.URL, testToken, "", "ee1")
	done := make(chan error, 1)
	go func() { done <- ee.Invoke(context.Background(), newInv("x", "1", time.Minute)) }()
	waitFor(t, "the session", func() bool { return agent.h.sessions.Load() == 1 })
	time.Sleep(20 * time.Millisecond) // the invoke is on the agent
	start := time.Now()
	agent.srv.Close()
	select {
	case err := <-done:
		if err == nil || retryable(err) {
			t.Fatalf("invoke cut by the agent's shutdown: %v, want a non-retryable error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the invoke outlived the agent's shutdown")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("shutdown took %v", d)
	}
}

// upgraded is a raw connection to agent's multiplexed hop.
func upgraded(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(5 * time.Second)) //nolint:errcheck
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: agent\r\nAuthorization: Bearer %s\r\nConnection: Upgrade\r\nUpgrade: %s\r\nContent-Length: 0\r\n\r\n", pathMux, testToken, muxProtocol)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	return conn, br
}

func TestMuxAgentEndsSessionOnBadFrames(t *testing.T) {
	s := &stub{}
	agent := startAgent(t, &Handler{Token: testToken, Lookup: func(string) Invoker { return s }}, false)
	huge := make([]byte, frameHeadBytes)
	binary.BigEndian.PutUint32(huge, maxInvokeFrame+1)
	huge[4] = kindInvoke
	for _, tc := range []struct {
		name  string
		bytes []byte
	}{
		{"unknown kind", []byte{0, 0, 0, 9, 99, 0, 0, 0, 0, 0, 0, 0, 1}},
		{"a result sent to the agent", []byte{0, 0, 0, 9, kindResult, 0, 0, 0, 0, 0, 0, 0, 1}},
		{"too large", huge},
		{"an invoke without its EE", []byte{0, 0, 0, 10, kindInvoke, 0, 0, 0, 0, 0, 0, 0, 1, 7}},
		{"a length shorter than the head", []byte{0, 0, 0, 3, kindInvoke, 0, 0, 0, 0, 0, 0, 0, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, br := upgraded(t, agent.Addr)
			if _, err := conn.Write(tc.bytes); err != nil {
				t.Fatal(err)
			}
			_, err := br.ReadByte()
			var ne net.Error
			if err == nil || errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("the agent kept the session: %v", err)
			}
		})
	}
	if n := s.calls.Load(); n != 0 {
		t.Fatalf("Invoke called %d times", n)
	}
	if err := NewEE(NewClient(), agent.URL, testToken, "", "ee1").Invoke(context.Background(), newInv("x", "1", time.Second)); err != nil {
		t.Fatalf("a good session after bad ones: %v", err)
	}
}

func TestMuxUpgradeNeedsTheToken(t *testing.T) {
	agent := startAgent(t, &Handler{Token: testToken, Lookup: func(string) Invoker { return &stub{} }}, false)
	conn, err := net.Dial("tcp", agent.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second)) //nolint:errcheck
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: agent\r\nAuthorization: Bearer wrong\r\nConnection: Upgrade\r\nUpgrade: %s\r\nContent-Length: 0\r\n\r\n", pathMux, muxProtocol)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("upgrade with a wrong token: %v %v, want 401", resp, err)
	}
	if n := agent.h.sessions.Load(); n != 0 {
		t.Fatalf("%d sessions", n)
	}
}

func TestFrameRoundTrip(t *testing.T) {
	h := map[string][]string{hdrRequestID: {"id-1"}, hdrTraceID: {strings.Repeat("t", 300)}}
	head, err := appendFields(appendID(nil, "ee-9"), h)
	if err != nil {
		t.Fatal(err)
	}
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	sent := make(chan error, 1)
	go func() {
		fw := frameWriter{conn: c1}
		sent <- fw.send(kindInvoke, 42, head, []byte("payload"))
	}()
	f, err := readFrame(bufio.NewReader(c2), 1<<20)
	if err != nil || f.kind != kindInvoke || f.call != 42 {
		t.Fatalf("frame: %+v %v", f, err)
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	id, rest, err := cutString(f.body)
	if err != nil || id != "ee-9" {
		t.Fatalf("id %q %v", id, err)
	}
	got, payload, err := cutFields(rest)
	if err != nil || string(payload) != "payload" || got[hdrRequestID][0] != "id-1" || len(got[hdrTraceID][0]) != 300 {
		t.Fatalf("fields %v payload %q %v", got, payload, err)
	}
	// A frame longer than the reader's limit is refused before its body.
	go func() {
		fw := frameWriter{conn: c1}
		fw.send(kindResult, 1, make([]byte, 100)) //nolint:errcheck
	}()
	if _, err := readFrame(bufio.NewReader(c2), 50); !errors.Is(err, errFrameTooLarge) {
		t.Fatalf("oversized frame: %v", err)
	}
}

func TestCutFieldsRejectsTruncatedBlocks(t *testing.T) {
	good, _ := appendFields(nil, map[string][]string{"K": {"value"}})
	for n := range len(good) {
		if _, _, err := cutFields(good[:n]); err == nil {
			t.Errorf("%d of %d bytes: no error", n, len(good))
		}
	}
	if _, _, err := cutFields(good); err != nil {
		t.Fatal(err)
	}
}
