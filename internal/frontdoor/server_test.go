package frontdoor

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testHandler answers every request with its body, and says in X-Path
// which loop served it.
func testHandler(w http.ResponseWriter, r *http.Request) {
	path := "slow"
	if _, ok := w.(*response); ok {
		path = "fast"
	}
	w.Header().Set("X-Path", path)
	switch r.URL.Path {
	case "/limit": // refuses large bodies unread, as the Lambda API does
		if r.ContentLength > 10 {
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			return
		}
	case "/nocontent":
		w.WriteHeader(http.StatusNoContent)
		return
	case "/panic":
		panic("test panic")
	case "/block":
		<-r.Context().Done()
		w.Header().Set("X-Ctx", r.Context().Err().Error())
	case "/wait":
		<-release
	case "/gone": // answers nothing once canceled, as the Lambda API for a caller gone
		<-r.Context().Done()
		return
	case "/abort": // answers an error when the server cut it short
		<-r.Context().Done()
		if errors.Is(context.Cause(r.Context()), ErrServerAbort) {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		w.Header().Set("X-Read-Error", err.Error())
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if r.URL.Query().Get("sized") != "" {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	}
	w.Write(body)
}

var release = make(chan struct{})

func isFast(method, path string) bool { return method == http.MethodPost && path != "/slow" }

func startServer(t *testing.T) (*Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Handler: http.HandlerFunc(testHandler), Match: isFast, ReadHeaderTimeout: 300 * time.Millisecond}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return s, ln.Addr().String()
}

// rawConn is a client connection that writes requests by hand.
type rawConn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dial(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawConn{t: t, c: c, br: bufio.NewReader(c)}
}

func (rc *rawConn) send(s string) {
	rc.t.Helper()
	if _, err := io.WriteString(rc.c, s); err != nil {
		rc.t.Fatal(err)
	}
}

// read reads one response and its body.
func (rc *rawConn) read() (*http.Response, string) {
	rc.t.Helper()
	resp, err := http.ReadResponse(rc.br, nil)
	if err != nil {
		rc.t.Fatalf("read response: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		rc.t.Fatalf("read body: %v", err)
	}
	return resp, string(body)
}

// expectClosed checks that the server closed the connection.
func (rc *rawConn) expectClosed() {
	rc.t.Helper()
	if n, err := rc.br.Read(make([]byte, 1)); err == nil {
		rc.t.Fatalf("connection still open (read %d bytes)", n)
	}
}

func post(path, body string, extra ...string) string {
	return fmt.Sprintf("POST %s HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n%s\r\n%s",
		path, len(body), strings.Join(extra, ""), body)
}

func TestFastAndSlowWithNetHTTPClient(t *testing.T) {
	_, addr := startServer(t)
	for _, tt := range []struct {
		method, path, body, wantPath string
	}{
		{"POST", "/x?sized=1", `{"a":1}`, "fast"},
		{"POST", "/x", `{"a":1}`, "fast"},
		{"POST", "/x", "", "fast"},
		{"POST", "/slow", "hello", "slow"},
		{"PUT", "/x", "hello", "slow"},
	} {
		// A new client each time: a kept connection, once handed to
		// net/http, stays there.
		client := &http.Client{Transport: &http.Transport{}}
		req, _ := http.NewRequest(tt.method, "http://"+addr+tt.path, strings.NewReader(tt.body))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != tt.body || resp.Header.Get("X-Path") != tt.wantPath {
			t.Errorf("%s %s: status %d, body %q, path %q; want 200, %q, %q",
				tt.method, tt.path, resp.StatusCode, body, resp.Header.Get("X-Path"), tt.body, tt.wantPath)
		}
		if resp.Header.Get("Date") == "" || resp.ContentLength != int64(len(tt.body)) {
			t.Errorf("%s %s: Date %q, Content-Length %d", tt.method, tt.path, resp.Header.Get("Date"), resp.ContentLength)
		}
		if tt.body != "" && resp.Header.Get("Content-Type") == "" {
			t.Errorf("%s %s: no Content-Type", tt.method, tt.path)
		}
	}
}

func TestKeptConnectionIsHandedOffAtARequestBoundary(t *testing.T) {
	_, addr := startServer(t)
	rc := dial(t, addr)
	// Two pipelined fast requests, then one net/http must take, then a
	// fast one that net/http now serves.
	rc.send(post("/a", "one") + post("/b", "two"))
	for _, want := range []string{"one", "two"} {
		resp, body := rc.read()
		if body != want || resp.Header.Get("X-Path") != "fast" {
			t.Fatalf("got %q via %s, want %q via fast", body, resp.Header.Get("X-Path"), want)
		}
	}
	rc.send(post("/slow", "three") + post("/c", "four"))
	for _, want := range []string{"three", "four"} {
		resp, body := rc.read()
		if body != want || resp.Header.Get("X-Path") != "slow" {
			t.Fatalf("got %q via %s, want %q via slow", body, resp.Header.Get("X-Path"), want)
		}
	}
}

func TestRequestsNetHTTPServes(t *testing.T) {
	_, addr := startServer(t)
	big := strings.Repeat("x", bufSize)
	for _, tt := range []struct{ name, req, wantBody string }{
		{"chunked", "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", "abc"},
		{"head larger than the buffer", post("/x", "abc", "X-Big: "+big+"\r\n"), "abc"},
		{"head arriving in pieces", post("/x", "abc"), "abc"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rc := dial(t, addr)
			if tt.name == "head arriving in pieces" {
				for _, part := range []string{tt.req[:5], tt.req[5:20], tt.req[20:]} {
					rc.send(part)
					time.Sleep(20 * time.Millisecond)
				}
				resp, body := rc.read()
				if body != tt.wantBody || resp.Header.Get("X-Path") != "fast" {
					t.Fatalf("got %q via %s", body, resp.Header.Get("X-Path"))
				}
				return
			}
			rc.send(tt.req)
			resp, body := rc.read()
			if body != tt.wantBody || resp.Header.Get("X-Path") != "slow" {
				t.Fatalf("got %q via %s, want %q via slow", body, resp.Header.Get("X-Path"), tt.wantBody)
			}
		})
	}
	t.Run("HTTP/1.0", func(t *testing.T) {
		rc := dial(t, addr)
		rc.send("POST /x HTTP/1.0\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi")
		resp, body := rc.read()
		if body != "hi" || resp.Header.Get("X-Path") != "slow" {
			t.Fatalf("got %q via %s", body, resp.Header.Get("X-Path"))
		}
		rc.expectClosed()
	})
	t.Run("malformed", func(t *testing.T) {
		rc := dial(t, addr)
		rc.send("POST /x HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi") // no Host
		if resp, _ := rc.read(); resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("status %d, want 400 from net/http", resp.StatusCode)
		}
	})
}

