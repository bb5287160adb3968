// Package metrics exposes Paddock in the Prometheus text format: what every
// invoke did (counted on the invoke path), the fleet as the scaler last saw
// it and the on-demand pool (read at scrape time), and the meters the bill
// is made of.
//
// Names follow SPEC §4's CloudWatch metrics in Prometheus style (paddock_
// prefix, snake case, base units, _total on counters). Labels are bounded:
// function, version, capacity_provider, instance_type, plus small fixed
// sets (state, reason, cause, mode) and, on two families, instance ids,
// which the capacity providers' MaxVCpuCount bounds. No request id, trace
// id or payload ever becomes a label, so /metrics can be served without
// authentication.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/paddockhq/paddock/internal/billing"
	"github.com/paddockhq/paddock/internal/control"
	"github.com/paddockhq/paddock/internal/ondemand"
	"github.com/paddockhq/paddock/internal/scaler"
)

// Scaler is the LMI fleet as the scaler loop last reconciled it.
type Scaler interface {
	Status() []scaler.VersionStatus
	Instances() []scaler.InstanceStatus
}

// Pool is the default mode's execution environments.
type Pool interface {
	Stats() ondemand.Stats
}

// MeterSource is what the bill is computed from.
type MeterSource interface {
	Meters(since time.Time) billing.Meters
}

// Control is the part of the control plane the scrape reads: capacity
// providers (their limits) and each version's memory size (to turn the
// scaler's memory utilization into bytes).
type Control interface {
	CapacityProviders() []control.CapacityProvider
	GetFunction(name, qualifier string) (*control.FunctionDetails, error)
}

// Sources are what the scrape reads; a nil source leaves its families out.
type Sources struct {
	Scaler  Scaler
	Pool    Pool
	Meter   MeterSource
	Control Control
	// Prices turn the meters into paddock_cost_usd (the server's prices,
	// savings plan included, like GET /paddock/v1/cost).
	Prices billing.Prices
	// Cluster is set on a server of several.
	Cluster Cluster
	// Async is the asynchronous invokes' queue and this server's workers.
	Async Async
}

// Metrics is Paddock's registry. Its ObserveInvoke counts each invoke
// (it implements lambdaapi.InvokeObserver); everything else is read from
// Sources when /metrics is scraped.
type Metrics struct {
	*invokeMetrics
	reg *prometheus.Registry
}

// New builds the registry. It is private, not prometheus.DefaultRegisterer:
// tests start several platforms in one process, and each must report only
// its own invokes.
func New(src Sources) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{invokeMetrics: newInvokeMetrics(), reg: reg}
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.invokeMetrics,
		newFleetCollector(src),
	)
	if src.Meter != nil {
		reg.MustRegister(newCostCollector(src.Meter, src.Prices))
	}
	if src.Cluster != nil {
		reg.MustRegister(newClusterCollector(src.Cluster))
	}
	if src.Async != nil {
		reg.MustRegister(newAsyncCollector(src.Async))
	}
	return m
}

// Registry is the registry, for tests and for anyone adding families.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the format the scraper asks for (the
// text format by default).
func (m *Metrics) Handler() http.Handler {
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		Registry: m.reg, // counts its own errors in promhttp_metric_handler_errors_total
		// A source that fails must not blank the whole page: serve what
		// could be collected and count the error.
		ErrorHandling: promhttp.ContinueOnError,
		// Scrapes take the scaler's and the control plane's locks briefly;
		// a runaway of concurrent scrapers should queue them, not pile up.
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	})
	return promhttp.InstrumentMetricHandler(m.reg, h)
}
