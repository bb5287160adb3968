package lambdaapi

import (
	"context"
	"net/http"
	"net/http/httputil"
	"net/url"

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
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			writeError(w, awserr.Service("The request could not reach the server that writes the configuration: %v. Retry shortly.", err))
		},
	}
}

type leaderURLKey struct{}

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
