package scaler

import (
	"fmt"
	"math"
	"time"
)

// Sample is one period's measurement of a function version's EEs.
type Sample struct {
	At             time.Time
	EEs            int     // ready EEs serving
	InFlight       float64 // invokes held by the EEs (mean over the period)
	MaxConcurrency int     // slots per EE
	CPU            float64 // vCPUs used by all EEs together
	VCPUPerEE      float64 // vCPUs allocated to each EE
	Served         float64 // invokes completed per second
	Throttled      float64 // invokes refused per second
}

// Policy is how a version scales.
type Policy struct {
	// Target is the utilization (0..1] that CPU and concurrency saturation
	// are held at: 0.5 in Auto mode, so traffic can double before the EEs
	// are full; the capacity provider's TargetValue/100 in Manual mode.
	Target float64
	MinEEs int
	MaxEEs int // -1: none

	// StableWindow averages the metrics the steady decisions use.
	StableWindow time.Duration
	// PanicWindow is the short window that detects a sudden rise; while
	// panicking, the scaler follows it up at once and never scales down.
	PanicWindow time.Duration
	// ScaleDownDelay: the scaler removes EEs only when every decision over
	// this long wanted fewer, so a dip between bursts keeps capacity.
	ScaleDownDelay time.Duration
	// MaxScaleDownPerMinute bounds scale-in to this fraction of the EEs per
	// minute (at least one EE per decision), so it is gradual.
	MaxScaleDownPerMinute float64
}

// DefaultPolicy returns the policy for a target utilization.
func DefaultPolicy(target float64, min, max int) Policy {
	return Policy{
		Target: target, MinEEs: min, MaxEEs: max,
		StableWindow: 60 * time.Second, PanicWindow: 6 * time.Second,
		ScaleDownDelay: 2 * time.Minute, MaxScaleDownPerMinute: 0.25,
	}
}

// AutoTarget is Auto mode's utilization target: at 50% every EE can take
// twice its load, which is how Lambda keeps room for traffic to double
// within 5 minutes while instances launch.
const AutoTarget = 0.5

// maxScaleUp bounds one decision to this multiple of the ready EEs (as
// Knative's max scale-up rate): enough for a x10 spike in one launch
// cycle, not a runaway when refused clients retry in a tight loop.
const maxScaleUp = 10.0

// panicThreshold: demand at this multiple of current capacity (at target)
// within the panic window switches to panic mode, as Knative does at 200%.
const panicThreshold = 2.0

// Autoscaler turns a stream of samples into desired EE counts for one
// version. It holds only its windows: feed it samples and ask it to decide,
// passing the clock in, so every scenario is reproducible.
type Autoscaler struct {
	policy     Policy
	samples    []Sample // newest last, trimmed to the longest window
	panicUntil time.Time
	// recent keeps raw recommendations for the scale-down delay.
	recent   []recommendation
	lastDown time.Time
}

type recommendation struct {
	at      time.Time
	desired int
}

// NewAutoscaler returns an autoscaler with empty windows. Until its windows
// hold samples it keeps the current count (and starts in no panic: a
// restarted Paddock re-measures before it scales).
func NewAutoscaler(p Policy) *Autoscaler {
	return &Autoscaler{policy: p}
}

// SetPolicy changes the policy (a new scaling config or target).
func (a *Autoscaler) SetPolicy(p Policy) { a.policy = p }

// Record adds one period's sample.
func (a *Autoscaler) Record(s Sample) {
	a.samples = append(a.samples, s)
	keep := a.policy.StableWindow
	if a.policy.ScaleDownDelay > keep {
		keep = a.policy.ScaleDownDelay
	}
	cut := 0
	for cut < len(a.samples) && s.At.Sub(a.samples[cut].At) > keep {
		cut++
	}
	a.samples = a.samples[cut:]
}

// demand is the EEs needed to hold the samples in a window at the target,
// and the utilization that drove it.
type demand struct {
	ees        float64
	cpu, slots float64 // utilization of the current allocation (0..1+)
	throttled  float64
}

