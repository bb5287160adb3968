package hop

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/paddockhq/paddock/internal/runtimeapi"
)

// DefaultGrace is how long past an invocation's deadline a Client waits for
// the agent's answer: the agent answers a timed-out invoke itself at the
// deadline, so this covers the transfer of the answer and clock skew
// between the two machines.
const DefaultGrace = 10 * time.Second

// Client is the router's end of the hop, shared by every EE of every agent.
type Client struct {
	HTTP *http.Client
	// Grace: see DefaultGrace. Zero means DefaultGrace.
	Grace time.Duration
}

// NewClient returns a Client on a transport from NewTransport.
func NewClient() *Client {
	return &Client{HTTP: &http.Client{
		Transport: NewTransport(),
		// A redirect would send the invoke a second time.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// NewTransport is an HTTP/1.1 keep-alive transport for many concurrent
// invokes to a few agents. It has no response-header or overall timeout:
// the answer's headers come only when the invoke is done, up to 900 s
// later, so each request's context carries the invocation's deadline plus
// the grace instead.
func NewTransport() *http.Transport {
	d := &net.Dialer{
		Timeout: 5 * time.Second,
		// An invoke may hold its connection silent for 900 s: probes find
		// an agent machine that vanished without a reset in about 30 s,
		// rather than at the invoke's deadline.
		KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: 15 * time.Second, Interval: 5 * time.Second, Count: 3},
	}
	return &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				// Marked so that Invoke knows the request was never sent.
				return nil, &dialError{err}
			}
			return c, nil
		},
		// Every in-flight invoke holds a connection; keep as many idle as a
		// busy router has in flight to one agent, or each burst redials.
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 5 * time.Second,
		// HTTP/1.1 only: one TCP stream per invoke, so one 6 MB payload
		// does not hold up the small ones behind it.
		ForceAttemptHTTP2: false,
		TLSNextProto:      map[string]func(string, *tls.Conn) http.RoundTripper{},
		// Payloads are JSON the caller already sized; gzip would cost CPU
		// on both ends for a LAN hop.
		DisableCompression: true,
		// The default 4 KiB buffers stay: a 6 MB body goes past them in
		// large reads and writes anyway (64 KiB ones measured no faster
		// with 6 MB payloads at c=64), and 256 idle connections keep them.
	}
}

// dialError is an error from connecting to the agent: nothing of the
// request was sent.
type dialError struct{ err error }

func (e *dialError) Error() string { return e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// EE is an execution environment on another machine, as the router sees it
// (a router.Target).
type EE struct {
	client   *Client
	url      string
	auth     string
	id       string
	inFlight atomic.Int64
}

// NewEE is the EE eeID on the agent at baseURL (such as
// "http://10.0.0.7:9401"), reached with token.
func NewEE(client *Client, baseURL, token, eeID string) *EE {
	return &EE{
		client: client,
		url:    strings.TrimRight(baseURL, "/") + pathPrefix + url.PathEscape(eeID) + pathSuffix,
		auth:   "Bearer " + token,
		id:     eeID,
	}
}

// ID is the EE's id on its agent.
func (e *EE) ID() string { return e.id }

// InFlight counts the invokes this router has on the EE.
func (e *EE) InFlight() int { return int(e.inFlight.Load()) }

// Invoke runs inv on the remote EE and fills its result fields.
//
// It returns runtimeapi.ErrFull or runtimeapi.ErrClosed only when the
// invoke certainly did not run (the agent refused it, or no connection
// could be made), so that the router may try another EE. Any failure once
// the request may have reached the agent is a plain error: the invoke may
// have been dispatched, and must not run twice. ctx's error is returned
// when the caller gave up.
func (e *EE) Invoke(ctx context.Context, inv *runtimeapi.Invocation) error {
	e.inFlight.Add(1)
	defer e.inFlight.Add(-1)

	grace := e.client.Grace
	if grace <= 0 {
		grace = DefaultGrace
	}
	rctx, cancel := context.WithDeadline(ctx, inv.Deadline.Add(grace))
	defer cancel()
	// A *bytes.Reader gives the request its length and a GetBody, so the
	// transport may resend it on a fresh connection, which it does only when
	// not a byte of it was written to the stale one.
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, e.url, bytes.NewReader(inv.Payload))
	if err != nil {
		return fmt.Errorf("hop: invoke %s on EE %s: %w", inv.ID, e.id, err)
	}
	req.Header["Authorization"] = []string{e.auth}
	encodeRequest(req.Header, inv)

	resp, err := e.client.HTTP.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var de *dialError
		if errors.As(err, &de) {
			return fmt.Errorf("hop: EE %s: %w: %w", e.id, runtimeapi.ErrClosed, err)
		}
		return fmt.Errorf("hop: invoke %s on EE %s: %w", inv.ID, e.id, err)
	}
	defer resp.Body.Close()

	switch resp.StatusCode {
	case http.StatusOK:
		body, err := readPayload(resp.Body, resp.ContentLength, maxAnswerBytes)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("hop: invoke %s on EE %s: read answer: %w", inv.ID, e.id, err)
		}
		if err := decodeResult(resp.Header, inv); err != nil {
			return fmt.Errorf("hop: invoke %s on EE %s: %w", inv.ID, e.id, err)
		}
		inv.Response = body
		return nil
	case http.StatusTooManyRequests:
		if first(resp.Header, hdrRefused) == refusedFull {
			io.Copy(io.Discard, resp.Body) //nolint:errcheck // empty; read so the connection is reused
			return runtimeapi.ErrFull
		}
	case http.StatusGone:
		if first(resp.Header, hdrRefused) == refusedClosed {
			io.Copy(io.Discard, resp.Body) //nolint:errcheck // as above
			return fmt.Errorf("hop: EE %s: %w", e.id, runtimeapi.ErrClosed)
		}
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	return fmt.Errorf("hop: invoke %s on EE %s: agent answered %s: %s", inv.ID, e.id, resp.Status, bytes.TrimSpace(msg))
}
