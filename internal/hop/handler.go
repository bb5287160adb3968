package hop

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/paddockhq/paddock/internal/runtimeapi"
)

// Invoker runs one invoke on an EE: *agent.EE and *runtimeapi.Server are
// both Invokers.
type Invoker interface {
	Invoke(ctx context.Context, inv *runtimeapi.Invocation) error
}

// Handler is the agent's end of the hop: POST /v1/ee/{id}/invoke runs the
// invoke carried by the request on the EE that Lookup finds.
//
// It is only the handler: Server runs it with the limits and the hang-up
// detection the hop needs. Any other server it runs in must cap and time
// out connections (ReadHeaderTimeout, IdleTimeout, MaxConns) like
// Paddock's other servers, with no overall read or write timeout (an
// invoke may last 900 s), and must notice a router's hang-up during the
// invoke, as net/http does (frontdoor's fast loop alone does not).
type Handler struct {
	// Token is the shared secret a router presents as "Authorization:
	// Bearer <Token>". Required: an empty Token refuses every request.
	Token string
	// Lookup returns the EE with that id, or nil (an untyped nil) when the
	// agent has none.
	Lookup func(eeID string) Invoker

	sessions atomic.Int64 // multiplexed connections open (muxserver.go)
}

// POST /v1/ee/{id}/invoke answers whole, with Content-Length;
// /v1/ee/{id}/invoke-stream (a router's InvokeWithResponseStream or
// RESPONSE_STREAM URL) passes a streamed answer on as the function writes
// it, chunked, its result fields in trailers. The second goes to net/http
// behind Server's fast loop, which writes no chunked answers.
const (
	pathPrefix       = "/v1/ee/"
	pathSuffix       = "/invoke"
	pathStreamSuffix = "/invoke-stream"
)

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.serve(w, r, nil) }

// serve is ServeHTTP on the connection wc of a Server's fast loop, or nil.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, wc *watchedConn) {
	// Authentication comes first, before the body or even the path is looked
	// at, and the connection is closed after the 401 so that the server does
	// not read on to discard an unauthenticated body.
	if !h.authorized(r.Header["Authorization"]) {
		if wc != nil {
			wc.refuseBody() // the fast loop's way to the same
		}
		w.Header()["Connection"] = []string{"close"}
		w.Header()["Www-Authenticate"] = []string{"Bearer"}
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	if r.URL.Path == pathMux {
		h.serveMux(w, r)
		return
	}
	id, ok := strings.CutPrefix(r.URL.Path, pathPrefix)
	streamed := false
	if ok {
		var whole string
		if whole, ok = strings.CutSuffix(id, pathSuffix); ok {
			id = whole
		} else if id, ok = strings.CutSuffix(id, pathStreamSuffix); ok {
			streamed = true
		}
	}
	if !ok || id == "" || strings.Contains(id, "/") {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if r.Method != http.MethodPost {
		w.Header()["Allow"] = []string{http.MethodPost}
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	var ee Invoker
	if h.Lookup != nil {
		ee = h.Lookup(id)
	}
	if ee == nil {
		refuse(w, http.StatusGone, refusedClosed)
		return
	}
	if r.ContentLength > MaxPayloadBytes {
		w.Header()["Connection"] = []string{"close"}
		http.Error(w, "payload larger than 6 MB", http.StatusRequestEntityTooLarge)
		return
	}
	inv := &runtimeapi.Invocation{}
	if err := decodeRequest(r.Header, inv); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	payload, err := readPayload(r.Body, r.ContentLength, MaxPayloadBytes)
	if err != nil {
		if errors.Is(err, errTooLarge) {
			w.Header()["Connection"] = []string{"close"}
			http.Error(w, "payload larger than 6 MB", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "read payload: "+err.Error(), http.StatusBadRequest)
		return
	}
	inv.Payload = payload
	var stream *answerStream
	if streamed {
		stream = &answerStream{w: w}
		inv.Stream = stream
	}

	// The request's context ends when the router hangs up: the EE then
	// abandons the invoke and frees its slot.
	ctx := r.Context()
	if wc != nil {
		var stop func()
		ctx, stop = wc.watch(ctx)
		err = ee.Invoke(ctx, inv)
		stop()
	} else {
		err = ee.Invoke(ctx, inv)
	}
	if stream != nil && stream.finish() {
		// The answer went out as it came: its result follows as trailers
		// (a router that hung up has nobody to read them).
		tr := make(map[string][]string, 4)
		encodeResult(tr, inv)
		if inv.FunctionError != "" {
			tr[hdrErrorBody] = []string{base64.StdEncoding.EncodeToString(inv.Response)}
		}
		hd := w.Header()
		for k, v := range tr {
			hd[http.TrailerPrefix+k] = v
		}
		return
	}
	switch {
	case err == nil:
	case errors.Is(err, runtimeapi.ErrFull):
		refuse(w, http.StatusTooManyRequests, refusedFull)
		return
	case errors.Is(err, runtimeapi.ErrClosed):
		refuse(w, http.StatusGone, refusedClosed)
		return
	default:
		// Never a 200 here: when the context ended because the server is
		// shutting down, the router is still listening and must not take an
		// empty body for the function's answer.
		http.Error(w, "invoke: "+err.Error(), http.StatusInternalServerError)
		return
	}
	hd := w.Header()
	encodeResult(hd, inv)
	// An explicit type spares net/http sniffing the body.
	hd["Content-Type"] = []string{"application/octet-stream"}
	hd["Content-Length"] = []string{strconv.Itoa(len(inv.Response))}
	w.WriteHeader(http.StatusOK)
	w.Write(inv.Response) //nolint:errcheck // the router is gone; nothing to tell
}

func (h *Handler) authorized(v []string) bool {
	if h.Token == "" || len(v) != 1 {
		return false
	}
	token, ok := strings.CutPrefix(v[0], "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(token), []byte(h.Token)) == 1
}

// refuse answers an invoke the agent did not admit; the header, not the
// status alone, is what the client trusts.
func refuse(w http.ResponseWriter, status int, why string) {
	w.Header()[hdrRefused] = []string{why}
	w.Header()["Content-Length"] = []string{"0"}
	w.WriteHeader(status)
}

var errTooLarge = errors.New("body too large")

// readPayload reads a body of known length (n >= 0) into one allocation of
// that size, or an unknown one up to limit.
func readPayload(r io.Reader, n, limit int64) ([]byte, error) {
	if n > limit {
		return nil, errTooLarge
	}
	if n >= 0 {
		b := make([]byte, n)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		return b, nil
	}
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, errTooLarge
	}
	return b, nil
}

// answerStream passes a streamed answer to the router as the EE's Runtime
// API receives it: the head at the first bytes, then each part, flushed.
// finish ends it; what the Runtime API writes later is refused.
type answerStream struct {
	w       http.ResponseWriter
	mu      sync.Mutex
	started bool
	done    bool
}

func (s *answerStream) WriteStream(contentType string, p []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return errStreamDone
	}
	if !s.started {
		s.started = true
		hd := s.w.Header()
		hd[hdrStreamType] = []string{contentType}
		hd["Content-Type"] = []string{"application/octet-stream"}
		s.w.WriteHeader(http.StatusOK)
	}
	if _, err := s.w.Write(p); err != nil {
		s.done = true
		return err
	}
	return http.NewResponseController(s.w).Flush()
}

// finish stops the stream and says whether its head went out.
func (s *answerStream) finish() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.done = true
	return s.started
}

var errStreamDone = errors.New("hop: the invoke's answer is complete")
