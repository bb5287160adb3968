// Package relay is the benchmark's lower baseline: the least code that
// passes an invoke to a real Lambda function process through the Runtime API
// and back. One handler queues the event, the /next handler hands it out, and
// the /response and /error handlers complete it. It has no signing, routing,
// placement, persistence or scaling, so its numbers are what the function
// process plus one HTTP hop each way costs on this machine; Paddock's full
// path is measured against it.
//
// It is deliberately plain: standard net/http, one channel, one mutex map.
// Making it slower would flatter Paddock, and tuning it beyond the obvious
// would measure the tuning rather than the design.
package relay

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// invocation is one queued event and the channel its result comes back on.
type invocation struct {
	id      string
	payload []byte
	done    chan result
}

type result struct {
	body    []byte
	isError bool
}

// Relay is a running relay server and the function process attached to it.
type Relay struct {
	srv  *http.Server
	ln   net.Listener
	cmd  *exec.Cmd
	exit chan struct{} // closed when the function process has exited

	queue chan *invocation
	seq   atomic.Uint64

	mu       sync.Mutex
	inFlight map[string]*invocation
}

// Start serves the relay on a loopback port and starts the function binary
// fn against it with the given number of Runtime API workers
// (AWS_LAMBDA_MAX_CONCURRENCY).
func Start(fn string, workers int) (*Relay, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &Relay{
		ln: ln,
		// A buffer lets /invoke enqueue without waiting for a worker to be
		// parked on /next; the closed-loop load never has more outstanding
		// invokes than its concurrency, so this never fills in the benchmark.
		queue:    make(chan *invocation, 1024),
		inFlight: make(map[string]*invocation),
		exit:     make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /invoke", r.invoke)
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", r.next)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", r.complete(false))
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", r.complete(true))
	r.srv = &http.Server{Handler: mux}
	go r.srv.Serve(ln)

	cmd := exec.Command(fn)
	// Only the variables the runtime needs: inheriting the caller's
	// environment could hand the function stray AWS_* settings.
	cmd.Env = []string{
		"AWS_LAMBDA_RUNTIME_API=" + ln.Addr().String(),
		"AWS_LAMBDA_MAX_CONCURRENCY=" + strconv.Itoa(workers),
		"AWS_LAMBDA_FUNCTION_NAME=echo",
		"AWS_LAMBDA_FUNCTION_VERSION=1",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=2048",
	}
	// Its own process group, so Close can kill anything it spawned too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		r.srv.Close()
		return nil, fmt.Errorf("start %s: %w", fn, err)
	}
	r.cmd = cmd
	go func() { cmd.Wait(); close(r.exit) }()
	return r, nil
}

// URL is where to POST an event to invoke the function synchronously.
func (r *Relay) URL() string { return "http://" + r.ln.Addr().String() + "/invoke" }

// Close kills the function process group and stops the server.
func (r *Relay) Close() {
	if r.cmd != nil && r.cmd.Process != nil {
		syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
		<-r.exit
	}
	r.srv.Close()
}

func (r *Relay) invoke(w http.ResponseWriter, req *http.Request) {
	payload, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	inv := &invocation{
		id:      "req-" + strconv.FormatUint(r.seq.Add(1), 10),
		payload: payload,
		done:    make(chan result, 1), // buffered: the completer never blocks
	}
	select {
	case r.queue <- inv:
	case <-req.Context().Done():
		return
	}
	select {
	case res := <-inv.done:
		if res.isError {
			// The same convention as Lambda's Invoke: 200 with the error
			// document, flagged by a header.
			w.Header().Set("X-Amz-Function-Error", "Unhandled")
		}
		w.Write(res.body)
	case <-r.exit:
		http.Error(w, "function process exited", http.StatusBadGateway)
	case <-req.Context().Done():
	}
}

func (r *Relay) next(w http.ResponseWriter, req *http.Request) {
	var inv *invocation
	select {
	case inv = <-r.queue:
	case <-req.Context().Done():
		return
	}
	r.mu.Lock()
	r.inFlight[inv.id] = inv
	r.mu.Unlock()
	h := w.Header()
	h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
	h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(60*time.Second).UnixMilli(), 10))
	h.Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:000000000000:function:echo:1")
	h.Set("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0")
	w.Write(inv.payload)
}

func (r *Relay) complete(isError bool) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		id := req.PathValue("id")
		r.mu.Lock()
		inv, ok := r.inFlight[id]
		delete(r.inFlight, id)
		r.mu.Unlock()
		if !ok {
			http.Error(w, "unknown request id", http.StatusNotFound)
			return
		}
		inv.done <- result{body: body, isError: isError}
		w.WriteHeader(http.StatusAccepted)
	}
}
