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
	"slices"
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
//
// Admitted invokes meet workers under one mutex: an invoke that finds a
// worker parked on /next is written to that worker's connection by the
// invoking goroutine itself, while the connection's own goroutine is
// already back to reading its next request; an invoke that finds none is
// queued, and the next /next takes it. Handing over without waking a
// parked goroutine saves a goroutine switch and a read per invoke.
type Server struct {
	slots *Slots

	mu      sync.Mutex
	queued  []*Invocation          // admitted, waiting for a worker (FIFO; at most max concurrency)
	parked  []*workerConn          // workers waiting on /next for an invoke
	pending map[string]*Invocation // dispatched, waiting for /response or /error

	readyOnce sync.Once
	ready     chan struct{} // closed at the first /next: init is done
	initErr   chan InitError

	closeOnce sync.Once
	closed    chan struct{}
	closeErr  string // errorType given to invokes failed by Close

	ln    net.Listener
	conns connSet
	opt   options

	// overdue holds the ids of dispatched invokes whose slot was freed past
	// their deadline without an answer (under mu; see markOverdue), and
	// activity counts /next polls and answers (under mu): both feed the
	// stuck check.
	overdue   map[string]struct{}
	activity  uint64
	stuckOnce sync.Once
	stuck     chan struct{}

	completed atomic.Uint64 // invokes answered by the runtime (for rates)
}

// NewServer listens on a loopback port of the host for an EE running up
// to maxConcurrency invokes at once. An EE with a network namespace of its
// own listens there with Listen and serves with NewServerOn instead.
func NewServer(maxConcurrency int) (*Server, error) {
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	return NewServerOn(ln, maxConcurrency), nil
}

// Listen makes a listener for NewServerOn, such as 127.0.0.1:9001 inside
// an EE's network namespace (call it from a goroutine whose OS thread is
// in that namespace: the socket stays there). No TCP keepalive probes: the
// peer is a local process, and aws-lambda-go's client keeps only 2 idle
// connections, so most calls arrive on a fresh connection; skipping the
// keepalive setsockopts makes each accept cheaper.
func Listen(addr string) (net.Listener, error) {
	lc := net.ListenConfig{KeepAlive: -1}
	return lc.Listen(context.Background(), "tcp", addr)
}

// NewServerOn serves the Runtime API of an EE running up to
// maxConcurrency invokes at once on ln, which the caller made (see
// Listen). The server owns ln from then on: Close closes it. Addr is ln's
// address.
func NewServerOn(ln net.Listener, maxConcurrency int) *Server {
	return newServerOn(ln, maxConcurrency, defaultOptions(maxConcurrency))
}

func newServerOn(ln net.Listener, maxConcurrency int, opt options) *Server {
	s := &Server{
		slots:   NewSlots(maxConcurrency),
		pending: make(map[string]*Invocation),
		ready:   make(chan struct{}),
		initErr: make(chan InitError, 1),
		closed:  make(chan struct{}),
		ln:      ln,
		opt:     opt,
		overdue: make(map[string]struct{}),
		stuck:   make(chan struct{}),
	}
	go s.serve()
	go s.sweeper()
	return s
}

// Addr is the host:port for AWS_LAMBDA_RUNTIME_API.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Completed counts the invokes the runtime has answered, late ones included.
func (s *Server) Completed() uint64 { return s.completed.Load() }

// Slots is the EE's admission.
func (s *Server) Slots() *Slots { return s.slots }

// Ready is closed when a worker first polls /next: init is complete.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Stuck is closed when every worker of the EE holds an invoke that is past
// its deadline plus grace and has not been answered, and no worker has
// polled /next or answered anything for a while (see stuckRule): the EE
// cannot run anything any more and should be replaced. It is never closed
// for an EE whose workers answer, however late. The server itself goes on
// as before: it is the caller's to drain and Close it.
func (s *Server) Stuck() <-chan struct{} { return s.stuck }

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
	s.dispatch(inv)

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
// the EE is never handed more invokes than it has workers; but not past
// the invoke's deadline plus overdueGrace: then the sweeper frees it (see
// reapOverdue), so that a worker that never answers cannot keep it.
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

