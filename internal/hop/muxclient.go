package hop

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/paddockhq/paddock/internal/runtimeapi"
)

// errNoMux: the agent does not speak the multiplexed hop (an older agent),
// so its invokes take a request each.
var errNoMux = errors.New("hop: the agent has no multiplexed hop")

// noMuxRetry is how long a Client keeps to plain requests for an agent
// that refused the upgrade before it asks again.
const noMuxRetry = time.Minute

// maxResultFrame is the largest frame the router reads: an answer and its
// fields (a log tail is at most 4 KB).
const maxResultFrame = maxAnswerBytes + 64<<10

// muxSlot is a Client's multiplexed session with one agent (by the upgrade
// request, which names the address and the token), dialed on first use
// and again after it ends.
type muxSlot struct {
	mu         sync.Mutex
	s          *session
	dialing    chan struct{} // closed when the dial in progress ends
	noMuxUntil time.Time
}

// slotKey is the key of e's agent's muxSlot: its address, certificate and
// token.
func (e *EE) slotKey() string { return e.pool.key + " " + e.muxHead }

// session returns e's agent's open session, dialing one if there is none.
func (c *Client) session(ctx context.Context, e *EE) (*session, error) {
	c.mu.Lock()
	if c.slots == nil {
		c.slots = make(map[string]*muxSlot)
	}
	key := e.slotKey()
	slot := c.slots[key]
	if slot == nil {
		slot = &muxSlot{}
		c.slots[key] = slot
	}
	c.mu.Unlock()
	for {
		slot.mu.Lock()
		if s := slot.s; s != nil && s.open() {
			slot.mu.Unlock()
			return s, nil
		}
		if time.Now().Before(slot.noMuxUntil) {
			slot.mu.Unlock()
			return nil, errNoMux
		}
		if ch := slot.dialing; ch != nil {
			slot.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		ch := make(chan struct{})
		slot.dialing = ch
		slot.mu.Unlock()

		s, err := c.dialSession(ctx, e)
		slot.mu.Lock()
		slot.dialing = nil
		switch {
		case err == nil:
			slot.s = s
		case errors.Is(err, errNoMux):
			slot.noMuxUntil = time.Now().Add(noMuxRetry)
		}
		slot.mu.Unlock()
		close(ch)
		return s, err
	}
}

// dialSession connects to e's agent and upgrades the connection. Nothing
// of any invoke has been sent when it fails, so its errors other than
// ctx's are runtimeapi.ErrClosed (or errNoMux).
func (c *Client) dialSession(ctx context.Context, e *EE) (*session, error) {
	nc, err := c.dial(ctx, e)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("hop: EE %s: %w: %w", e.id, runtimeapi.ErrClosed, err)
	}
	nc.SetDeadline(time.Now().Add(dialTimeout))                             //nolint:errcheck // a closed connection fails the write
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(aLongTimeAgo) }) //nolint:errcheck
	br := bufio.NewReaderSize(nc, 64<<10)
	var resp *http.Response
	if _, err = io.WriteString(nc, e.muxHead); err == nil {
		resp, err = http.ReadResponse(br, nil)
	}
	if !stop() {
		nc.Close()
		return nil, ctx.Err()
	}
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("hop: EE %s: %w: upgrade: %w", e.id, runtimeapi.ErrClosed, err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Upgrade") != muxProtocol {
		// The plain request will meet whatever made the agent refuse (a
		// bad token, say) and report it.
		nc.Close()
		return nil, errNoMux
	}
	nc.SetDeadline(time.Time{}) //nolint:errcheck
	s := &session{fw: frameWriter{conn: nc}, calls: make(map[uint64]chan frame)}
	go s.read(br)
	return s, nil
}

// session is the router's end of one multiplexed connection to an agent.
// Its one goroutine reads answers and hands each to the invoke waiting for
// it; the invokes write their own frames (frameWriter). It ends with its
// connection, failing every invoke still waiting.
type session struct {
	fw frameWriter

	mu    sync.Mutex
	calls map[uint64]chan frame // waiting for an answer, by call
	next  uint64
	err   error // why the connection ended; nil while it is open
}

func (s *session) open() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err == nil
}

// idle reports whether no invoke waits on s.
func (s *session) idle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls) == 0
}

