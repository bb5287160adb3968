package scaler

import (
	"time"

	"github.com/paddockhq/paddock/internal/control"
)

// Tuning overrides the autoscaler's windows (zero fields keep the defaults
// of DefaultPolicy). Tests and the simulator shorten them.
type Tuning struct {
	StableWindow, PanicWindow, ScaleDownDelay time.Duration
	MaxScaleDownPerMinute                     float64
}

// policyFor is the autoscaling policy of a workload: its capacity
// provider's target (Manual) or AutoTarget, its min and max EEs.
func policyFor(w control.Workload, t Tuning) Policy {
	target := AutoTarget
	if sc := w.CapacityProvider.Scaling; sc.Mode == "Manual" && len(sc.Policies) > 0 {
		target = sc.Policies[0].Target / 100
		if target < 0.05 {
			target = 0.05 // a 0% target would want infinite EEs
		}
	}
	p := DefaultPolicy(target, w.MinEEs, w.MaxEEs)
	if t.StableWindow > 0 {
		p.StableWindow = t.StableWindow
	}
	if t.PanicWindow > 0 {
		p.PanicWindow = t.PanicWindow
	}
	if t.ScaleDownDelay > 0 {
		p.ScaleDownDelay = t.ScaleDownDelay
	}
	if t.MaxScaleDownPerMinute > 0 {
		p.MaxScaleDownPerMinute = t.MaxScaleDownPerMinute
	}
	return p
}

// Throttle causes, as SPEC §4 counts them.
const (
	CauseConcurrency = "concurrency"
	CauseCPU         = "cpu"
	CauseMemory      = "memory"
)

// versionMeter keeps one version's measurements between samples.
type versionMeter struct {
	scaler        *Autoscaler
	lastThrottles uint64
	lastAt        time.Time
	// throttles per second over the last minute, by cause (ring by second).
	minute    [60]map[string]int
	minuteIdx int
	decision  Decision
	last      Sample
	memUtil   float64
}

// eeMeter is one EE's counters at the previous sample.
type eeMeter struct {
	cpuSeconds float64
	completed  uint64
	at         time.Time
	cpu        float64 // vCPUs used over the last period
	rss        int64
}

// measure samples one version's ready EEs at now and feeds its autoscaler.
func (l *Loop) measure(now time.Time, w control.Workload, ready []*eeRecord) *versionMeter {
	m := l.meters[w.Key]
	if m == nil {
		m = &versionMeter{scaler: NewAutoscaler(policyFor(w, l.Tuning)), lastAt: now,
			lastThrottles: l.router.Throttles(w.Key)}
		l.meters[w.Key] = m
	}
	m.scaler.SetPolicy(policyFor(w, l.Tuning))
	dt := now.Sub(m.lastAt).Seconds()
	m.lastAt = now
	s := Sample{At: now, EEs: len(ready), MaxConcurrency: w.Config.MaxConcurrency(),
		VCPUPerEE: float64(w.Config.VCPUMilli()) / 1000}
	var rss int64
	for _, r := range ready {
		u := r.ee.Usage()
		done := r.ee.Completed()
		em := &r.meter
		if !em.at.IsZero() {
			if d := now.Sub(em.at).Seconds(); d > 0 {
				em.cpu = (u.CPUSeconds - em.cpuSeconds) / d
				s.Served += float64(done-em.completed) / d
			}
		}
		em.cpuSeconds, em.completed, em.at, em.rss = u.CPUSeconds, done, now, u.RSSBytes
		s.CPU += em.cpu
		s.InFlight += float64(r.ee.InFlight())
		rss += u.RSSBytes
	}
	throttles := l.router.Throttles(w.Key)
	refused := int(throttles - m.lastThrottles)
	m.lastThrottles = throttles
	if dt > 0 {
		s.Throttled = float64(refused) / dt
	}
	if len(ready) > 0 {
		m.memUtil = float64(rss) / float64(int64(len(ready))*int64(w.Config.MemorySize)<<20)
	}
	m.minuteIdx = (m.minuteIdx + 1) % len(m.minute)
	m.minute[m.minuteIdx] = nil
	if refused > 0 {
		m.minute[m.minuteIdx] = map[string]int{m.cause(s): refused}
	}
	m.last = s
	if len(ready) > 0 || refused > 0 {
		m.scaler.Record(s)
	}
	return m
}

// cause names what ran out when invokes were refused: memory or CPU when
// the EEs were close to their allocation, else their concurrency slots.
func (m *versionMeter) cause(s Sample) string {
	switch {
	case m.memUtil >= 0.9:
		return CauseMemory
	case s.EEs > 0 && s.VCPUPerEE > 0 && s.CPU/(float64(s.EEs)*s.VCPUPerEE) >= 0.9:
		return CauseCPU
	default:
		return CauseConcurrency
	}
}

// throttlesLastMinute sums the refused invokes of the last 60 samples by cause.
func (m *versionMeter) throttlesLastMinute() map[string]int {
	out := map[string]int{}
	for _, sec := range m.minute {
		for c, n := range sec {
			out[c] += n
		}
	}
	return out
}

// VersionStatus is one version as `paddock status` shows it.
type VersionStatus struct {
	Key              string         `json:"key"`
	Function         string         `json:"function"`
	Version          int            `json:"version"`
	CapacityProvider string         `json:"capacityProvider"`
	State            string         `json:"state"`
	Desired          int            `json:"desiredEEs"`
	Live             int            `json:"liveEEs"`
	Ready            int            `json:"readyEEs"`
	InFlight         int            `json:"concurrencyInUse"`
	Limit            int            `json:"concurrencyLimit"`
	CPUPercent       float64        `json:"cpuPercent"`
	MemoryPercent    float64        `json:"memoryPercent"`
	ThrottlesMinute  map[string]int `json:"throttlesLastMinute"`
	Why              string         `json:"why"`
}

// InstanceStatus is one instance as `paddock status` shows it.
type InstanceStatus struct {
	ID                 string  `json:"id"`
	CapacityProvider   string  `json:"capacityProvider"`
	Type               string  `json:"type"`
	State              string  `json:"state"` // Launching | Running
	VCPUAllocated      float64 `json:"vcpuAllocated"`
	VCPUAvailable      float64 `json:"vcpuAvailable"`
	MemoryAllocatedMiB int     `json:"memoryAllocatedMiB"`
	MemoryAvailableMiB int     `json:"memoryAvailableMiB"`
	CPUPercent         float64 `json:"cpuPercent"`
	EEs                int     `json:"ees"`
}

// instanceStatus reports in's allocation and CPU use.
func (l *Loop) instanceStatus(in *instance) InstanceStatus {
	st := InstanceStatus{
		ID: in.id, CapacityProvider: in.cp, Type: in.typ.Name, State: "Running",
		VCPUAllocated: float64(in.usedCPU) / 1000, VCPUAvailable: float64(in.typ.AllocatableMilliCPU()-in.usedCPU) / 1000,
		MemoryAllocatedMiB: in.usedMem, MemoryAvailableMiB: in.typ.AllocatableMemoryMiB() - in.usedMem,
	}
	if in.host == nil {
		st.State = "Launching"
	}
	var cpu float64
	for _, rec := range l.ees {
		if rec.inst == in {
			st.EEs++
			cpu += rec.meter.cpu
		}
	}
	if a := in.typ.AllocatableMilliCPU(); a > 0 {
		st.CPUPercent = 100 * cpu * 1000 / float64(a)
	}
	return st
}
