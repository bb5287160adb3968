package placement

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/paddockhq/paddock/internal/fleet"
)

func TestPlaceRound(t *testing.T) {
	xlarge := types(t, fleet.ArchX86_64, "m7i.xlarge")
	large := types(t, fleet.ArchX86_64, "m7i.large")
	req := func(key string, count int, cands []fleet.InstanceType) Request {
		return Request{Key: key, CapacityProvider: "cp", Need: small, Count: count, Candidates: cands, MaxNewMilliCPU: noCap}
	}
	tests := []struct {
		name   string
		hosts  []Host
		reqs   []Request
		spread int
		// per request: Assign and Launch (placeholder IDs / type names)
		assign  [][]string
		newIDs  [][]string
		whyHas  []string // one per request, "" for no check
		launchN int      // instances the round launches in all
	}{
		{
			name:   "three versions on an empty fleet each get their instance in the same round",
			reqs:   []Request{req("a:1", 1, large), req("b:1", 1, large), req("c:1", 1, large)},
			spread: 1,
			assign: [][]string{nil, nil, nil},
			newIDs: [][]string{{"new-0"}, {"new-1"}, {"new-2"}}, launchN: 3,
		},
		{
			name: "a launching instance promised to one version is not free for the next",
			hosts: []Host{{ID: "boot", Type: "m7i.large", CapacityProvider: "cp", Launching: true,
				FreeMilliCPU: 0, FreeMemoryMiB: 4096, EEs: map[string]int{"a:1": 1}}},
			reqs:   []Request{req("b:1", 1, large)},
			spread: 1,
			assign: [][]string{nil}, newIDs: [][]string{{"new-0"}}, launchN: 1,
		},
		{
			name: "room left on an instance launched this round is promised to the next version",
			// m7i.xlarge holds 3 EEs of 1 vCPU; a takes 1, b the 2 left.
			reqs:   []Request{req("a:1", 1, xlarge), req("b:1", 2, xlarge), req("c:1", 1, xlarge)},
			spread: 1,
			assign: [][]string{nil, {"new-0", "new-0"}, nil},
			newIDs: [][]string{{"new-0"}, nil, {"new-1"}}, launchN: 2,
			whyHas: []string{"1 new m7i.xlarge (1 EE)", "2 EEs promised on launching instances", "1 new m7i.xlarge (1 EE)"},
		},
		{
			name: "other capacity providers' instances are not offered",
			hosts: []Host{{ID: "other", Type: "m7i.2xlarge", CapacityProvider: "cp2",
				FreeMilliCPU: 7000, FreeMemoryMiB: 31744}},
			reqs:   []Request{req("a:1", 1, large)},
			spread: 1,
			assign: [][]string{nil}, newIDs: [][]string{{"new-0"}}, launchN: 1,
		},
		{
			name: "the capacity provider's cap is shared by the round",
			reqs: []Request{
				{Key: "a:1", CapacityProvider: "cp", Need: small, Count: 1, Candidates: large, MaxNewMilliCPU: 4000},
				{Key: "b:1", CapacityProvider: "cp", Need: small, Count: 1, Candidates: large, MaxNewMilliCPU: 4000},
				{Key: "c:1", CapacityProvider: "cp", Need: small, Count: 1, Candidates: large, MaxNewMilliCPU: 4000},
			},
			spread: 1,
			assign: [][]string{nil, nil, nil},
			newIDs: [][]string{{"new-0"}, {"new-1"}, nil}, launchN: 2,
			whyHas: []string{"", "", "1 EE unplaced: vCPU cap leaves 0m"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hostsBefore := fmt.Sprint(tt.hosts)
			got := PlaceRound(tt.hosts, tt.reqs, tt.spread)
			if fmt.Sprint(tt.hosts) != hostsBefore {
				t.Fatal("PlaceRound modified its hosts")
			}
			if len(got) != len(tt.reqs) {
				t.Fatalf("%d plans for %d requests", len(got), len(tt.reqs))
			}
			n := 0
			for i, rp := range got {
				if !slices.Equal(rp.Plan.Assign, tt.assign[i]) {
					t.Errorf("request %d: assign %v, want %v (%s)", i, rp.Plan.Assign, tt.assign[i], rp.Plan.Why)
				}
				if !slices.Equal(rp.NewIDs, tt.newIDs[i]) {
					t.Errorf("request %d: new %v, want %v (%s)", i, rp.NewIDs, tt.newIDs[i], rp.Plan.Why)
				}
				if len(rp.NewIDs) != len(rp.Plan.Launch) {
					t.Errorf("request %d: %d placeholders for %d launches", i, len(rp.NewIDs), len(rp.Plan.Launch))
				}
				if tt.whyHas != nil && !strings.Contains(rp.Plan.Why, tt.whyHas[i]) {
					t.Errorf("request %d: Why %q lacks %q", i, rp.Plan.Why, tt.whyHas[i])
				}
				n += len(rp.Plan.Launch)
			}
			if n != tt.launchN {
				t.Errorf("launched %d instances, want %d", n, tt.launchN)
			}
		})
	}
}

// TestPlaceRoundTwentyVersions is the burst of the issue: 20 versions of
// min 3 EEs published at once all get their instances in one round, and no
// instance is promised more than it holds.
func TestPlaceRoundTwentyVersions(t *testing.T) {
	m7i := types(t, fleet.ArchX86_64, "m7i.*")
	var reqs []Request
	for i := range 20 {
		reqs = append(reqs, Request{Key: fmt.Sprintf("f%02d:1", i), CapacityProvider: "cp", Need: small, Count: 3, Candidates: m7i, MaxNewMilliCPU: noCap})
	}
	plans := PlaceRound(nil, reqs, 3)
	held := map[string]int{} // EEs per placeholder
	spread := map[string]map[string]bool{}
	size := map[string]string{}
	for _, rp := range plans {
		if rp.Plan.Unplaced != 0 {
			t.Fatalf("%s: %d unplaced (%s)", rp.Request.Key, rp.Plan.Unplaced, rp.Plan.Why)
		}
		on := map[string]bool{}
		for i, id := range rp.NewIDs {
			held[id] += rp.Plan.LaunchEEs[i]
			size[id] = rp.Plan.Launch[i]
			on[id] = true
		}
		for _, id := range rp.Plan.Assign {
			held[id]++
			on[id] = true
		}
		spread[rp.Request.Key] = on
	}
	for id, n := range held {
		typ, _ := fleet.LookupInstanceType(size[id])
		if fit := min(typ.AllocatableMilliCPU()/small.MilliCPU, typ.AllocatableMemoryMiB()/small.MemoryMiB); n > fit {
			t.Errorf("%s (%s) promised %d EEs, holds %d", id, size[id], n, fit)
		}
	}
	for key, on := range spread {
		if len(on) != 3 {
			t.Errorf("%s on %d instances, want 3", key, len(on))
		}
	}
	t.Logf("20 versions × 3 EEs: %d instances launched in one round", len(held))
}
