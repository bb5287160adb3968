// Package meter records what the bill is made of: invokes and their billed
// milliseconds per function, EE-seconds per LMI function, instance-seconds
// per capacity provider and instance type. The invoke path only adds to
// per-function atomic counters; once a second the scaler loop folds them,
// with the EE and instance time it measured, into per-minute buckets that
// the bill reads. A Keeper keeps those buckets in JetStream (persist.go),
// written in batches off the invoke path and loaded back at start.
package meter

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paddockhq/paddock/internal/billing"
)

// Retention is how far back the per-minute buckets go.
const Retention = 7 * 24 * time.Hour

// Recorder collects meters. Its zero value is not ready: use New.
type Recorder struct {
	counters sync.Map // function name → *counters

	// Shape returns a function's mode, arch, memory, capacity provider and
	// EE size, as a FunctionMeter with no counts. Set it before use.
	Shape func(function string) (billing.FunctionMeter, bool)

	mu      sync.Mutex
	started time.Time
	minutes map[int64]*bucket                // by unix minute
	info    map[string]billing.FunctionMeter // last known shape of each function (kept after it is deleted)
	dirty   map[int64]struct{}               // minutes changed since a Keeper last saved them
	loaded  billing.Meters                   // what a Keeper loaded at start
}

type counters struct {
	requests, billedMs, overflowRequests, overflowMs atomic.Int64
}

type bucket struct {
	fns map[string]*billing.FunctionMeter
	cps map[string]*billing.CapacityProviderMeter
}

// New returns a recorder started at now.
func New(now time.Time) *Recorder {
	return &Recorder{started: now, minutes: map[int64]*bucket{}, info: map[string]billing.FunctionMeter{}, dirty: map[int64]struct{}{}}
}

// Invoke records one invoke of function that ran for d; overflow says it
// ran on an on-demand EE for an LMI function. Safe on the hot path: two
// atomic adds on the function's counters.
func (r *Recorder) Invoke(function string, d time.Duration, overflow bool) {
	c, ok := r.counters.Load(function)
	if !ok {
		c, _ = r.counters.LoadOrStore(function, new(counters))
	}
	k := c.(*counters)
	ms := billing.BilledMillis(d)
	k.requests.Add(1)
	k.billedMs.Add(ms)
	if overflow {
		k.overflowRequests.Add(1)
		k.overflowMs.Add(ms)
	}
}

// bucket returns the bucket of at's minute, marked as changed. Under r.mu.
func (r *Recorder) bucket(at time.Time) *bucket {
	m := at.Unix() / 60
	r.dirty[m] = struct{}{}
	return r.minute(m)
}

// minute returns the bucket of unix minute m. Under r.mu.
func (r *Recorder) minute(m int64) *bucket {
	b := r.minutes[m]
	if b == nil {
		b = &bucket{fns: map[string]*billing.FunctionMeter{}, cps: map[string]*billing.CapacityProviderMeter{}}
		r.minutes[m] = b
	}
	return b
}

func (b *bucket) fn(name string, info billing.FunctionMeter) *billing.FunctionMeter {
	f := b.fns[name]
	if f == nil {
		f = &billing.FunctionMeter{Function: name, Arch: info.Arch, Mode: info.Mode, CapacityProvider: info.CapacityProvider,
			MemoryMB: info.MemoryMB, VCPUPerEE: info.VCPUPerEE, MaxConcurrency: info.MaxConcurrency}
		b.fns[name] = f
	}
	return f
}

// shape returns the function's shape, refreshed from Shape. Under r.mu.
func (r *Recorder) shape(function string) billing.FunctionMeter {
	if r.Shape != nil {
		if s, ok := r.Shape(function); ok {
			s.Function = function
			r.info[function] = s
		}
	}
	return r.info[function]
}

// AddEESeconds adds the EE time an LMI function's ready EEs had.
func (r *Recorder) AddEESeconds(at time.Time, function string, seconds float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bucket(at).fn(function, r.shape(function)).EESeconds += seconds
}