func (a *Autoscaler) demandOver(now time.Time, window time.Duration) (demand, bool) {
	var n int
	var cpu, inFlight, served, throttled, vcpu, maxConc, ees float64
	for i := len(a.samples) - 1; i >= 0; i-- {
		s := a.samples[i]
		if now.Sub(s.At) >= window {
			break
		}
		n++
		cpu += s.CPU
		inFlight += s.InFlight
		served += s.Served
		throttled += s.Throttled
		vcpu = s.VCPUPerEE
		maxConc = float64(s.MaxConcurrency)
		ees += float64(s.EEs)
	}
	if n == 0 || vcpu <= 0 || maxConc <= 0 {
		return demand{}, false
	}
	fn := float64(n)
	cpu, inFlight, served, throttled, ees = cpu/fn, inFlight/fn, served/fn, throttled/fn, ees/fn
	// Refused invokes are demand the EEs never saw. By Little's law each
	// served invoke holds a slot for inFlight/served seconds, so the true
	// concurrency (and CPU) is what was seen scaled by arrivals over served.
	scale := 1.0
	if throttled > 0 {
		if served > 0 {
			scale = (served + throttled) / served
		} else {
			scale = 2 // nothing got through: at least double
		}
		// Clients that retry a refused invoke at once multiply the
		// refusals without adding demand; past maxScaleUp the count says
		// more about their retry loops than about the traffic.
		scale = math.Min(scale, maxScaleUp)
	}
	target := a.policy.Target
	if target <= 0 || target > 1 {
		target = AutoTarget
	}
	byCPU := cpu * scale / (vcpu * target)
	bySlots := inFlight * scale / (maxConc * target)
	d := demand{ees: math.Max(byCPU, bySlots), throttled: throttled}
	if ees > 0 {
		d.cpu = cpu / (ees * vcpu)
		d.slots = inFlight / (ees * maxConc)
	}
	return d, true
}

// Decide returns the desired EE count at now, given the current one.
func (a *Autoscaler) Decide(now time.Time, current int) Decision {
	p := a.policy
	if p.MaxEEs == 0 {
		return Decision{0, "deactivated (min = max = 0)"}
	}
	stable, okS := a.demandOver(now, p.StableWindow)
	panicD, okP := a.demandOver(now, p.PanicWindow)
	if !okS || !okP {
		return a.bound(Decision{max(current, p.MinEEs), "no measurements yet: holding"})
	}
	desired := int(math.Ceil(stable.ees - 1e-9))
	why := fmt.Sprintf("cpu %.0f%%, concurrency %.0f%% of slots over %v; target %.0f%%",
		stable.cpu*100, stable.slots*100, p.StableWindow, p.Target*100)

	// Panic: a sudden rise (or any throttle) is followed at once.
	if panicD.throttled > 0 || panicD.ees >= panicThreshold*float64(max(current, 1)) {
		a.panicUntil = now.Add(p.StableWindow)
	}
	panicking := now.Before(a.panicUntil)
	if panicking {
		up := int(math.Ceil(panicD.ees - 1e-9))
		if up > desired {
			desired = up
			why = fmt.Sprintf("panic: cpu %.0f%%, concurrency %.0f%% of slots, %.0f throttled/s over %v",
				panicD.cpu*100, panicD.slots*100, panicD.throttled, p.PanicWindow)
		}
		if desired < current {
			desired, why = current, "panic mode: no scale-in until the burst settles"
		}
	}
	if ready := a.samples[len(a.samples)-1].EEs; desired > current && float64(desired) > maxScaleUp*float64(max(ready, 1)) {
		desired = max(current, int(maxScaleUp*float64(max(ready, 1))))
		why = fmt.Sprintf("scale-up capped at %.0fx the %d ready EEs per decision (%s)", maxScaleUp, ready, why)
	}

	// Bound first, so holding at the minimum says so rather than looking
	// like a scale-in in progress.
	if b := a.bound(Decision{desired, why}); b.Desired != desired {
		desired, why = b.Desired, b.Why
	}

	// Scale-in waits until every recent recommendation agreed, then goes
	// a step at a time.
	a.recent = append(a.recent, recommendation{now, desired})
	cut := 0
	for cut < len(a.recent) && now.Sub(a.recent[cut].at) > p.ScaleDownDelay {
		cut++
	}
	a.recent = a.recent[cut:]
	if desired < current {
		highest := desired
		for _, r := range a.recent {
			highest = max(highest, r.desired)
		}
		if highest >= current {
			return a.bound(Decision{current, "holding: scale-in waits " + p.ScaleDownDelay.String() + " of lower demand (" + why + ")"})
		}
		// The budget accrues with time since the last step: a fraction of
		// the EEs per minute, so scale-in is gradual at every size.
		step := 1
		if !a.lastDown.IsZero() {
			step = int(math.Floor(float64(current) * p.MaxScaleDownPerMinute * now.Sub(a.lastDown).Minutes()))
			if step < 1 {
				return a.bound(Decision{current, "scaling in gradually: next step later (" + why + ")"})
			}
		}
		if current-highest > step {
			highest = current - step
		}
		a.lastDown = now
		return a.bound(Decision{highest, "scaling in gradually: " + why})
	}
	return a.bound(Decision{desired, why})
}

// bound applies min and max EEs.
func (a *Autoscaler) bound(d Decision) Decision {
	p := a.policy
	if d.Desired < p.MinEEs {
		d = Decision{p.MinEEs, fmt.Sprintf("minimum %d EEs (%s)", p.MinEEs, d.Why)}
	}
	if p.MaxEEs >= 0 && d.Desired > p.MaxEEs {
		d = Decision{p.MaxEEs, fmt.Sprintf("maximum %d EEs (%s)", p.MaxEEs, d.Why)}
	}
	return d
}
