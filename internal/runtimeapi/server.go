// Package runtimeapi serves the Lambda Runtime API (/2018-06-01) for one
// execution environment and admits invokes into it. On Lambda Managed
// Instances the runtime runs AWS_LAMBDA_MAX_CONCURRENCY workers that poll
// /next concurrently; the server hands each admitted invoke to the next free
// worker and gives each invoke its own deadline, so a slow or timed-out
// invoke never holds up the others or ends the EE.
package runtimeapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Errors from Server.Invoke. Function errors are not Go errors: they come
// back in the Invocation.
var (
	// ErrFull means the EE had no free slot (or is draining): try another EE.
	ErrFull = errors.New("execution environment is at its max concurrency")
	// ErrClosed means the EE stopped before the invoke was admitted.
	ErrClosed = errors.New("execution environment stopped")
)

// InitError is what a runtime reported on /runtime/init/error.
type InitError struct {
	Type string
	Body []byte
}

// Server is the Runtime API of one execution environment.
type Server struct {
	slots *Slots
	queue chan *Invocation // cap = max concurrency; holds admitted, undispatched invokes

	mu      sync.Mutex
	pending map[string]*Invocation // dispatched, waiting for /response or /error

	readyOnce sync.Once
	ready     chan struct{} // closed at the first /next: init is done
	initErr   chan InitError

	closeOnce sync.Once
	closed    chan struct{}
	closeErr  string // errorType given to invokes failed by Close

	ln    net.Listener
	conns connSet

	completed atomic.Uint64 // invokes answered by the runtime (for rates)
}

// NewServer listens on a loopback port for an EE running up to
// maxConcurrency invokes at once.
func NewServer(maxConcurrency int) (*Server, error) {
	// No TCP keepalive probes: the peer is a local process, and
	// aws-lambda-go's client keeps only 2 idle connections, so most calls
	// arrive on a fresh connection; skipping the keepalive setsockopts
	// makes each accept cheaper.
	lc := net.ListenConfig{KeepAlive: -1}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{
		slots:   NewSlots(maxConcurrency),
		queue:   make(chan *Invocation, maxConcurrency),
		pending: make(map[string]*Invocation),
		ready:   make(chan struct{}),
		initErr: make(chan InitError, 1),
		closed:  make(chan struct{}),
		ln:      ln,
	}
	go s.serve()
	return s, nil
}

// Addr is the host:port for AWS_LAMBDA_RUNTIME_API.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Completed counts the invokes the runtime has answered, late ones included.
func (s *Server) Completed() uint64 { return s.completed.Load() }

// Slots is the EE's admission.
func (s *Server) Slots() *Slots { return s.slots }

// Ready is closed when a worker first polls /next: init is complete.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// InitErrors delivers what the runtime posted to /runtime/init/error.
func (s *Server) InitErrors() <-chan InitError { return s.initErr }

// Close fails every invoke still held with errorType (Runtime.ExitError when
// the process died) and stops serving.
func (s *Server) Close(errorType string) {
	s.closeOnce.Do(func() {
		s.slots.Drain()
		s.closeErr = errorType
		close(s.closed)
		s.ln.Close()
		s.conns.closeAll()
	})
}

// Invoke runs inv on this EE and returns when it has an answer: the
// function's, or a platform failure (timeout, crash) recorded in inv. It
// returns ErrFull without waiting when the EE has no free slot, and ctx's
// error if the caller gave up first.
func (s *Server) Invoke(ctx context.Context, inv *Invocation) error {
	if !s.slots.TryAcquire() {
		return ErrFull
	}
	select {
	case <-s.closed:
		s.slots.Release()
		return ErrClosed
	default:
	}
	inv.done = make(chan struct{})
	inv.state.Store(stateQueued)
	// Never blocks: the queue holds at most max concurrency invokes, and
	// each holds a slot until a worker takes it off the queue.
	s.queue <- inv

	timer := timerPool.Get().(*time.Timer)
	timer.Reset(time.Until(inv.Deadline))
	defer func() {
		// Since Go 1.23 a stopped timer's channel never delivers a stale
		// tick, so it can serve the next invoke.
		timer.Stop()
		timerPool.Put(timer)
	}()
	select {
	case <-inv.done:
		return nil
	case <-timer.C:
		if s.abandon(inv) {
			inv.fail(ErrorTypeTimeout, timeoutMessage(inv))
			return nil
		}
	case <-ctx.Done():
		if s.abandon(inv) {
			return ctx.Err()
		}
	case <-s.closed:
		if s.abandon(inv) {
			inv.fail(s.closeErr, "RequestId: "+inv.ID+" Error: Runtime exited without providing a reason")
			return nil
		}
	}
	// The answer won the race against the timer.
	<-inv.done
	return nil
}

