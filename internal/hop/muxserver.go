package hop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/paddockhq/paddock/internal/runtimeapi"
)

const (
	// pathMux upgrades a hop connection to the multiplexed hop
	// (muxProtocol): frames of many invokes at once (frame.go).
	pathMux     = "/v1/mux"
	muxProtocol = "paddock-hop-mux"
	// muxMaxPayload: an invoke with a larger payload (or a streamed
	// answer) takes a request of its own, so that small invokes never
	// queue behind its bytes on the shared connection.
	muxMaxPayload = 64 << 10
	// maxInvokeFrame is the largest frame the agent reads: the payload and
	// its fields (a client context is at most 3,583 bytes).
	maxInvokeFrame = muxMaxPayload + 64<<10
	// maxSessionCalls bounds the invokes one session has in flight on the
	// agent; a router past it is refused "full".
	maxSessionCalls = 1 << 16
	// maxSessions bounds an agent's multiplexed connections (each router
	// keeps one per agent).
	maxSessions = 256
)

// serveMux turns r's connection into a multiplexed session and serves it
// until the router closes it or the server's context ends. r is
// authorized. Only net/http can hand over a connection: Server sends
// pathMux there.
func (h *Handler) serveMux(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header()["Allow"] = []string{http.MethodPost}
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if r.Header.Get("Upgrade") != muxProtocol {
		http.Error(w, "want Upgrade: "+muxProtocol, http.StatusBadRequest)
		return
	}
	if h.sessions.Add(1) > maxSessions {
		h.sessions.Add(-1)
		http.Error(w, "too many multiplexed connections", http.StatusServiceUnavailable)
		return
	}
	defer h.sessions.Add(-1)
	nc, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "this server cannot hand over connections", http.StatusNotImplemented)
		return
	}
	nc.SetDeadline(time.Time{}) //nolint:errcheck // a closed connection fails the write
	if _, err := io.WriteString(nc, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: "+muxProtocol+"\r\n\r\n"); err != nil {
		nc.Close()
		return
	}
	// A reader large enough that one read takes in many frames; the bytes
	// net/http had read ahead come first.
	var src io.Reader = nc
	if n := brw.Reader.Buffered(); n > 0 {
		ahead, _ := brw.Reader.Peek(n)
		src = io.MultiReader(bytes.NewReader(bytes.Clone(ahead)), nc)
	}
	s := &agentSession{h: h, br: bufio.NewReaderSize(src, 64<<10), fw: frameWriter{conn: nc}, calls: make(map[uint64]context.CancelFunc)}
	s.run(r.Context())
	nc.Close()
}

// agentSession is the agent's end of one multiplexed connection.
type agentSession struct {
	h  *Handler
	br *bufio.Reader
	fw frameWriter

	mu    sync.Mutex
	calls map[uint64]context.CancelFunc // the invokes in flight, by call
	wg    sync.WaitGroup                // their goroutines
}

// run reads frames until the connection ends or parent does, then cancels
// what is still in flight and waits for it to answer. A router that hangs
// up thus cancels its invokes, as on the plain hop.
func (s *agentSession) run(parent context.Context) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		defer cancel()
		s.read(ctx)
	}()
	<-ctx.Done()
	s.fw.conn.SetReadDeadline(aLongTimeAgo) //nolint:errcheck // ends the read in progress
	<-readDone
	s.wg.Wait() // every call has answered, or failed to
}

func (s *agentSession) read(ctx context.Context) {
	for {
		f, err := readFrame(s.br, maxInvokeFrame)
		if err != nil {
			return
		}
		switch f.kind {
		case kindInvoke:
			if !s.start(ctx, f) {
				return
			}
		case kindCancel:
			s.mu.Lock()
			if cancel := s.calls[f.call]; cancel != nil {
				cancel()
			}
			s.mu.Unlock()
		default:
			return // not a router speaking this protocol
		}
	}
}

// start begins the invoke of f; false when f breaks the protocol.
func (s *agentSession) start(ctx context.Context, f frame) bool {
	eeID, rest, err := cutString(f.body)
	if err != nil {
		return false
	}
	h, payload, err := cutFields(rest)
	if err != nil {
		return false
	}
	inv := &runtimeapi.Invocation{}
	if err := decodeRequest(h, inv); err != nil {
		s.fw.send(kindFailed, f.call, []byte(err.Error())) //nolint:errcheck // a broken connection ends the session
		return true
	}
	inv.Payload = payload
	var ee Invoker
	if s.h.Lookup != nil {
		ee = s.h.Lookup(eeID)
	}
	if ee == nil {
		s.fw.send(kindRefused, f.call, []byte(refusedClosed)) //nolint:errcheck
		return true
	}
	callCtx, cancel := context.WithCancel(ctx)
	s.mu.Lock()
	_, dup := s.calls[f.call]
	full := len(s.calls) >= maxSessionCalls
	if !dup && !full {
		s.calls[f.call] = cancel
	}
	s.mu.Unlock()
	switch {
	case dup:
		cancel()
		return false
	case full:
		cancel()
		s.fw.send(kindRefused, f.call, []byte(refusedFull)) //nolint:errcheck
		return true
	}
	s.wg.Go(func() {
		err := ee.Invoke(callCtx, inv)
		s.mu.Lock()
		delete(s.calls, f.call)
		s.mu.Unlock()
		cancel()
		s.answer(f.call, inv, err)
	})
	return true
}

// answer sends the outcome of call, as Handler.serve answers on the plain
// hop.
func (s *agentSession) answer(call uint64, inv *runtimeapi.Invocation, err error) {
	switch {
	case err == nil:
		h := make(map[string][]string, 4)
		encodeResult(h, inv)
		fields, ferr := appendFields(make([]byte, 0, 128), h)
		if ferr != nil {
			s.fw.send(kindFailed, call, []byte(ferr.Error())) //nolint:errcheck
			return
		}
		s.fw.send(kindResult, call, fields, inv.Response) //nolint:errcheck
	case errors.Is(err, runtimeapi.ErrFull):
		s.fw.send(kindRefused, call, []byte(refusedFull)) //nolint:errcheck
	case errors.Is(err, runtimeapi.ErrClosed):
		s.fw.send(kindRefused, call, []byte(refusedClosed)) //nolint:errcheck
	default:
		s.fw.send(kindFailed, call, []byte("invoke: "+err.Error())) //nolint:errcheck
	}
}

// appendID appends the EE id of an invoke frame.
func appendID(b []byte, id string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(id)))
	return append(b, id...)
}
