// Package simulate runs Paddock's real autoscaler and placement on a
// virtual clock against a load trace, with a fluid model of the function:
// each second, arrivals × duration is the concurrency asked for and
// arrivals × CPU per request the CPU asked for; what the ready EEs cannot
// hold is throttled. It answers "how many EEs and instances, how many
// throttles, what cost" for fleets far larger than one machine can run.
package simulate

import (
	"fmt"
	"math"
	"time"

	"github.com/paddockhq/paddock/internal/fleet"
	"github.com/paddockhq/paddock/internal/placement"
	"github.com/paddockhq/paddock/internal/scaler"
)

// Config is the function and capacity provider being simulated.
type Config struct {
	MemoryMB       int     // EE memory
	GiBPerVCPU     float64 // EE memory per vCPU (2, 4 or 8)
	MaxConcurrency int     // slots per EE
	MinEEs, MaxEEs int     // zero: the defaults (min 3, no max)
	Target         float64 // utilization target (scaler.AutoTarget in Auto mode)
	MaxVCPU        int     // the capacity provider's MaxVCpuCount
	Arch           string
	AllowedTypes   []string
	ExcludedTypes  []string
	LaunchDelay    time.Duration // instance launch time
	EEInitDelay    time.Duration // EE start to ready on a running instance
	Cooldown       time.Duration // empty instance lifetime before termination
	Tuning         scaler.Tuning
	Step           time.Duration // decision period (1 s)
}

// Defaults fills the zero fields with Paddock's defaults.
func (c *Config) Defaults() {
	if c.MemoryMB == 0 {
		c.MemoryMB = 2048
	}
	if c.GiBPerVCPU == 0 {
		c.GiBPerVCPU = 2
	}
	if c.MaxConcurrency == 0 {
		c.MaxConcurrency = int(8 * c.vcpu())
		c.MaxConcurrency = max(c.MaxConcurrency, 1)
	}
	if c.MinEEs == 0 {
		c.MinEEs = 3
	}
	if c.MaxEEs == 0 {
		c.MaxEEs = -1
	}
	if c.Target == 0 {
		c.Target = scaler.AutoTarget
	}
	if c.MaxVCPU == 0 {
		c.MaxVCPU = 400
	}
	if c.Arch == "" {
		c.Arch = fleet.ArchX86_64
	}
	if c.EEInitDelay == 0 {
		c.EEInitDelay = time.Second
	}
	if c.Cooldown == 0 {
		c.Cooldown = 30 * time.Second
	}
	if c.Step == 0 {
		c.Step = time.Second
	}
}

func (c *Config) vcpu() float64 { return float64(c.MemoryMB) / 1024 / c.GiBPerVCPU }

// Minute is one row of the simulator's table.
type Minute struct {
	Minute       int
	RPS          float64 // mean arrivals per second
	EEs          int     // ready EEs at the end of the minute
	DesiredEEs   int
	Instances    int     // running and launching
	VCPUs        int     // whole-instance vCPUs of those instances
	ThrottleRate float64 // fraction of arrivals refused
	CPUPercent   float64 // mean CPU utilization of the ready EEs
	SlotsPercent float64 // mean concurrency saturation of the ready EEs
	InstanceCost float64 // USD for this minute's instance time
	Why          string  // the scaler's last reason
}

// Result is a whole run.
type Result struct {
	Minutes      []Minute
	Requests     float64
	Throttled    float64
	PeakEEs      int
	PeakInstance int
	PeakVCPUs    int
	InstanceCost float64 // USD, on-demand price of the instance time
	RequestCost  float64 // USD, $0.20 per million requests
	Fee          float64 // USD, the 15% management fee on instance cost
	// ThrottledAt lists the steps (time since the start) that refused any
	// invoke, so tests can tell how long a burst throttled.
	ThrottledAt []time.Duration
	// EEsAt is the EE count (ready or starting) after each step.
	EEsAt []int
}

// Total is the bill: requests + instances + 15% management fee.
func (r Result) Total() float64 { return r.RequestCost + r.InstanceCost + r.Fee }

type simInstance struct {
	id         string
	typ        fleet.InstanceType
	readyAt    time.Duration   // launch completes
	eeReady    []time.Duration // when each of its EEs is (or was) ready
	emptySince time.Duration   // 0 while it has EEs
}

func (in *simInstance) usedCPU(n placement.Need) int { return len(in.eeReady) * n.MilliCPU }
func (in *simInstance) usedMem(n placement.Need) int { return len(in.eeReady) * n.MemoryMiB }

