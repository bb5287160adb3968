package placement

import (
	"fmt"

	"github.com/paddockhq/paddock/internal/fleet"
)

// Host is an instance as one round of placement sees it: the EEs of every
// version on it, running or promised.
type Host struct {
	ID               string
	Type             string
	CapacityProvider string
	// FreeMilliCPU and FreeMemoryMiB are what no EE holds or was promised.
	FreeMilliCPU  int
	FreeMemoryMiB int
	// Launching is true until the instance runs; its EEs are promises then.
	Launching bool
	// EEs counts the EEs per version key, running, starting or promised.
	EEs map[string]int
}

// Request asks for Count more EEs of one version.
type Request struct {
	Key              string
	CapacityProvider string
	Need             Need
	Count            int
	Candidates       []fleet.InstanceType // allowed types, already matched
	// MaxNewMilliCPU is the capacity provider's MaxVCpuCount (×1000) minus
	// what its instances take at the start of the round; every request of
	// one capacity provider carries the same value, and the round takes off
	// what earlier requests launched.
	MaxNewMilliCPU int
}

// RoundPlan is the plan for one request of a round.
type RoundPlan struct {
	Request Request
	Plan    Plan
	// NewIDs names the instances of Plan.Launch (parallel to it) with
	// placeholders, NewID(i) for the i-th instance the round launches. A
	// later request's Plan.Assign may name them: its EEs are promised room
	// on an instance an earlier request launched.
	NewIDs []string
}

// NewID is the placeholder ID of the i-th instance (from 0) a round launches.
func NewID(i int) string { return fmt.Sprintf("new-%d", i) }

// PlaceRound plans every request against one fleet, in order, as one round:
// each plan's EEs, on existing instances or on the instances it launches,
// are promised their capacity before the next request is planned. So every
// version that needs an instance gets it launched in this round, a second
// version never counts as free what a launching instance was promised to
// the first, and it may take what the first left free on the instances it
// launched, which serve as soon as any new instance would.
//
// It is pure: hosts and requests are not modified.
func PlaceRound(hosts []Host, reqs []Request, spreadTarget int) []RoundPlan {
	fleetNow := make([]Host, len(hosts))
	for i, h := range hosts {
		fleetNow[i] = h
		fleetNow[i].EEs = make(map[string]int, len(h.EEs))
		for k, n := range h.EEs {
			fleetNow[i].EEs[k] = n
		}
	}
	index := map[string]int{}
	for i, h := range fleetNow {
		index[h.ID] = i
	}
	launchedMilli := map[string]int{} // by capacity provider, this round
	launched := 0
	out := make([]RoundPlan, 0, len(reqs))
	for _, r := range reqs {
		var insts []Instance
		for _, h := range fleetNow {
			if h.CapacityProvider != r.CapacityProvider {
				continue
			}
			insts = append(insts, Instance{
				ID: h.ID, Type: h.Type, FreeMilliCPU: h.FreeMilliCPU, FreeMemoryMiB: h.FreeMemoryMiB,
				VersionEEs: h.EEs[r.Key], Launching: h.Launching,
			})
		}
		p := PlaceEEs(insts, r.Need, r.Count, spreadTarget, r.Candidates, r.MaxNewMilliCPU-launchedMilli[r.CapacityProvider])
		rp := RoundPlan{Request: r, Plan: p}
		for _, id := range p.Assign {
			h := &fleetNow[index[id]]
			h.FreeMilliCPU -= r.Need.MilliCPU
			h.FreeMemoryMiB -= r.Need.MemoryMiB
			h.EEs[r.Key]++
		}
		for i, name := range p.Launch {
			id := NewID(launched)
			launched++
			rp.NewIDs = append(rp.NewIDs, id)
			h := Host{ID: id, Type: name, CapacityProvider: r.CapacityProvider, Launching: true,
				EEs: map[string]int{r.Key: p.LaunchEEs[i]}}
			if t, ok := typeNamed(r.Candidates, name); ok {
				h.FreeMilliCPU = t.AllocatableMilliCPU() - p.LaunchEEs[i]*r.Need.MilliCPU
				h.FreeMemoryMiB = t.AllocatableMemoryMiB() - p.LaunchEEs[i]*r.Need.MemoryMiB
			}
			index[id] = len(fleetNow)
			fleetNow = append(fleetNow, h)
		}
		launchedMilli[r.CapacityProvider] += p.NewMilliCPU
		out = append(out, rp)
	}
	return out
}

// typeNamed finds a candidate by name (candidates may be synthetic, as in
// tests), else in the catalog.
func typeNamed(candidates []fleet.InstanceType, name string) (fleet.InstanceType, bool) {
	for _, t := range candidates {
		if t.Name == name {
			return t, true
		}
	}
	return fleet.LookupInstanceType(name)
}
