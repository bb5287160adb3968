package metrics

import (
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/paddockhq/paddock/internal/billing"
)

// costCollector reports the meters the bill is made of as counters since
// Paddock started, and the bill so far as gauges.
//
// The recorder keeps per-minute buckets for a week, so Meters(start) would
// start to fall once Paddock has run that long, and Prometheus reads any
// fall of a counter as a reset (a spike in rate()). So the collector folds
// the minutes that can no longer change into base, its own running total,
// and asks the recorder only for the recent ones.
type costCollector struct {
	src    MeterSource
	prices billing.Prices
	now    func() time.Time

	requests, billed, eeSeconds, instanceSeconds, cost, costOther, idleCost *prometheus.Desc

	mu      sync.Mutex // one scrape at a time: they share base
	started time.Time  // start of the meters (the recorder's)
	from    time.Time  // a minute boundary: base holds the meters before it
	baseFns map[string]*billing.FunctionMeter
	baseCPs map[string]*billing.CapacityProviderMeter
	// last is each counter's last reported value. Float sums over the
	// recorder's buckets come in map order, so the same total can differ
	// in its last bits from one scrape to the next; a counter must not.
	last map[string]float64
}

func newCostCollector(src MeterSource, prices billing.Prices) *costCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	c := &costCollector{
		src: src, prices: prices, now: time.Now,
		baseFns: map[string]*billing.FunctionMeter{}, baseCPs: map[string]*billing.CapacityProviderMeter{},
		last: map[string]float64{},
		requests: d("paddock_billed_requests_total",
			"Invokes metered for the bill since Paddock started (each pays the request charge).", "function"),
		billed: d("paddock_billed_duration_seconds_total",
			"Sum of each invoke's duration rounded up to the millisecond, as Lambda bills it; times memory it is the default mode's GB-seconds.", "function"),
		eeSeconds: d("paddock_execution_environment_seconds_total",
			"Lifetime of an LMI function's ready execution environments; with their vCPUs it splits the capacity provider's cost.", "function"),
		instanceSeconds: d("paddock_instance_seconds_total",
			"Time a capacity provider's instances ran, launch to termination, busy or not: what EC2 bills.", "capacity_provider", "instance_type"),
		cost: d("paddock_cost_usd",
			"Estimated cost of a function since Paddock started, in its own compute mode (lmi or default), at the server's prices: what AWS Lambda would have billed.", "function", "mode"),
		costOther: d("paddock_cost_other_mode_usd",
			"Estimated cost of the same traffic in the compute mode the function does not use (mode names it).", "function", "mode"),
		idleCost: d("paddock_capacity_provider_idle_cost_usd",
			"Cost of a capacity provider's instances that no function carries (it ran no execution environment).", "capacity_provider"),
	}
	// A recorder that loaded the meters of earlier runs from the store
	// (meter.Keeper) reports them too; these counters stay since this
	// process started, so a restart is a counter reset to Prometheus, not a
	// jump, nor a fall (after a kill -9 lost the last seconds) read as one.
	if l, ok := src.(interface{ Loaded() billing.Meters }); ok {
		if m := l.Loaded(); len(m.Functions)+len(m.CapacityProviders) > 0 {
			c.add(m, -1)
			c.started = m.Since
		}
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *costCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.requests, c.billed, c.eeSeconds, c.instanceSeconds, c.cost, c.costOther, c.idleCost} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *costCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fold(c.now())
	m := c.total(c.src.Meters(c.from))

	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		key := d.String() + "\xff" + strings.Join(labels, "\xff")
		v = max(v, c.last[key])
		c.last[key] = v
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	for _, f := range m.Functions {
		counter(c.requests, float64(f.Requests), f.Function)
		counter(c.billed, float64(f.BilledMs)/1000, f.Function)
		if f.Mode == billing.ModeLMI {
			counter(c.eeSeconds, f.EESeconds, f.Function)
		}
	}
	for _, cp := range m.CapacityProviders {
		for typ, s := range cp.InstanceSeconds {
			counter(c.instanceSeconds, s, cp.Name, typ)
		}
	}

	bill := billing.Compute(m, c.prices)
	// A function may have several lines (billing allows one per capacity
	// provider); a series may be reported once, so sum them.
	type modeKey struct{ function, mode string }
	own, other := map[modeKey]float64{}, map[modeKey]float64{}
	for _, l := range bill.Functions {
		own[modeKey{l.Function, l.Mode}] += l.Total
		if l.OtherMode.Mode != "" {
			other[modeKey{l.Function, l.OtherMode.Mode}] += l.OtherMode.Total
		}
	}
	for k, v := range own {
		ch <- prometheus.MustNewConstMetric(c.cost, prometheus.GaugeValue, v, k.function, k.mode)
	}
	for k, v := range other {
		ch <- prometheus.MustNewConstMetric(c.costOther, prometheus.GaugeValue, v, k.function, k.mode)
	}
	for _, l := range bill.CapacityProviders {
		ch <- prometheus.MustNewConstMetric(c.idleCost, prometheus.GaugeValue, l.Idle, l.Name)
	}
}