// AddInstanceSeconds adds instance time to a capacity provider.
func (r *Recorder) AddInstanceSeconds(at time.Time, cp, arch, instanceType string, seconds float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.bucket(at)
	m := b.cps[cp]
	if m == nil {
		m = &billing.CapacityProviderMeter{Name: cp, Arch: arch, InstanceSeconds: map[string]float64{}}
		b.cps[cp] = m
	}
	m.InstanceSeconds[instanceType] += seconds
}

// Flush moves the invoke counters into the bucket of at and drops buckets
// older than Retention.
func (r *Recorder) Flush(at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b *bucket
	r.counters.Range(func(key, value any) bool {
		name, c := key.(string), value.(*counters)
		req, ms := c.requests.Swap(0), c.billedMs.Swap(0)
		oreq, oms := c.overflowRequests.Swap(0), c.overflowMs.Swap(0)
		if req == 0 {
			return true
		}
		if b == nil {
			b = r.bucket(at)
		}
		f := b.fn(name, r.shape(name))
		f.Requests += req
		f.BilledMs += ms
		f.OverflowRequests += oreq
		f.OverflowBilledMs += oms
		return true
	})
	oldest := at.Add(-Retention).Unix() / 60
	for m := range r.minutes {
		if m < oldest {
			delete(r.minutes, m)
			delete(r.dirty, m)
		}
	}
}

// Loaded returns the meters a Keeper loaded from the store at start, what
// earlier runs metered; its Since is when this recorder was made.
func (r *Recorder) Loaded() billing.Meters {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.loaded
}

// Meters sums the buckets from since to now.
func (r *Recorder) Meters(since time.Time) billing.Meters {
	r.Flush(time.Now())
	r.mu.Lock()
	defer r.mu.Unlock()
	if since.Before(r.started) {
		since = r.started
	}
	fns := map[string]*billing.FunctionMeter{}
	cps := map[string]*billing.CapacityProviderMeter{}
	first := since.Unix() / 60
	for m, b := range r.minutes {
		if m < first {
			continue
		}
		for name, f := range b.fns {
			sum := fns[name]
			if sum == nil {
				c := *f
				c.Requests, c.BilledMs, c.EESeconds, c.OverflowRequests, c.OverflowBilledMs = 0, 0, 0, 0, 0
				sum = &c
				fns[name] = sum
			}
			sum.Requests += f.Requests
			sum.BilledMs += f.BilledMs
			sum.EESeconds += f.EESeconds
			sum.OverflowRequests += f.OverflowRequests
			sum.OverflowBilledMs += f.OverflowBilledMs
		}
		for name, c := range b.cps {
			sum := cps[name]
			if sum == nil {
				sum = &billing.CapacityProviderMeter{Name: name, Arch: c.Arch, InstanceSeconds: map[string]float64{}}
				cps[name] = sum
			}
			for t, s := range c.InstanceSeconds {
				sum.InstanceSeconds[t] += s
			}
		}
	}
	out := billing.Meters{Since: since, Until: time.Now()}
	for name, f := range fns {
		if info, ok := r.info[name]; ok && f.Mode == "" {
			f.Arch, f.Mode, f.CapacityProvider, f.MemoryMB = info.Arch, info.Mode, info.CapacityProvider, info.MemoryMB
			f.VCPUPerEE, f.MaxConcurrency = info.VCPUPerEE, info.MaxConcurrency
		}
		out.Functions = append(out.Functions, *f)
	}
	for _, c := range cps {
		out.CapacityProviders = append(out.CapacityProviders, *c)
	}
	sort.Slice(out.Functions, func(i, j int) bool { return out.Functions[i].Function < out.Functions[j].Function })
	sort.Slice(out.CapacityProviders, func(i, j int) bool { return out.CapacityProviders[i].Name < out.CapacityProviders[j].Name })
	return out
}