func TestExpectContinue(t *testing.T) {
	_, addr := startServer(t)
	rc := dial(t, addr)
	rc.send("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
	resp, _ := rc.read()
	if resp.StatusCode != http.StatusContinue {
		t.Fatalf("status %d, want 100", resp.StatusCode)
	}
	rc.send("hello")
	if resp, body := rc.read(); resp.StatusCode != 200 || body != "hello" {
		t.Fatalf("status %d body %q", resp.StatusCode, body)
	}

	// A body the handler refuses unread is never asked for, and the
	// connection ends: the client may still send it.
	rc = dial(t, addr)
	rc.send("POST /limit HTTP/1.1\r\nHost: h\r\nContent-Length: 50\r\nExpect: 100-continue\r\n\r\n")
	resp, _ = rc.read()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !resp.Close {
		t.Fatalf("status %d close %v, want 413 and close", resp.StatusCode, resp.Close)
	}
	rc.expectClosed()
}

func TestUnreadBody(t *testing.T) {
	_, addr := startServer(t)
	// A small unread body is drained and the connection kept.
	rc := dial(t, addr)
	rc.send(post("/limit", strings.Repeat("x", 20)) + post("/x", "next"))
	if resp, _ := rc.read(); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if _, body := rc.read(); body != "next" {
		t.Fatalf("next body %q", body)
	}
	// A large one is not worth draining: the connection ends, but not
	// before the client has its answer (an abrupt close with unread bytes
	// would reset the connection and could discard the answer).
	for i := 0; i < 5; i++ {
		rc = dial(t, addr)
		go func() {
			// A client that sends its whole body before reading.
			io.WriteString(rc.c, fmt.Sprintf("POST /limit HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n", 4*maxDrain))
			rc.c.Write(make([]byte, 4*maxDrain))
		}()
		time.Sleep(50 * time.Millisecond)
		if resp, _ := rc.read(); resp.StatusCode != http.StatusRequestEntityTooLarge || !resp.Close {
			t.Fatalf("status %d close %v", resp.StatusCode, resp.Close)
		}
		rc.expectClosed()
	}
}

func TestShortBody(t *testing.T) {
	_, addr := startServer(t)
	rc := dial(t, addr)
	rc.send("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc")
	rc.c.(*net.TCPConn).CloseWrite()
	resp, _ := rc.read()
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("X-Read-Error") != io.ErrUnexpectedEOF.Error() {
		t.Fatalf("status %d, read error %q", resp.StatusCode, resp.Header.Get("X-Read-Error"))
	}
}

func TestAnswerShapes(t *testing.T) {
	_, addr := startServer(t)
	rc := dial(t, addr)
	rc.send(post("/nocontent", "") + post("/x", "<html>hi</html>") + post("/x?sized=1", "abc", "Connection: close\r\n"))
	resp, body := rc.read()
	if resp.StatusCode != http.StatusNoContent || body != "" || resp.Header.Get("Content-Length") != "" {
		t.Errorf("204: body %q, Content-Length %q", body, resp.Header.Get("Content-Length"))
	}
	resp, _ = rc.read()
	if got := resp.Header.Get("Content-Type"); got != "text/html; charset=utf-8" {
		t.Errorf("sniffed Content-Type %q", got)
	}
	resp, body = rc.read()
	if body != "abc" || resp.Header.Get("X-Path") != "fast" {
		t.Errorf("closing request: %q via %s", body, resp.Header.Get("X-Path"))
	}
	rc.expectClosed()
}

func TestHeaderTimeout(t *testing.T) {
	_, addr := startServer(t)
	for _, tt := range []struct{ name, partial string }{
		{"new connection sends nothing", ""},
		{"head cut short", "POST /x HTTP/1.1\r\nHost: h\r\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rc := dial(t, addr)
			rc.send(tt.partial)
			start := time.Now()
			rc.expectClosed()
			if d := time.Since(start); d > 5*time.Second {
				t.Fatalf("closed after %v", d)
			}
		})
	}
	// Between the requests of a kept connection there is no timeout.
	rc := dial(t, addr)
	rc.send(post("/x", "a"))
	rc.read()
	time.Sleep(500 * time.Millisecond)
	rc.send(post("/x", "b"))
	if _, body := rc.read(); body != "b" {
		t.Fatalf("body %q", body)
	}
}