// fold moves into base the minutes before the one before now: the
// recorder adds to the minute of its own clock, which may lag this one
// by a tick, so the last full minute is left open too.
//
// The minutes from c.from to cut are Meters(c.from) - Meters(cut), two
// calls between which the scaler may add to the open minutes; reading
// Meters(cut) before and after and retrying when they differ makes the
// difference exact (the recorder only ever adds).
func (c *costCollector) fold(now time.Time) {
	cut := now.Truncate(time.Minute).Add(-time.Minute)
	if !c.from.IsZero() && !cut.After(c.from) {
		return
	}
	for range 3 {
		open := c.src.Meters(cut)
		all := c.src.Meters(c.from)
		if !sameMeters(open, c.src.Meters(cut)) {
			continue
		}
		if c.started.IsZero() {
			c.started = all.Since
		}
		c.add(all, 1)
		c.add(open, -1)
		c.from = cut
		return
	}
	// Busy: leave base as it is. Reporting base + Meters(c.from) stays
	// right; the next scrape folds.
}

// add adds sign x m's counts to base, keeping the latest shape of each
// function (its mode, memory and capacity provider may have changed).
func (c *costCollector) add(m billing.Meters, sign int64) {
	for _, f := range m.Functions {
		b := c.baseFns[f.Function]
		if b == nil {
			b = &billing.FunctionMeter{}
			c.baseFns[f.Function] = b
		}
		if sign > 0 || b.Function == "" {
			setShape(b, f)
		}
		b.Requests += sign * f.Requests
		b.BilledMs += sign * f.BilledMs
		b.OverflowRequests += sign * f.OverflowRequests
		b.OverflowBilledMs += sign * f.OverflowBilledMs
		b.EESeconds += float64(sign) * f.EESeconds
	}
	for _, cp := range m.CapacityProviders {
		b := c.baseCPs[cp.Name]
		if b == nil {
			b = &billing.CapacityProviderMeter{Name: cp.Name, InstanceSeconds: map[string]float64{}}
			c.baseCPs[cp.Name] = b
		}
		if sign > 0 || b.Arch == "" {
			b.Arch = cp.Arch
		}
		for typ, s := range cp.InstanceSeconds {
			b.InstanceSeconds[typ] += float64(sign) * s
		}
	}
}

// total is base plus recent, the meters since the start.
func (c *costCollector) total(recent billing.Meters) billing.Meters {
	since := c.started
	if since.IsZero() {
		since = recent.Since
	}
	out := billing.Meters{Since: since, Until: recent.Until}
	fns := map[string]int{}
	for _, b := range c.baseFns {
		fns[b.Function] = len(out.Functions)
		out.Functions = append(out.Functions, *b)
	}
	for _, f := range recent.Functions {
		i, ok := fns[f.Function]
		if !ok {
			out.Functions = append(out.Functions, f)
			continue
		}
		t := &out.Functions[i]
		setShape(t, f)
		t.Requests += f.Requests
		t.BilledMs += f.BilledMs
		t.OverflowRequests += f.OverflowRequests
		t.OverflowBilledMs += f.OverflowBilledMs
		t.EESeconds += f.EESeconds
	}
	cps := map[string]int{}
	for _, b := range c.baseCPs {
		cps[b.Name] = len(out.CapacityProviders)
		cp := *b
		cp.InstanceSeconds = make(map[string]float64, len(b.InstanceSeconds))
		for typ, s := range b.InstanceSeconds {
			cp.InstanceSeconds[typ] = s
		}
		out.CapacityProviders = append(out.CapacityProviders, cp)
	}
	for _, cp := range recent.CapacityProviders {
		i, ok := cps[cp.Name]
		if !ok {
			out.CapacityProviders = append(out.CapacityProviders, cp)
			continue
		}
		t := &out.CapacityProviders[i]
		t.Arch = cp.Arch
		for typ, s := range cp.InstanceSeconds {
			t.InstanceSeconds[typ] += s
		}
	}
	return out
}

// setShape copies what describes f (not its counts) into dst.
func setShape(dst *billing.FunctionMeter, f billing.FunctionMeter) {
	dst.Function, dst.Arch, dst.Mode, dst.CapacityProvider = f.Function, f.Arch, f.Mode, f.CapacityProvider
	dst.MemoryMB, dst.VCPUPerEE, dst.MaxConcurrency = f.MemoryMB, f.VCPUPerEE, f.MaxConcurrency
}

// sameMeters compares the counts of two readings of the same period. The
// recorder sorts both lists by name, and a period of at most two minutes
// sums at most two floats per value, which is exact in either order.
func sameMeters(a, b billing.Meters) bool {
	if len(a.Functions) != len(b.Functions) || len(a.CapacityProviders) != len(b.CapacityProviders) {
		return false
	}
	for i, f := range a.Functions {
		g := b.Functions[i]
		if f.Function != g.Function || f.Requests != g.Requests || f.BilledMs != g.BilledMs ||
			f.OverflowRequests != g.OverflowRequests || f.OverflowBilledMs != g.OverflowBilledMs || f.EESeconds != g.EESeconds {
			return false
		}
	}
	for i, cp := range a.CapacityProviders {
		d := b.CapacityProviders[i]
		if cp.Name != d.Name || len(cp.InstanceSeconds) != len(d.InstanceSeconds) {
			return false
		}
		for typ, s := range cp.InstanceSeconds {
			if d.InstanceSeconds[typ] != s {
				return false
			}
		}
	}
	return true
}
