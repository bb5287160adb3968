package lambdaapi

import "net/http"

// HandleMetrics serves h (Prometheus' /metrics) on GET /metrics of the API
// listener. It skips SigV4: Prometheus scrapers do not sign requests, and
// the page carries no secret, no payload and no request id, only counts
// per function, version, capacity provider and instance type. Like
// HandleStatus it is separate from New and must be called at most once.
func (a *API) HandleMetrics(h http.Handler) {
	a.mux.Handle("GET /metrics", h)
}