// serveConn runs the requests of one connection in order (HTTP/1.1
// keep-alive; runtimes do not pipeline).
// The accept loop has added wc to the connection set.
func (s *Server) serveConn(wc *workerConn) {
	c := wc.Conn
	br := readerPool.Get().(*bufio.Reader)
	bw := writerPool.Get().(*bufio.Writer)
	br.Reset(wc) // counts bytes read, for the sweeper
	bw.Reset(c)
	defer func() {
		s.unpark(wc)
		s.conns.remove(wc)
		c.Close()
		br.Reset(nil)
		bw.Reset(nil)
		readerPool.Put(br)
		writerPool.Put(bw)
	}()
	var req request
	for {
		err := readRequest(br, &req)
		wc.seq.Add(1) // in a request
		if s.unpark(wc) {
			// A request while this worker still waits for its /next
			// answer: runtimes do not pipeline, and an answer written
			// now could land inside the one to this request.
			return
		}
		wc.writing.Lock()
		if err == nil {
			err = s.route(wc, br, bw, &req)
		} else if err == errBadRequest {
			bw.Write(respBad) //nolint:errcheck
			bw.Flush()        //nolint:errcheck
		}
		wc.writing.Unlock()
		wc.seq.Add(1) // between requests
		if err != nil || req.close {
			return
		}
	}
}

