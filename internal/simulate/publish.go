package simulate

import (
	"fmt"
	"time"

	"github.com/paddockhq/paddock/internal/fleet"
	"github.com/paddockhq/paddock/internal/placement"
	"github.com/paddockhq/paddock/internal/scaler"
)

// PublishRound is one decision period of a publish burst in which
// placement did something.
type PublishRound struct {
	At       time.Duration
	Launched int // instances launched in this round
	Promised int // EEs promised on launching instances (theirs or earlier ones)
	Started  int // EEs started on running instances
	Ready    int // versions with their minimum EEs ready after this period
	Why      string
}

// PublishResult is how a burst of versions published at once (or brought
// back by a restart) comes up.
type PublishResult struct {
	Versions   int
	Rounds     []PublishRound
	Instances  int
	VCPUs      int
	AllReadyAt time.Duration // when the last version had its minimum EEs ready; -1 if never
}

// LaunchRounds counts the rounds that launched instances.
func (r PublishResult) LaunchRounds() int {
	n := 0
	for _, rd := range r.Rounds {
		if rd.Launched > 0 {
			n++
		}
	}
	return n
}

// Publish simulates versions LMI versions of the configured function
// published at once on an empty capacity provider, as after a restart: each
// decision period the scaler's real round of placement
// (placement.PlaceRound) plans every version still short of its minimum
// EEs, EEs on launching instances are promised their capacity, and they
// start once their instance runs. It runs until every version has its
// minimum EEs ready, or for 30 minutes of virtual time.
func Publish(cfg Config, versions int) (PublishResult, error) {
	cfg.Defaults()
	candidates := fleet.MatchInstanceTypes(cfg.Arch, cfg.AllowedTypes, cfg.ExcludedTypes)
	if len(candidates) == 0 {
		return PublishResult{}, fmt.Errorf("no %s instance type matches the allowed/excluded types", cfg.Arch)
	}
	if versions <= 0 {
		return PublishResult{}, fmt.Errorf("publish at least one version, not %d", versions)
	}
	need := placement.Need{MilliCPU: int(cfg.vcpu() * 1000), MemoryMiB: cfg.MemoryMB}
	var hosts []*simHost
	keys := make([]string, versions)
	for i := range keys {
		keys[i] = fmt.Sprintf("fn-%03d:1", i+1)
	}
	res := PublishResult{Versions: versions, AllReadyAt: -1}
	const cpName = "cp"
	for t := time.Duration(0); t <= 30*time.Minute; t += cfg.Step {
		// Ready versions, and the requests of those short of their minimum.
		ready := 0
		var reqs []placement.Request
		usedMilli := 0
		for _, h := range hosts {
			usedMilli += h.typ.VCPU * 1000
		}
		for _, k := range keys {
			have, up := 0, 0
			for _, h := range hosts {
				for _, at := range h.eeReady[k] {
					have++
					if at <= t {
						up++
					}
				}
			}
			if up >= cfg.MinEEs {
				ready++
			}
			if have < cfg.MinEEs {
				reqs = append(reqs, placement.Request{Key: k, CapacityProvider: cpName, Need: need, Count: cfg.MinEEs - have,
					Candidates: candidates, MaxNewMilliCPU: cfg.MaxVCPU*1000 - usedMilli})
			}
		}
		if ready == versions {
			res.AllReadyAt = t
			break
		}
		if len(reqs) == 0 {
			continue
		}
		snap := make([]placement.Host, len(hosts))
		index := map[string]*simHost{}
		for i, h := range hosts {
			snap[i] = h.Host
			snap[i].Launching = h.readyAt > t
			index[h.ID] = h
		}
		rd := PublishRound{At: t}
		for _, rp := range placement.PlaceRound(snap, reqs, scaler.SpreadTarget) {
			k := rp.Request.Key
			for i, name := range rp.Plan.Launch {
				typ, _ := fleet.LookupInstanceType(name)
				h := &simHost{typ: typ, readyAt: t + cfg.LaunchDelay, eeReady: map[string][]time.Duration{}}
				h.Host = placement.Host{ID: fmt.Sprintf("i-%05d", len(hosts)+1), Type: name, CapacityProvider: cpName,
					FreeMilliCPU: typ.AllocatableMilliCPU(), FreeMemoryMiB: typ.AllocatableMemoryMiB(), EEs: map[string]int{}}
				hosts = append(hosts, h)
				index[rp.NewIDs[i]] = h
				for range rp.Plan.LaunchEEs[i] {
					h.add(k, need, t+cfg.LaunchDelay+cfg.EEInitDelay)
				}
				rd.Launched++
				rd.Promised += rp.Plan.LaunchEEs[i]
			}
			for _, id := range rp.Plan.Assign {
				h := index[id]
				if h.readyAt > t {
					rd.Promised++
				} else {
					rd.Started++
				}
				h.add(k, need, max(t, h.readyAt)+cfg.EEInitDelay)
			}
			if rd.Why == "" {
				rd.Why = k + ": " + rp.Plan.Why
			}
		}
		rd.Ready = ready
		res.Rounds = append(res.Rounds, rd)
	}
	res.Instances = len(hosts)
	for _, h := range hosts {
		res.VCPUs += h.typ.VCPU
	}
	return res, nil
}

// simHost is an instance of a publish burst and the EEs of each version on it.
type simHost struct {
	placement.Host
	typ     fleet.InstanceType
	readyAt time.Duration
	eeReady map[string][]time.Duration // per version: when each EE is ready
}

// add places one EE of key on the simulated host h, ready at ready.
func (h *simHost) add(key string, need placement.Need, ready time.Duration) {
	h.FreeMilliCPU -= need.MilliCPU
	h.FreeMemoryMiB -= need.MemoryMiB
	h.EEs[key]++
	h.eeReady[key] = append(h.eeReady[key], ready)
}
