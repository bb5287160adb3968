package lambdaapi

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/paddockhq/paddock/internal/awsmodel"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/paddockhq/paddock/internal/frontdoor"
)

// blockedInvoke is an invoke handler that waits for its context to end,
// as one does whose EE is still running when the server stops.
func blockedInvoke(a *API, started chan<- struct{}) handler {
	return func(w http.ResponseWriter, r *http.Request, _ []byte) error {
		if started != nil {
			started <- struct{}{}
		}
		<-r.Context().Done()
		return a.ended(r.Context())
	}
}

// TestEndedInvokeAnswers: an invoke whose context the server ended is
// answered ServiceException (500), never nothing (which a server finishes
// as an empty 200); one whose caller hung up is answered nothing.
func TestEndedInvokeAnswers(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cause  error // nil: a plain cancel, net/http's for a caller gone
		status int   // 0: nothing written
	}{
		{"caller gone", nil, 0},
		{"server shutting down", frontdoor.ErrServerAbort, http.StatusInternalServerError},
		{"other server abort", errors.New("the API is restarting"), http.StatusInternalServerError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &API{}
			ctx, cancel := context.WithCancelCause(context.Background())
			if tc.cause == nil {
				cancel(nil)
			} else {
				cancel(tc.cause)
			}
			r := httptest.NewRequestWithContext(ctx, http.MethodPost, "/2015-03-31/functions/f/invocations", nil)
			w := httptest.NewRecorder()
			invokeMux(a, blockedInvoke(a, nil)).ServeHTTP(w, r)
			if tc.status == 0 {
				if w.Body.Len() > 0 || len(w.Header()) > 0 || a.CutInvokes() != 0 {
					t.Fatalf("wrote %d %v %q, cut %d; want nothing", w.Code, w.Header(), w.Body, a.CutInvokes())
				}
				return
			}
			checkServiceException(t, w.Code, w.Header(), w.Body.Bytes())
			if a.CutInvokes() != 1 {
				t.Fatalf("CutInvokes = %d, want 1", a.CutInvokes())
			}
		})
	}
}

// invokeMux serves h as the model's Invoke.
func invokeMux(a *API, h handler) http.Handler {
	op, _ := awsmodel.Lookup("Invoke")
	mux := http.NewServeMux()
	mux.Handle(op.Method+" "+op.Path, a.wrap(op, h))
	return mux
}

func checkServiceException(t *testing.T, status int, h http.Header, body []byte) {
	t.Helper()
	var b map[string]string
	if status != http.StatusInternalServerError || h.Get("X-Amzn-ErrorType") != "ServiceException" ||
		json.Unmarshal(body, &b) != nil || b["Message"] == "" {
		t.Fatalf("answer %d %v %q, want 500 ServiceException with a message", status, h, body)
	}
}

// TestShutdownCutsInvokesWithServiceException: through the front door, on
// its fast path and on net/http's, an invoke still running when the server
// closes gets a ServiceException, not a 200.
func TestShutdownCutsInvokesWithServiceException(t *testing.T) {
	for _, fast := range []bool{true, false} {
		name := map[bool]string{true: "fast", false: "net/http"}[fast]
		t.Run(name, func(t *testing.T) {
			a := &API{}
			started := make(chan struct{}, 1)
			s := &frontdoor.Server{Handler: invokeMux(a, blockedInvoke(a, started)), Match: func(string, string) bool { return fast }}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go s.Serve(ln) //nolint:errcheck
			type answer struct {
				resp *http.Response
				body []byte
				err  error
			}
			got := make(chan answer, 1)
			go func() {
				resp, err := http.Post("http://"+ln.Addr().String()+"/2015-03-31/functions/f/invocations", "application/json", nil)
				if err != nil {
					got <- answer{err: err}
					return
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				got <- answer{resp, body, err}
			}()
			select {
			case <-started:
			case <-time.After(5 * time.Second):
				t.Fatal("the invoke never reached its handler")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			s.Shutdown(ctx) //nolint:errcheck // it has to cut the invoke: that is the test
			ans := <-got
			if ans.err != nil {
				t.Fatalf("invoke: %v, want a ServiceException answer", ans.err)
			}
			checkServiceException(t, ans.resp.StatusCode, ans.resp.Header, ans.body)
			if a.CutInvokes() != 1 {
				t.Fatalf("CutInvokes = %d, want 1", a.CutInvokes())
			}
		})
	}
}