// begin numbers a new call and returns where its answer will come.
func (s *session) begin() (uint64, chan frame, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return 0, nil, s.err
	}
	s.next++
	ch := make(chan frame, 1)
	s.calls[s.next] = ch
	return s.next, ch, nil
}

// forget drops a call that stops waiting; false when its answer (or the
// session's end) has already been handed to it.
func (s *session) forget(call uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.calls[call]
	delete(s.calls, call)
	return ok
}

func (s *session) read(br *bufio.Reader) {
	for {
		f, err := readFrame(br, maxResultFrame)
		if err == nil && (f.kind < kindResult || f.kind > kindFailed) {
			err = errBadFrame
		}
		if err != nil {
			s.end(err)
			return
		}
		s.mu.Lock()
		ch := s.calls[f.call]
		delete(s.calls, f.call)
		s.mu.Unlock()
		if ch != nil {
			ch <- f // buffered: never blocks
		}
		// No waiter: a call that gave up; its answer is dropped.
	}
}

// end closes the session and wakes every waiting call with a frame of kind
// 0, for which s.err says what happened.
func (s *session) end(cause error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = fmt.Errorf("connection to the agent lost: %w", cause)
	}
	calls := s.calls
	s.calls = map[uint64]chan frame{}
	s.mu.Unlock()
	s.fw.conn.Close()
	for _, ch := range calls {
		ch <- frame{}
	}
}

// close ends an idle session.
func (s *session) close() { s.end(net.ErrClosed) }

// invokeMux runs inv over the agent's multiplexed session. errNoMux means
// nothing was sent: the caller takes the plain hop.
func (e *EE) invokeMux(ctx context.Context, inv *runtimeapi.Invocation, grace time.Duration) error {
	s, err := e.client.session(ctx, e)
	if err != nil {
		return err
	}
	call, answer, err := s.begin()
	if err != nil {
		// The session ended before anything of this invoke was sent.
		return fmt.Errorf("hop: EE %s: %w: %w", e.id, runtimeapi.ErrClosed, err)
	}
	h := make(map[string][]string, 4)
	encodeRequest(h, inv)
	head, err := appendFields(appendID(make([]byte, 0, 256), e.id), h)
	if err != nil {
		s.forget(call)
		return fmt.Errorf("hop: invoke %s on EE %s: %w", inv.ID, e.id, err)
	}
	if err := s.fw.send(kindInvoke, call, head, inv.Payload); err != nil {
		// Some of it may have reached the agent: not retryable.
		s.end(err)
		return fmt.Errorf("hop: invoke %s on EE %s: send: %w", inv.ID, e.id, err)
	}
	timer := time.NewTimer(time.Until(inv.Deadline.Add(grace)))
	defer timer.Stop()
	var f frame
	select {
	case f = <-answer:
	case <-ctx.Done():
		if s.forget(call) {
			s.fw.send(kindCancel, call) //nolint:errcheck // a broken connection cancels it too
			return ctx.Err()
		}
		f = <-answer // it came as the caller left
	case <-timer.C:
		if s.forget(call) {
			s.fw.send(kindCancel, call) //nolint:errcheck
			return fmt.Errorf("hop: invoke %s on EE %s: no answer by its deadline", inv.ID, e.id)
		}
		f = <-answer
	}
	return e.muxResult(s, f, inv)
}

// muxResult fills inv from its answer frame f.
func (e *EE) muxResult(s *session, f frame, inv *runtimeapi.Invocation) error {
	switch f.kind {
	case kindResult:
		h, body, err := cutFields(f.body)
		if err == nil {
			err = decodeResult(h, inv)
		}
		if err != nil {
			return fmt.Errorf("hop: invoke %s on EE %s: %w", inv.ID, e.id, err)
		}
		inv.Response = body
		return nil
	case kindRefused:
		switch string(f.body) {
		case refusedFull:
			return runtimeapi.ErrFull
		case refusedClosed:
			return fmt.Errorf("hop: EE %s: %w", e.id, runtimeapi.ErrClosed)
		}
		return fmt.Errorf("hop: invoke %s on EE %s: agent refused it: %q", inv.ID, e.id, f.body)
	case kindFailed:
		return fmt.Errorf("hop: invoke %s on EE %s: agent: %s", inv.ID, e.id, f.body)
	}
	s.mu.Lock()
	err := s.err
	s.mu.Unlock()
	return fmt.Errorf("hop: invoke %s on EE %s: %w", inv.ID, e.id, err)
}