// timerPool holds stopped timers for Invoke's deadlines: one per invoke
// would be an allocation per invoke.
var timerPool = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}}

// abandon gives up on inv. The slot stays taken until the runtime is done
// with the invoke (a late answer, or the worker skipping it on /next), so
// the EE is never handed more invokes than it has workers.
func (s *Server) abandon(inv *Invocation) bool {
	return inv.state.CompareAndSwap(stateQueued, stateAbandoned) ||
		inv.state.CompareAndSwap(stateDispatched, stateAbandoned)
}

func timeoutMessage(inv *Invocation) string {
	return "RequestId: " + inv.ID + " Error: Task timed out"
}

// fail records a platform failure as the invoke's function error.
func (inv *Invocation) fail(errorType, message string) {
	inv.FunctionError = "Unhandled"
	inv.ErrorType = errorType
	inv.Response, _ = json.Marshal(struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}{message, errorType})
}

const (
	prefix      = "/2018-06-01/runtime/"
	invPrefix   = prefix + "invocation/"
	nextPath    = invPrefix + "next"
	initErrPath = prefix + "init/error"
)

// serve accepts connections until Close. No read deadlines: they cost a
// timer update per request, and a runtime that stalls mid-request only
// hurts its own EE.
func (s *Server) serve() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		go s.serveConn(c)
	}
}

// serveConn runs the requests of one connection in order (HTTP/1.1
// keep-alive; runtimes do not pipeline).
func (s *Server) serveConn(c net.Conn) {
	if !s.conns.add(c) {
		c.Close()
		return
	}
	br := readerPool.Get().(*bufio.Reader)
	bw := writerPool.Get().(*bufio.Writer)
	br.Reset(c)
	bw.Reset(c)
	defer func() {
		s.conns.remove(c)
		c.Close()
		br.Reset(nil)
		bw.Reset(nil)
		readerPool.Put(br)
		writerPool.Put(bw)
	}()
	var req request
	for {
		if err := readRequest(br, &req); err != nil {
			if err == errBadRequest {
				bw.Write(respBad) //nolint:errcheck
				bw.Flush()        //nolint:errcheck
			}
			return
		}
		if err := s.route(br, bw, &req); err != nil || req.close {
			return
		}
	}
}

// route runs one request. An error ends the connection.
func (s *Server) route(br *bufio.Reader, bw *bufio.Writer, req *request) error {
	p := string(req.path) // no allocation: used for comparisons only
	switch {
	case p == nextPath && string(req.method) == "GET":
		return s.next(bw)
	case strings.HasPrefix(p, invPrefix) && string(req.method) == "POST":
		rest := p[len(invPrefix):]
		if id, ok := strings.CutSuffix(rest, "/response"); ok && id != "" {
			return s.answer(br, bw, req, id, false)
		}
		if id, ok := strings.CutSuffix(rest, "/error"); ok && id != "" {
			return s.answer(br, bw, req, id, true)
		}
	case p == initErrPath && string(req.method) == "POST":
		return s.initError(br, bw, req)
	}
	if _, _, err := readBody(br, bw, req, MaxResponseBytes); err != nil {
		return err
	}
	bw.Write(respNotFound) //nolint:errcheck
	return bw.Flush()
}

