package console

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paddockhq/paddock/internal/lambdaapi"
	"github.com/paddockhq/paddock/internal/scaler"
)

// Chart history: one sample every SampleInterval, HistoryWindow long.
const (
	SampleInterval = 5 * time.Second
	HistoryWindow  = 15 * time.Minute
	historyLen     = int(HistoryWindow / SampleInterval)
	// reservoirSize bounds the durations kept per interval for the p99.
	reservoirSize = 1024
)

// Sample is one interval of the charts.
type Sample struct {
	At          time.Time `json:"t"`
	Invocations float64   `json:"invocations"` // per second, throttles excluded
	Throttles   float64   `json:"throttles"`   // per second
	Errors      float64   `json:"errors"`      // function errors per second
	P99Ms       float64   `json:"p99Ms"`       // of the interval's invokes; 0 without any
	CPUPercent  float64   `json:"cpuPercent"`  // mean over the ready EEs of every version
}

// HistoryBody is the answer of GET /console/api/metrics.
type HistoryBody struct {
	IntervalSeconds float64  `json:"intervalSeconds"`
	WindowSeconds   float64  `json:"windowSeconds"`
	Now             string   `json:"now"` // RFC 3339
	Samples         []Sample `json:"samples"`
}

// History counts invokes as they finish and turns the counts into one
// Sample per interval. Observing is cheap: atomic counters, and a
// briefly-locked reservoir of durations for the p99.
type History struct {
	invocations, throttles, errors atomic.Uint64

	resMu sync.Mutex
	res   []float64 // ms, a uniform sample of the interval's durations
	seen  int       // durations offered to res this interval

	mu      sync.Mutex
	ring    []Sample // oldest first, at most historyLen
	last    time.Time
	lastInv uint64
	lastThr uint64
	lastErr uint64
}

// NewHistory returns an empty history.
func NewHistory() *History {
	return &History{res: make([]float64, 0, reservoirSize)}
}

// ObserveInvoke implements lambdaapi.InvokeObserver.
func (h *History) ObserveInvoke(rec lambdaapi.InvokeRecord) {
	if rec.Throttled != "" {
		h.throttles.Add(1)
		return
	}
	h.invocations.Add(1)
	if rec.Invocation != nil && rec.Invocation.FunctionError != "" {
		h.errors.Add(1)
	}
	ms := float64(rec.Duration) / float64(time.Millisecond)
	h.resMu.Lock()
	h.seen++
	if len(h.res) < reservoirSize {
		h.res = append(h.res, ms)
	} else if i := rand.IntN(h.seen); i < reservoirSize {
		h.res[i] = ms
	}
	h.resMu.Unlock()
}

// Run samples every SampleInterval until ctx ends.
func (h *History) Run(ctx context.Context, fleet lambdaapi.StatusSource) {
	h.Tick(time.Now(), fleet)
	t := time.NewTicker(SampleInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			h.Tick(now, fleet)
		}
	}
}

// Tick closes the interval that ends at now. The first call only starts
// the counting.
func (h *History) Tick(now time.Time, fleet lambdaapi.StatusSource) {
	h.resMu.Lock()
	durs := h.res
	h.res, h.seen = make([]float64, 0, reservoirSize), 0
	h.resMu.Unlock()
	inv, thr, errs := h.invocations.Load(), h.throttles.Load(), h.errors.Load()
	var versions []scaler.VersionStatus
	if fleet != nil {
		versions = fleet.Status()
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	first := h.last.IsZero()
	dt := now.Sub(h.last).Seconds()
	s := Sample{At: now, P99Ms: p99(durs), CPUPercent: meanCPU(versions)}
	if !first && dt > 0 {
		s.Invocations = float64(inv-h.lastInv) / dt
		s.Throttles = float64(thr-h.lastThr) / dt
		s.Errors = float64(errs-h.lastErr) / dt
	}
	h.last, h.lastInv, h.lastThr, h.lastErr = now, inv, thr, errs
	if first {
		return
	}
	if len(h.ring) == historyLen {
		copy(h.ring, h.ring[1:])
		h.ring = h.ring[:historyLen-1]
	}
	h.ring = append(h.ring, s)
}

// Snapshot returns the samples of the window, oldest first.
func (h *History) Snapshot() HistoryBody {
	h.mu.Lock()
	defer h.mu.Unlock()
	return HistoryBody{
		IntervalSeconds: SampleInterval.Seconds(),
		WindowSeconds:   HistoryWindow.Seconds(),
		Now:             time.Now().UTC().Format(time.RFC3339Nano),
		Samples:         append([]Sample{}, h.ring...),
	}
}

// p99 is the 99th percentile (nearest rank) of durs, 0 when empty. It
// sorts durs.
func p99(durs []float64) float64 {
	if len(durs) == 0 {
		return 0
	}
	slices.Sort(durs)
	rank := int(math.Ceil(0.99*float64(len(durs)))) - 1
	return durs[max(0, rank)]
}

// meanCPU is the versions' CPU use weighted by their ready EEs.
func meanCPU(versions []scaler.VersionStatus) float64 {
	var sum float64
	var n int
	for _, v := range versions {
		if v.Ready > 0 {
			sum += v.CPUPercent * float64(v.Ready)
			n += v.Ready
		}
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}
