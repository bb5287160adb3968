package lambdaapi

import (
	"context"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"time"

	"github.com/paddockhq/paddock/internal/awserr"
	"github.com/paddockhq/paddock/internal/awsmodel"
)

// Several servers answer the API, but one of them (the leader) writes the
// configuration: the others forward every request that changes it there,
// as it came (its signature covers the Host header, which is kept, and
// the leader verifies it again). Reads and invokes are answered where
// they arrive.

// Leader says where the writer is: its API URL, and whether it is this
// server. An empty URL means no server leads right now.
type Leader func() (url string, self bool)

// ForwardWritesTo makes this API a follower's: writes go to leader().
func (a *API) ForwardWritesTo(leader Leader) {
	a.leader = leader
	a.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			target, _ := pr.In.Context().Value(leaderURLKey{}).(*url.URL)
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host // signed: the leader checks the same Host
			pr.Out.Header.Set(forwardedHeader, "1")
		},
		// Read-your-writes: the answer waits until this server's view has
		// the leader's write, so a Get through it right after sees it.
		ModifyResponse: func(resp *http.Response) error {
			seq, err := strconv.ParseUint(resp.Header.Get(configSeqHeader), 10, 64)
			resp.Header.Del(configSeqHeader)
			if err == nil {
				ctx, cancel := context.WithTimeout(resp.Request.Context(), followWait)
				a.ctl.WaitApplied(ctx, seq) //nolint:errcheck // past the wait the answer goes as it is
				cancel()
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			writeError(w, awserr.Service("The request could not reach the server that writes the configuration: %v. Retry shortly.", err))
		},
	}
}

type leaderURLKey struct{}

// The leader tells a follower, on a write it forwarded, the configuration
// sequence the write reached.
const (
	forwardedHeader = "Paddock-Forwarded"
	configSeqHeader = "Paddock-Config-Seq"
)

// followWait bounds how long a follower holds a forwarded write's answer
// for its view to catch up.
const followWait = 5 * time.Second

// seqWriter adds the configuration sequence to a forwarded write's answer.
type seqWriter struct {
	http.ResponseWriter
	seq    func() (uint64, error)
	headed bool
}

func (w *seqWriter) WriteHeader(code int) {
	if !w.headed {
		w.headed = true
		if n, err := w.seq(); err == nil {
			w.Header().Set(configSeqHeader, strconv.FormatUint(n, 10))
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *seqWriter) Write(b []byte) (int, error) {
	if !w.headed {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// leaderWriter is w, with the sequence added when r is a write a follower
// forwarded here.
func (a *API) leaderWriter(w http.ResponseWriter, r *http.Request) http.ResponseWriter {
	if a.leader == nil || r.Header.Get(forwardedHeader) == "" {
		return w
	}
	return &seqWriter{ResponseWriter: w, seq: func() (uint64, error) { return a.ctl.ConfigSeq(r.Context()) }}
}

// forwarded sends the write r to the leader and reports whether it did:
// false means this server handles it.
func (a *API) forwarded(op awsmodel.Operation, w http.ResponseWriter, r *http.Request) bool {
	if a.leader == nil || r.Method == http.MethodGet || r.Method == http.MethodHead || IsInvoke(r.Method, r.URL.Path) || op.Name == "" {
		return false
	}
	to, self := a.leader()
	if self {
		return false
	}
	target, err := url.Parse(to)
	if to == "" || err != nil || target.Host == "" {
		writeError(w, awserr.Service("No server leads the configuration right now (an election is under way). Retry shortly."))
		return true
	}
	a.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), leaderURLKey{}, target)))
	return true
}