// Run simulates the trace.
func Run(cfg Config, tr Trace) (Result, error) {
	cfg.Defaults()
	candidates := fleet.MatchInstanceTypes(cfg.Arch, cfg.AllowedTypes, cfg.ExcludedTypes)
	if len(candidates) == 0 {
		return Result{}, fmt.Errorf("no %s instance type matches the allowed/excluded types", cfg.Arch)
	}
	need := placement.Need{MilliCPU: int(cfg.vcpu() * 1000), MemoryMiB: cfg.MemoryMB}
	policy := scaler.DefaultPolicy(cfg.Target, cfg.MinEEs, cfg.MaxEEs)
	if t := cfg.Tuning; t.StableWindow > 0 {
		policy.StableWindow = t.StableWindow
	}
	if t := cfg.Tuning; t.PanicWindow > 0 {
		policy.PanicWindow = t.PanicWindow
	}
	if t := cfg.Tuning; t.ScaleDownDelay > 0 {
		policy.ScaleDownDelay = t.ScaleDownDelay
	}
	if t := cfg.Tuning; t.MaxScaleDownPerMinute > 0 {
		policy.MaxScaleDownPerMinute = t.MaxScaleDownPerMinute
	}
	as := scaler.NewAutoscaler(policy)
	epoch := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

	s := &sim{cfg: cfg, need: need, candidates: candidates, insts: map[string]*simInstance{}}
	// The version is published before the trace starts, sized for its
	// first load: the minimum EEs are up, as Lambda makes a version Active
	// only then, and so are enough for the load the trace starts at (as
	// after a long warm run), so the table shows the scaler's answer to
	// changes in the load, not a cold start.
	first := tr.At(0)
	warm := math.Max(first.RPS*first.Duration.Seconds()/(float64(cfg.MaxConcurrency)*cfg.Target),
		first.RPS*first.CPUPerReq.Seconds()/(cfg.vcpu()*cfg.Target))
	initial := max(cfg.MinEEs, int(math.Ceil(warm)))
	if cfg.MaxEEs >= 0 {
		initial = min(initial, cfg.MaxEEs)
	}
	s.place(-s.cfg.LaunchDelay-s.cfg.EEInitDelay, initial)
	var res Result
	var minute Minute
	var minuteSteps int
	var cpuSum, slotSum float64
	desired := cfg.MinEEs
	decision := scaler.Decision{Desired: desired, Why: "minimum EEs"}
	stepSec := cfg.Step.Seconds()

	for t := time.Duration(0); t < tr.Length(); t += cfg.Step {
		now := epoch.Add(t)
		load := tr.At(t)
		ready := s.readyEEs(t)

		// The fluid model of one step.
		slots := float64(ready * cfg.MaxConcurrency)
		cpuCap := float64(ready) * cfg.vcpu()
		wantSlots := load.RPS * load.Duration.Seconds()
		wantCPU := load.RPS * load.CPUPerReq.Seconds()
		served := 1.0
		if wantSlots > 0 {
			served = math.Min(served, slots/wantSlots)
		}
		if wantCPU > 0 {
			served = math.Min(served, cpuCap/wantCPU)
		}
		arrivals := load.RPS * stepSec
		res.Requests += arrivals
		res.Throttled += arrivals * (1 - served)
		if served < 1-1e-9 {
			res.ThrottledAt = append(res.ThrottledAt, t)
		}
		sample := scaler.Sample{
			At: now, EEs: ready, MaxConcurrency: cfg.MaxConcurrency, VCPUPerEE: cfg.vcpu(),
			InFlight: wantSlots * served, CPU: wantCPU * served,
			Served: load.RPS * served, Throttled: load.RPS * (1 - served),
		}
		as.Record(sample)
		if ready > 0 {
			cpuSum += sample.CPU / cpuCap
			slotSum += sample.InFlight / slots
		}

		// Decide and act, as the scaler loop does each second.
		decision = as.Decide(now, s.ees)
		desired = decision.Desired
		switch live := s.ees; {
		case live < desired:
			s.place(t, desired-live)
		case live > desired:
			s.remove(live - desired)
		}
		s.reap(t)

		// Bill the instance time of the step.
		for _, in := range s.insts {
			c := in.typ.PricePerHour * stepSec / 3600
			minute.InstanceCost += c
			res.InstanceCost += c
		}
		res.PeakEEs = max(res.PeakEEs, s.ees)
		res.EEsAt = append(res.EEsAt, s.ees)
		res.PeakInstance = max(res.PeakInstance, len(s.insts))
		res.PeakVCPUs = max(res.PeakVCPUs, s.vcpus())

		minute.RPS += load.RPS
		minute.ThrottleRate += arrivals * (1 - served)
		minuteSteps++
		if end := t + cfg.Step; end%time.Minute == 0 || end >= tr.Length() {
			arr := minute.RPS * stepSec
			if arr > 0 {
				minute.ThrottleRate /= arr
			}
			minute.RPS /= float64(minuteSteps)
			minute.CPUPercent = 100 * cpuSum / float64(minuteSteps)
			minute.SlotsPercent = 100 * slotSum / float64(minuteSteps)
			minute.EEs, minute.DesiredEEs = s.readyEEs(t), desired
			minute.Instances, minute.VCPUs = len(s.insts), s.vcpus()
			minute.Why = decision.Why
			minute.Minute = int(t / time.Minute)
			res.Minutes = append(res.Minutes, minute)
			minute, minuteSteps, cpuSum, slotSum = Minute{}, 0, 0, 0
		}
	}
	res.RequestCost = res.Requests / 1e6 * 0.20
	res.Fee = res.InstanceCost * 0.15
	return res, nil
}

