package runtimeapi

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"
)

// recordingStream keeps what a streamed answer brought, and tells each
// write as it happens.
type recordingStream struct {
	mu          sync.Mutex
	got         []byte
	contentType string
	wrote       chan struct{}
	refuse      bool
}

func (r *recordingStream) WriteStream(contentType string, p []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.refuse {
		return errors.New("caller gone")
	}
	r.contentType = contentType
	r.got = append(r.got, p...)
	select {
	case r.wrote <- struct{}{}:
	default:
	}
	return nil
}

func (r *recordingStream) bytes() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return string(r.got)
}

// streamAnswer polls /next once and answers in chunks through a pipe: the
// test writes each chunk with send and ends the body with end.
func streamAnswer(t *testing.T, addr string, trailer http.Header) (send func(string), end func()) {
	base := "http://" + addr + "/2018-06-01/runtime/invocation/"
	resp, err := http.Get(base + "next")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body) //nolint:errcheck
	resp.Body.Close()
	id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPost, base+id+"/response", pr)
	req.Header.Set("Content-Type", "application/vnd.awslambda.http-integration-response")
	req.Trailer = trailer
	posted := make(chan struct{})
	go func() {
		defer close(posted)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("POST /response: %v", err)
			return
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Errorf("/response answered %d", resp.StatusCode)
		}
	}()
	return func(s string) { pw.Write([]byte(s)) }, func() { pw.Close(); <-posted } //nolint:errcheck
}

func TestStreamedAnswerArrivesAsItIsWritten(t *testing.T) {
	tests := []struct {
		name      string
		trailer   http.Header
		wantError string // ErrorType; "" for a success
	}{
		{"success", nil, ""},
		{"failure in trailers", http.Header{"Lambda-Runtime-Function-Error-Type": {"BrokenPipe"},
			"Lambda-Runtime-Function-Error-Body": {base64.StdEncoding.EncodeToString([]byte(`{"errorMessage":"midway","errorType":"BrokenPipe"}`))}}, "BrokenPipe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, 1)
			stream := &recordingStream{wrote: make(chan struct{}, 1)}
			inv := newInvocation("s-1", `{}`, 10*time.Second)
			inv.Stream = stream
			done := make(chan error, 1)
			go func() { done <- s.Invoke(context.Background(), inv) }()
			trailer := http.Header{}
			for k := range tt.trailer {
				trailer[k] = nil // declared now, set before the body ends
			}
			send, end := streamAnswer(t, s.Addr(), trailer)
			send("first ")
			select {
			case <-stream.wrote:
			case <-time.After(5 * time.Second):
				t.Fatal("the first chunk did not reach the stream before the answer ended")
			}
			if got := stream.bytes(); got != "first " {
				t.Fatalf("stream has %q after the first chunk", got)
			}
			select {
			case err := <-done:
				t.Fatalf("Invoke returned (%v) before the stream ended", err)
			default:
			}
			send("second")
			for k, v := range tt.trailer {
				trailer[k] = v
			}
			end()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if got := stream.bytes(); got != "first second" || stream.contentType != "application/vnd.awslambda.http-integration-response" {
				t.Errorf("stream got %q (%s)", got, stream.contentType)
			}
			if inv.ErrorType != tt.wantError {
				t.Errorf("ErrorType %q, want %q", inv.ErrorType, tt.wantError)
			}
			if tt.wantError == "" && (len(inv.Response) != 0 || inv.FunctionError != "") {
				t.Errorf("a streamed success left Response %q, FunctionError %q", inv.Response, inv.FunctionError)
			}
			if tt.wantError != "" && inv.FunctionError != "Unhandled" {
				t.Errorf("FunctionError %q", inv.FunctionError)
			}
		})
	}
}

// A stream that stops taking bytes (its caller left) does not stop the
// runtime: the answer is read to its end and accepted.
func TestStreamRefusingBytesDrainsTheAnswer(t *testing.T) {
	s := newServer(t, 1)
	stream := &recordingStream{wrote: make(chan struct{}, 1)}
	inv := newInvocation("s-2", `{}`, 10*time.Second)
	inv.Stream = stream
	done := make(chan error, 1)
	go func() { done <- s.Invoke(context.Background(), inv) }()
	send, end := streamAnswer(t, s.Addr(), nil)
	send("kept ")
	<-stream.wrote
	stream.mu.Lock()
	stream.refuse = true
	stream.mu.Unlock()
	send("dropped")
	end()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := stream.bytes(); got != "kept " {
		t.Errorf("stream got %q", got)
	}
}