// route runs one request. An error ends the connection.
func (s *Server) route(wc *workerConn, br *bufio.Reader, bw *bufio.Writer, req *request) error {
	p := string(req.path) // no allocation: used for comparisons only
	switch {
	case p == nextPath && string(req.method) == "GET":
		return s.next(wc, bw)
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

// next answers a worker's /next with a queued invoke, or parks the worker
// until dispatch has one for it. It runs with wc.writing held.
func (s *Server) next(wc *workerConn, bw *bufio.Writer) error {
	s.readyOnce.Do(func() { close(s.ready) })
	for {
		s.mu.Lock()
		s.activity++
		if len(s.queued) == 0 {
			select {
			case <-s.closed:
				s.mu.Unlock()
				return errClosedConn
			default:
			}
			wc.parked.Store(true)
			s.parked = append(s.parked, wc)
			s.mu.Unlock()
			return nil
		}
		inv := s.queued[0]
		s.queued[0] = nil
		s.queued = s.queued[1:]
		if !s.take(inv) {
			s.mu.Unlock()
			s.slots.Release() // abandoned before any worker saw it
			continue
		}
		s.mu.Unlock()
		if err := writeNext(bw, inv); err != nil {
			s.redispatch(inv)
			return err
		}
		return nil
	}
}

// dispatch hands an admitted invoke to a parked worker, writing the /next
// answer from this goroutine, or queues it for the next /next.
func (s *Server) dispatch(inv *Invocation) {
	for {
		s.mu.Lock()
		n := len(s.parked)
		if n == 0 {
			s.queued = append(s.queued, inv)
			s.mu.Unlock()
			return
		}
		if !s.take(inv) {
			s.mu.Unlock()
			s.slots.Release() // abandoned while its first worker vanished
			return
		}
		// The worker parked longest, as a channel's receivers would be
		// served.
		wc := s.parked[0]
		s.parked[0] = nil
		s.parked = s.parked[1:]
		wc.parked.Store(false)
		s.mu.Unlock()
		if len(inv.Payload) > inlinePayload {
			// A large write could block on a runtime that stopped
			// reading, and the invoker must stay free to time out.
			go s.deliver(wc, inv)
			return
		}
		if s.write(wc, inv) {
			return
		}
		if !s.undispatch(inv) {
			return
		}
	}
}

// inlinePayload is the largest /next answer body that dispatch writes from
// the invoking goroutine: it fits in an idle loopback socket's buffer, so
// the write cannot block.
const inlinePayload = 16 << 10

// deliver writes a large invoke to its worker from a goroutine of its own,
// which ends with the write: Close closes every connection.
func (s *Server) deliver(wc *workerConn, inv *Invocation) {
	if !s.write(wc, inv) {
		s.redispatch(inv)
	}
}

// write sends inv as the /next answer on wc; false means the worker is
// gone, and its connection is closed.
func (s *Server) write(wc *workerConn, inv *Invocation) bool {
	bw := writerPool.Get().(*bufio.Writer)
	bw.Reset(wc)
	wc.writing.Lock()
	err := writeNext(bw, inv)
	wc.writing.Unlock()
	bw.Reset(nil)
	writerPool.Put(bw)
	if err != nil {
		wc.Close()
		return false
	}
	return true
}

// take marks a queued invoke as handed to a worker; false if its caller
// already gave up on it. It runs with s.mu held.
func (s *Server) take(inv *Invocation) bool {
	if !inv.state.CompareAndSwap(stateQueued, stateDispatched) {
		return false
	}
	inv.dispatched.Store(time.Now().UnixNano())
	s.pending[inv.ID] = inv
	return true
}

// unpark removes a worker from the parked ones; it reports whether it was
// parked.
func (s *Server) unpark(wc *workerConn) bool {
	if !wc.parked.Load() {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !wc.parked.Load() {
		return false // dispatched meanwhile
	}
	wc.parked.Store(false)
	if i := slices.Index(s.parked, wc); i >= 0 {
		s.parked = slices.Delete(s.parked, i, i+1)
	}
	return true
}

var errClosedConn = errors.New("execution environment closed")

// undispatch takes back an invoke whose worker vanished before receiving
// it; false if its caller gave up meanwhile (then nobody waits for it and
// its slot is freed) or if it is no longer pending (answered anyway, or
// freed as overdue: whoever removed it from pending freed its slot).
func (s *Server) undispatch(inv *Invocation) bool {
	s.mu.Lock()
	if s.pending[inv.ID] != inv {
		s.mu.Unlock()
		return false
	}
	delete(s.pending, inv.ID)
	s.mu.Unlock()
	if inv.state.CompareAndSwap(stateDispatched, stateQueued) {
		return true
	}
	s.slots.Release()
	return false
}

// redispatch gives an invoke whose worker vanished to another worker, so
// that it does not wait for its deadline.
func (s *Server) redispatch(inv *Invocation) {
	if s.undispatch(inv) {
		s.dispatch(inv)
	}
}

// answer takes a /response or /error. Every well-formed answer gets 202,
// even a late or unknown one: aws-lambda-go ends the whole runtime process
// on any other status, and one late invoke must not take the EE down.
func (s *Server) answer(br *bufio.Reader, bw *bufio.Writer, req *request, id string, isError bool) error {
	var (
		body               []byte
		tooLarge, streamed bool
		err                error
	)
	if stream := s.streamOf(id, isError, req); stream != nil {
		streamed = true
		tooLarge, err = streamBody(br, bw, req, stream, MaxStreamedResponseBytes)
	} else {
		body, tooLarge, err = readBody(br, bw, req, MaxResponseBytes)
	}
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.activity++
	inv := s.pending[id]
	late := false
	if inv != nil {
		delete(s.pending, id)
	} else if _, late = s.overdue[id]; late {
		// Its slot was freed already: the worker is alive after all.
		delete(s.overdue, id)
	}
	s.mu.Unlock()

	if late {
		s.completed.Add(1)
	}
	if inv != nil {
		// The worker is done with this invoke whatever it answered.
		s.slots.Release()
		s.completed.Add(1)
		if inv.state.CompareAndSwap(stateDispatched, stateAnswered) {
			inv.Answered = time.Now()
			switch {
			case tooLarge && streamed:
				inv.fail(ErrorTypeResponseTooLarge, "Response payload size exceeded maximum allowed payload size (209715200 bytes).")
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

// streamOf is the stream that an answer to the invoke id goes to as it
// arrives: a /response in chunks to a pending invoke that has one.
func (s *Server) streamOf(id string, isError bool, req *request) ResponseStream {
	if isError || !req.chunked {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if inv := s.pending[id]; inv != nil {
		return inv.Stream
	}
	return nil
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
