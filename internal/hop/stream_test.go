package hop

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/paddockhq/paddock/internal/runtimeapi"
)

// streamSink records a streamed answer as it arrives at the router.
type streamSink struct {
	mu    sync.Mutex
	got   string
	ct    string
	wrote chan struct{}
}

func (s *streamSink) WriteStream(ct string, p []byte) error {
	s.mu.Lock()
	s.got, s.ct = s.got+string(p), ct
	s.mu.Unlock()
	select {
	case s.wrote <- struct{}{}:
	default:
	}
	return nil
}

func (s *streamSink) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got
}

// streamingWorker takes one invoke and answers it in two parts through a
// pipe: the first at once, the second when next is closed, with failure
// trailers when fail is set.
func streamingWorker(t *testing.T, addr string, next <-chan struct{}, fail bool) {
	base := "http://" + addr + "/2018-06-01/runtime/invocation/"
	resp, err := http.Get(base + "next")
	if err != nil {
		t.Error(err)
		return
	}
	io.Copy(io.Discard, resp.Body) //nolint:errcheck
	resp.Body.Close()
	id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPost, base+id+"/response", pr)
	req.Header.Set("Content-Type", "text/plain")
	req.Trailer = http.Header{"Lambda-Runtime-Function-Error-Type": nil, "Lambda-Runtime-Function-Error-Body": nil}
	go func() {
		pw.Write([]byte("first;")) //nolint:errcheck
		<-next
		pw.Write([]byte("second")) //nolint:errcheck
		if fail {
			req.Trailer.Set("Lambda-Runtime-Function-Error-Type", "Broken")
			req.Trailer.Set("Lambda-Runtime-Function-Error-Body", base64.StdEncoding.EncodeToString([]byte(`{"errorMessage":"midway","errorType":"Broken"}`)))
		}
		pw.Close()
	}()
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
}

// A streamed answer crosses the hop as it is written: the router's stream
// has the first part while the function still holds the second, and the
// result (a failure in the trailers too) arrives after the body. The
// connection is reused after it.
func TestStreamedAnswerCrossesTheHop(t *testing.T) {
	for _, fail := range []bool{false, true} {
		srv, err := runtimeapi.NewServer(1)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Close(runtimeapi.ErrorTypeExit) })
		agent := startAgent(t, &Handler{Token: testToken, Lookup: func(string) Invoker { return srv }}, false)
		ee := NewEE(NewClient(), agent.URL, testToken, "", "ee1")
		next := make(chan struct{})
		go streamingWorker(t, srv.Addr(), next, fail)
		sink := &streamSink{wrote: make(chan struct{}, 4)}
		inv := newInv("s1", `{}`, 10*time.Second)
		inv.Stream = sink
		done := make(chan error, 1)
		go func() { done <- ee.Invoke(context.Background(), inv) }()
		select {
		case <-sink.wrote:
		case <-time.After(5 * time.Second):
			t.Fatal("the first part did not cross the hop before the answer ended")
		}
		if got := sink.text(); got != "first;" {
			t.Fatalf("the router's stream has %q while the function holds its second part", got)
		}
		close(next)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if sink.text() != "first;second" || sink.ct != "text/plain" {
			t.Errorf("stream %q (%s)", sink.text(), sink.ct)
		}
		if inv.Answered.IsZero() || inv.Dispatched().IsZero() {
			t.Errorf("the result fields did not come back: answered %v dispatched %v", inv.Answered, inv.Dispatched())
		}
		if fail && (inv.FunctionError != "Unhandled" || inv.ErrorType != "Broken" || string(inv.Response) == "") {
			t.Errorf("a failed stream: %q %q %q", inv.FunctionError, inv.ErrorType, inv.Response)
		}
		if !fail && (inv.FunctionError != "" || len(inv.Response) != 0) {
			t.Errorf("a streamed success: %q %q", inv.FunctionError, inv.Response)
		}
		// An invoke without a stream on the same EE still answers whole.
		go worker(context.Background(), srv.Addr(), echo)
		plain := newInv("s2", `"whole"`, 10*time.Second)
		if err := ee.Invoke(context.Background(), plain); err != nil || string(plain.Response) != `"whole"` {
			t.Errorf("a plain invoke after the stream: %v %q", err, plain.Response)
		}
	}
}