func TestPanicEndsOnlyItsConnection(t *testing.T) {
	_, addr := startServer(t)
	rc := dial(t, addr)
	rc.send(post("/panic", "x"))
	rc.expectClosed()
	rc = dial(t, addr)
	rc.send(post("/x", "ok"))
	if _, body := rc.read(); body != "ok" {
		t.Fatalf("body %q", body)
	}
}

func TestShutdownWaitsForRequestsInProgress(t *testing.T) {
	s, addr := startServer(t)
	idle := dial(t, addr)
	idle.send(post("/x", "a"))
	idle.read()

	busy := dial(t, addr)
	busy.send(post("/wait", "b"))
	time.Sleep(100 * time.Millisecond) // let it reach the handler

	done := make(chan error, 1)
	go func() { done <- s.Shutdown(context.Background()) }()
	idle.expectClosed()
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v while a request was in progress", err)
	case <-time.After(200 * time.Millisecond):
	}
	release <- struct{}{}
	if _, body := busy.read(); body != "b" {
		t.Fatalf("body %q", body)
	}
	busy.expectClosed()
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Fatal("still accepting after Shutdown")
	}
}

func TestCloseCancelsRequests(t *testing.T) {
	s, addr := startServer(t)
	rc := dial(t, addr)
	rc.send(post("/block", ""))
	time.Sleep(100 * time.Millisecond)
	s.Close()
	resp, _ := rc.read()
	if got := resp.Header.Get("X-Ctx"); got != context.Canceled.Error() {
		t.Fatalf("X-Ctx = %q, want %q", got, context.Canceled)
	}
	rc.expectClosed()
}

