package platform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/paddockhq/paddock/internal/billing"
	"github.com/paddockhq/paddock/internal/frontdoor"
	"github.com/paddockhq/paddock/internal/metrics"
)

// metricsMaxConns caps the connections of a separate metrics listener.
const metricsMaxConns = 128

// wireMetrics serves Prometheus metrics (issue 5) at GET /metrics: on the
// API's listener, or on Options.MetricsListen when set, so that the
// scrape can be kept off the address clients use (or on a private one).
func wireMetrics(w *wiring) error {
	// The same prices as GET /paddock/v1/cost, so that paddock_cost_usd
	// agrees with `paddock cost`. Start validated them already.
	prices := billing.DefaultPrices()
	prices.SavingsPlanDiscount = w.opts.SavingsPlan
	src := metrics.Sources{Scaler: w.loop, Pool: w.pool, Meter: w.meter, Control: w.ctl, Prices: prices}
	if w.p.Static != nil {
		src.Cluster = w.p
	}
	if w.p.async != nil {
		src.Async = w.p.async
	}
	m := metrics.New(src)
	w.api.Observe(m)
	h := m.Handler()
	if w.opts.MetricsListen == "" {
		w.api.HandleMetrics(h)
		return nil
	}
	// Listen now, not in the goroutine, so that a taken address fails
	// Start instead of being logged later.
	ln, err := net.Listen("tcp", w.opts.MetricsListen)
	if err != nil {
		return fmt.Errorf("metrics: listen on %s: %w", w.opts.MetricsListen, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	// The same front door as the API's (everything on its net/http side),
	// for the same defenses against floods: accept errors retried, idle
	// and stalled connections closed. Scrapers are few: a small cap.
	o := w.opts
	o.MaxConnections = metricsMaxConns
	srv := apiServer(o, mux, nil)
	w.goroutine(func(context.Context) {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, frontdoor.ErrServerClosed) {
			slog.Error("metrics server stopped", "err", err)
		}
	})
	w.goroutine(func(ctx context.Context) {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdownCtx) //nolint:errcheck // Close below ends what is left
		srv.Close()               //nolint:errcheck
	})
	return nil
}
