package metrics

import (
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/paddockhq/paddock/internal/lambdaapi"
	"github.com/paddockhq/paddock/internal/runtimeapi"
)

// durationBuckets span 1 ms (a warm echo) to 60 s; longer invokes (up to
// Lambda's 15 minutes) land in +Inf, where a p99 is already an alarm.
var durationBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// maxLabelValues bounds the values of a label that comes from outside
// Paddock's own vocabulary: a function chooses its errorType freely, and
// one that puts an id or a message in it must not create a series per
// invoke. Past the bound the rest are counted under otherValue.
const (
	maxLabelValues = 10
	otherValue     = "other"
	maxValueLen    = 64
)

// invokeMetrics counts every finished or throttled invoke.
type invokeMetrics struct {
	invocations  *prometheus.CounterVec
	errors       *prometheus.CounterVec
	throttles    *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	coldStarts   *prometheus.CounterVec
	initDuration *prometheus.HistogramVec
	overflow     *prometheus.CounterVec

	// series caches each version's resolved children: WithLabelValues
	// hashes the label values and takes the vec's lock, which the invoke
	// path need not pay more than once per function version.
	series sync.Map // seriesKey → *series
}

type seriesKey struct{ function, version string }

// series are one function version's children.
type series struct {
	invocations, coldStarts, overflow prometheus.Counter
	duration, initDuration            prometheus.Observer
	errors, throttles                 *boundedLabel
}

func newInvokeMetrics() *invokeMetrics {
	fv := []string{"function", "version"}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, append(fv[:2:2], labels...))
	}
	histogram := func(name, help string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: durationBuckets}, fv)
	}
	return &invokeMetrics{
		invocations: counter("paddock_invocations_total",
			"Invokes that ran, function errors included and throttles not (CloudWatch Invocations)."),
		errors: counter("paddock_errors_total",
			"Invokes that ended in a function error, by errorType (at most 10 per version, the rest as \"other\").", "error_type"),
		throttles: counter("paddock_throttles_total",
			"Invokes refused with 429 TooManyRequestsException, by the error's Reason.", "reason"),
		duration: histogram("paddock_invocation_duration_seconds",
			"The function's own time per invoke, as billed (CloudWatch Duration)."),
		coldStarts: counter("paddock_cold_starts_total",
			"Invokes that started an execution environment (default mode and LMI burst overflow)."),
		initDuration: histogram("paddock_init_duration_seconds",
			"Init phase of the execution environment a cold start started."),
		overflow: counter("paddock_overflow_invocations_total",
			"LMI invokes the fleet refused that ran on a default-mode execution environment instead (burst overflow)."),
	}
}

func (m *invokeMetrics) vecs() []prometheus.Collector {
	return []prometheus.Collector{m.invocations, m.errors, m.throttles, m.duration, m.coldStarts, m.initDuration, m.overflow}
}

// Describe implements prometheus.Collector.
func (m *invokeMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, v := range m.vecs() {
		v.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (m *invokeMetrics) Collect(ch chan<- prometheus.Metric) {
	for _, v := range m.vecs() {
		v.Collect(ch)
	}
}

// ObserveInvoke implements lambdaapi.InvokeObserver. The invoke's answer
// waits for it: after the first invoke of a version, a successful or
// throttled invoke costs a sync.Map hit and a few atomic adds, with no lock
// and no allocation (a failed one may also parse its small error document).
func (m *invokeMetrics) ObserveInvoke(rec lambdaapi.InvokeRecord) {
	r := rec.Route
	if r == nil {
		return
	}
	s := m.seriesFor(r.FunctionName, r.Version)
	if rec.Throttled != "" {
		// Lambda counts throttles apart: they are not Invocations and
		// have no Duration.
		s.throttles.get(rec.Throttled).Inc()
		return
	}
	s.invocations.Inc()
	s.duration.Observe(rec.Duration.Seconds())
	if rec.InitDuration > 0 {
		s.coldStarts.Inc()
		s.initDuration.Observe(rec.InitDuration.Seconds())
	}
	if rec.Overflow {
		s.overflow.Inc()
	}
	if inv := rec.Invocation; inv != nil && inv.FunctionError != "" {
		s.errors.get(errorType(inv)).Inc()
	}
}

// maxErrorDocument is the largest error document errorType reads: a
// runtime's own is a few hundred bytes, and a huge one is not worth
// parsing on the invoke path.
const maxErrorDocument = 4 << 10

// errorType is a failed invoke's errorType. Runtimes that post it only in
// the error document's body (aws-lambda-go does: it sets no
// Lambda-Runtime-Function-Error-Type header) leave inv.ErrorType empty, so
// it is read from the document Paddock answers with.
func errorType(inv *runtimeapi.Invocation) string {
	if inv.ErrorType != "" {
		return inv.ErrorType
	}
	if len(inv.Response) <= maxErrorDocument {
		var doc struct {
			ErrorType string `json:"errorType"`
		}
		if json.Unmarshal(inv.Response, &doc) == nil && doc.ErrorType != "" {
			return doc.ErrorType
		}
	}
	return inv.FunctionError // "Unhandled" without a type: still an error
}

func (m *invokeMetrics) seriesFor(function, version string) *series {
	key := seriesKey{function, version}
	if s, ok := m.series.Load(key); ok {
		return s.(*series)
	}
	s := &series{
		invocations:  m.invocations.WithLabelValues(function, version),
		coldStarts:   m.coldStarts.WithLabelValues(function, version),
		overflow:     m.overflow.WithLabelValues(function, version),
		duration:     m.duration.WithLabelValues(function, version),
		initDuration: m.initDuration.WithLabelValues(function, version),
		errors:       &boundedLabel{vec: m.errors, function: function, version: version},
		throttles:    &boundedLabel{vec: m.throttles, function: function, version: version},
	}
	actual, _ := m.series.LoadOrStore(key, s)
	return actual.(*series)
}

// boundedLabel is the third label of a function version's counter, with at
// most maxLabelValues values (and otherValue for the rest).
type boundedLabel struct {
	vec               *prometheus.CounterVec
	function, version string
	seen              sync.Map // value → prometheus.Counter
	full              atomic.Pointer[prometheus.Counter]

	mu sync.Mutex // serializes adding values
	n  int
}

func (b *boundedLabel) get(value string) prometheus.Counter {
	if c, ok := b.seen.Load(value); ok {
		return c.(prometheus.Counter)
	}
	// Once full, values not seen yet are not stored: storing each would
	// grow the map without bound even though the label does not.
	if o := b.full.Load(); o != nil {
		return *o
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if c, ok := b.seen.Load(value); ok {
		return c.(prometheus.Counter)
	}
	if o := b.full.Load(); o != nil {
		return *o
	}
	c, err := b.vec.GetMetricWithLabelValues(b.function, b.version, labelValue(value))
	if err != nil {
		c = b.vec.WithLabelValues(b.function, b.version, otherValue)
	}
	b.seen.Store(value, c)
	if b.n++; b.n == maxLabelValues {
		o := b.vec.WithLabelValues(b.function, b.version, otherValue)
		b.full.Store(&o)
	}
	return c
}

// labelValue keeps a value a function chose short and valid UTF-8, which
// the exposition format requires.
func labelValue(v string) string {
	if len(v) > maxValueLen {
		v = v[:maxValueLen]
	}
	return strings.ToValidUTF8(v, "")
}