// next hands the next admitted invoke to a worker, waiting as long as it takes.
func (s *Server) next(bw *bufio.Writer) error {
	s.readyOnce.Do(func() { close(s.ready) })
	for {
		var inv *Invocation
		select {
		case inv = <-s.queue:
		case <-s.closed:
			return errClosedConn
		}
		if !inv.state.CompareAndSwap(stateQueued, stateDispatched) {
			s.slots.Release() // abandoned before any worker saw it
			continue
		}
		inv.dispatched.Store(time.Now().UnixNano())
		s.mu.Lock()
		s.pending[inv.ID] = inv
		s.mu.Unlock()
		if err := writeNext(bw, inv); err != nil {
			s.requeue(inv)
			return err
		}
		return nil
	}
}

var errClosedConn = errors.New("execution environment closed")

// requeue puts back an invoke whose worker vanished before receiving it,
// so another worker takes it instead of it timing out.
func (s *Server) requeue(inv *Invocation) {
	s.mu.Lock()
	delete(s.pending, inv.ID)
	s.mu.Unlock()
	if inv.state.CompareAndSwap(stateDispatched, stateQueued) {
		s.queue <- inv // its slot is still held, so there is room
	} else {
		s.slots.Release() // abandoned meanwhile: nobody waits for it
	}
}

// answer takes a /response or /error. Every well-formed answer gets 202,
// even a late or unknown one: aws-lambda-go ends the whole runtime process
// on any other status, and one late invoke must not take the EE down.
func (s *Server) answer(br *bufio.Reader, bw *bufio.Writer, req *request, id string, isError bool) error {
	body, tooLarge, err := readBody(br, bw, req, MaxResponseBytes)
	if err != nil {
		return err
	}
	s.mu.Lock()
	inv := s.pending[id]
	delete(s.pending, id)
	s.mu.Unlock()

	if inv != nil {
		// The worker is done with this invoke whatever it answered.
		s.slots.Release()
		s.completed.Add(1)
		if inv.state.CompareAndSwap(stateDispatched, stateAnswered) {
			inv.Answered = time.Now()
			switch {
			case tooLarge:
				inv.fail(ErrorTypeResponseTooLarge, "Response payload size exceeded maximum allowed payload size (6291456 bytes).")
			case isError:
				inv.FunctionError = "Unhandled"
				inv.ErrorType = req.errorType
				if inv.ErrorType == "" {
					// aws-lambda-go names the type only in the body.
					inv.ErrorType = errorTypeOf(body)
				}
				inv.Response = errorDocument(body, inv.ErrorType)
			case req.trailerType != "":
				// A failing response stream reports its error in trailers.
				inv.FunctionError = "Unhandled"
				inv.ErrorType = req.trailerType
				eb, _ := base64.StdEncoding.DecodeString(req.trailerBody)
				inv.Response = errorDocument(eb, req.trailerType)
			default:
				inv.Response = body
			}
			close(inv.done)
		}
	}
	bw.Write(respAccepted) //nolint:errcheck
	return bw.Flush()
}

// errorTypeOf reads errorType from a runtime's error document.
func errorTypeOf(body []byte) string {
	var doc struct {
		ErrorType string `json:"errorType"`
	}
	if json.Unmarshal(body, &doc) != nil {
		return ""
	}
	return doc.ErrorType
}

// errorDocument returns the runtime's error body if it is a JSON object, or
// wraps it into Lambda's {"errorMessage","errorType"} shape.
func errorDocument(body []byte, errorType string) []byte {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) > 0 && trimmed[0] == '{' && json.Valid(trimmed) {
		return body
	}
	if errorType == "" {
		errorType = "Unhandled"
	}
	doc, _ := json.Marshal(struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}{string(body), errorType})
	return doc
}

func (s *Server) initError(br *bufio.Reader, bw *bufio.Writer, req *request) error {
	body, _, err := readBody(br, bw, req, 1<<20)
	if err != nil {
		return err
	}
	select {
	case s.initErr <- InitError{Type: req.errorType, Body: body}:
	default: // only the first report matters
	}
	bw.Write(respAccepted) //nolint:errcheck
	return bw.Flush()
}