// TestCloseNeverAnswersACutRequestAsASuccess: a request Close cuts short
// gets the handler's answer when it gives one (its context's cause says
// the server ended it), or a connection closed before any status line,
// never the empty 200 a finished response would be, on either path.
func TestCloseNeverAnswersACutRequestAsASuccess(t *testing.T) {
	for _, tc := range []struct {
		name, method, path string
		want               int // 0: closed before a status line
	}{
		{"fast, no answer", "POST", "/gone", 0},
		{"slow, no answer", "GET", "/gone", 0},
		{"fast, error answer", "POST", "/abort", http.StatusInternalServerError},
		{"slow, error answer", "GET", "/abort", http.StatusInternalServerError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, addr := startServer(t)
			rc := dial(t, addr)
			rc.send(fmt.Sprintf("%s %s HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", tc.method, tc.path))
			time.Sleep(100 * time.Millisecond) // let it reach the handler
			start := time.Now()
			s.Close()
			if d := time.Since(start); d > cutGrace/2 {
				t.Errorf("Close took %v with a handler that returns at once", d)
			}
			if tc.want == 0 {
				b, err := io.ReadAll(rc.br)
				if len(b) > 0 {
					t.Fatalf("got %q (err %v), want the connection closed before any status line", b, err)
				}
				return
			}
			resp, _ := rc.read()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
			rc.expectClosed()
		})
	}
}

// BenchmarkFastVsNetHTTP compares one request and answer on a kept
// connection through the fast loop and through net/http alone.
func BenchmarkFastVsNetHTTP(b *testing.B) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header()["Content-Type"] = []string{"application/json"}
		w.Header()["Content-Length"] = []string{strconv.Itoa(len(body))}
		w.Write(body)
	})
	req := []byte(post("/2015-03-31/functions/echo/invocations?Qualifier=1", `{"msg":"hi"}`,
		"Authorization: AWS4-HMAC-SHA256 Credential=AKID/20261126/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\r\n",
		"X-Amz-Date: 20261126T000000Z\r\nUser-Agent: bench\r\n"))
	// The "+limits" variants run with the flood limits as `paddock up`
	// sets them, to show what they cost per request.
	for _, v := range []struct {
		name         string
		fast, limits bool
	}{{"fast", true, false}, {"netHTTP", false, false}, {"fast+limits", true, true}, {"netHTTP+limits", false, true}} {
		fast := v.fast
		b.Run(v.name, func(b *testing.B) {
			ln, _ := net.Listen("tcp", "127.0.0.1:0")
			s := &Server{Handler: h, Match: func(string, string) bool { return fast }}
			if v.limits {
				s.ReadHeaderTimeout, s.IdleTimeout, s.BodyReadWindow, s.BodyReadMin, s.MaxConns = 10*time.Second, time.Minute, 10*time.Second, 16<<10, 1000
			}
			go s.Serve(ln)
			defer s.Close()
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			br := bufio.NewReader(c)
			b.ReportAllocs()
			for b.Loop() {
				c.Write(req)
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
			}
		})
	}
}