// sim is the fleet: instances and the EEs placed on them.
type sim struct {
	cfg        Config
	need       placement.Need
	candidates []fleet.InstanceType
	insts      map[string]*simInstance
	ids        []string // instance IDs, sorted (they are made in order)
	ees        int      // all EEs, ready or not
	nextID     int
}

// readyEEs counts the EEs ready at t.
func (s *sim) readyEEs(t time.Duration) int {
	n := 0
	for _, in := range s.insts {
		for _, r := range in.eeReady {
			if r <= t {
				n++
			}
		}
	}
	return n
}

func (s *sim) vcpus() int {
	n := 0
	for _, in := range s.insts {
		n += in.typ.VCPU
	}
	return n
}

func (s *sim) snapshot() []placement.Instance {
	out := make([]placement.Instance, 0, len(s.ids))
	for _, id := range s.ids {
		in := s.insts[id]
		out = append(out, placement.Instance{ID: id, Type: in.typ.Name,
			FreeMilliCPU:  in.typ.AllocatableMilliCPU() - in.usedCPU(s.need),
			FreeMemoryMiB: in.typ.AllocatableMemoryMiB() - in.usedMem(s.need),
			VersionEEs:    len(in.eeReady)})
	}
	return out
}

// place runs the real placement for count EEs: on running instances they
// start now; on launching ones once those run; new instances launch.
func (s *sim) place(t time.Duration, count int) {
	plan := placement.PlaceEEs(s.snapshot(), s.need, count, scaler.SpreadTarget, s.candidates, s.cfg.MaxVCPU*1000-s.vcpus()*1000)
	for _, id := range plan.Assign {
		s.addEE(t, s.insts[id])
	}
	for i, name := range plan.Launch {
		typ, _ := fleet.LookupInstanceType(name)
		s.nextID++
		in := &simInstance{id: fmt.Sprintf("i-%08d", s.nextID), typ: typ, readyAt: t + s.cfg.LaunchDelay}
		s.insts[in.id] = in
		s.ids = append(s.ids, in.id)
		for j := 0; j < plan.LaunchEEs[i]; j++ {
			s.addEE(t, in)
		}
	}
}

func (s *sim) addEE(t time.Duration, in *simInstance) {
	ready := max(t, in.readyAt) + s.cfg.EEInitDelay
	in.eeReady = append(in.eeReady, ready)
	in.emptySince = 0
	s.ees++
}

// remove drains n EEs where the real scale-in would (placement.ScaleIn),
// the newest EE of each chosen instance first.
func (s *sim) remove(n int) {
	for _, id := range placement.ScaleIn(s.snapshot(), n, scaler.SpreadTarget) {
		in := s.insts[id]
		newest := 0
		for i, r := range in.eeReady {
			if r > in.eeReady[newest] {
				newest = i
			}
		}
		in.eeReady = append(in.eeReady[:newest], in.eeReady[newest+1:]...)
		s.ees--
	}
}

// reap terminates instances that stayed empty for the cooldown.
func (s *sim) reap(t time.Duration) {
	kept := s.ids[:0]
	for _, id := range s.ids {
		in := s.insts[id]
		if len(in.eeReady) == 0 {
			if in.emptySince == 0 {
				in.emptySince = t + 1 // never zero once empty
			} else if t+1-in.emptySince >= s.cfg.Cooldown {
				delete(s.insts, id)
				continue
			}
		}
		kept = append(kept, id)
	}
	s.ids = kept
}
