package placement

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/paddockhq/paddock/internal/fleet"
)

const noCap = math.MaxInt

// small is the EE size used by most cases: 1 vCPU and 2 GiB, which fits once
// on any .large (1 vCPU allocatable), 3 times on an m7i.xlarge and 7 times on
// an m7i.2xlarge.
var small = Need{MilliCPU: 1000, MemoryMiB: 2048}

func types(t *testing.T, arch string, allowed ...string) []fleet.InstanceType {
	t.Helper()
	got := fleet.MatchInstanceTypes(arch, allowed, nil)
	if len(got) == 0 {
		t.Fatalf("no instance types match %v", allowed)
	}
	return got
}

func TestPlaceEEs(t *testing.T) {
	m7i := types(t, fleet.ArchX86_64, "m7i.*")
	x86 := types(t, fleet.ArchX86_64)
	// Synthetic types for the cap trade-off: one cheap but vCPU-hungry, one
	// dear but small.
	cheapBig := fleet.InstanceType{Name: "t.cheapbig", VCPU: 8, MemoryMiB: 32768, PricePerHour: 0.10}
	dearSmall := fleet.InstanceType{Name: "t.dearsmall", VCPU: 2, MemoryMiB: 8192, PricePerHour: 0.20}

	tests := []struct {
		name       string
		instances  []Instance
		need       Need
		count      int
		spread     int
		candidates []fleet.InstanceType
		cap        int

		assign     []string
		launch     []string
		launchEEs  []int
		unplaced   int
		spreadGot  int
		newMilli   int
		newPrice   float64
		whyHas     []string
		whyHasNone []string
	}{
		{
			name: "3 EEs on no instances: 3 of the cheapest type that fits one",
			need: small, count: 3, spread: 3, candidates: m7i, cap: noCap,
			launch: []string{"m7i.large", "m7i.large", "m7i.large"}, launchEEs: []int{1, 1, 1},
			spreadGot: 3, newMilli: 6000, newPrice: 0.3024,
			whyHas: []string{"3 new m7i.large (1 EE each)"},
		},
		{
			name: "3 EEs on no instances, any x86 type: c6i.large is cheapest",
			need: small, count: 3, spread: 3, candidates: x86, cap: noCap,
			launch: []string{"c6i.large", "c6i.large", "c6i.large"}, launchEEs: []int{1, 1, 1},
			spreadGot: 3, newMilli: 6000, newPrice: 0.255,
		},
		{
			name: "3 EEs on 3 empty instances: one each, best fit first",
			instances: []Instance{
				{ID: "a", Type: "m7i.2xlarge", FreeMilliCPU: 7000, FreeMemoryMiB: 31744},
				{ID: "b", Type: "m7i.xlarge", FreeMilliCPU: 3000, FreeMemoryMiB: 15360},
				{ID: "c", Type: "m7i.xlarge", FreeMilliCPU: 3000, FreeMemoryMiB: 15000},
			},
			need: small, count: 3, spread: 3, candidates: m7i, cap: noCap,
			assign: []string{"c", "b", "a"}, spreadGot: 3,
			whyHas: []string{"3 EEs on existing instances"}, whyHasNone: []string{"new", "spread over"},
		},
		{
			name: "spread: one instance has room for all three",
			instances: []Instance{
				{ID: "big", Type: "m7i.2xlarge", FreeMilliCPU: 7000, FreeMemoryMiB: 31744},
			},
			need: small, count: 3, spread: 3, candidates: m7i, cap: noCap,
			assign: []string{"big"}, launch: []string{"m7i.large", "m7i.large"}, launchEEs: []int{1, 1},
			spreadGot: 3, newMilli: 4000, newPrice: 0.2016,
			whyHas: []string{"1 EE on existing instances, 2 new m7i.large (1 EE each)"},
		},
		{
			name: "no spread target: pack on the one instance",
			instances: []Instance{
				{ID: "big", Type: "m7i.2xlarge", FreeMilliCPU: 7000, FreeMemoryMiB: 31744},
			},
			need: small, count: 3, spread: 1, candidates: m7i, cap: noCap,
			assign: []string{"big", "big", "big"}, spreadGot: 1,
		},
		{
			name: "version already on two instances: one more distinct, then fewest version EEs",
			instances: []Instance{
				{ID: "a", FreeMilliCPU: 5000, FreeMemoryMiB: 20000, VersionEEs: 2},
				{ID: "b", FreeMilliCPU: 5000, FreeMemoryMiB: 20000, VersionEEs: 1},
				{ID: "c", FreeMilliCPU: 9000, FreeMemoryMiB: 40000},
				{ID: "d", FreeMilliCPU: 2000, FreeMemoryMiB: 20000},
			},
			need: small, count: 5, spread: 3, candidates: m7i, cap: noCap,
			// d (the best fit of the fresh ones) makes three distinct
			// instances; then fewest version EEs first: c (0), then d (1,
			// least free), b (1), and c again before a (2).
			assign:    []string{"d", "c", "d", "b", "c"},
			spreadGot: 4,
		},
		{
			name: "spread target met only by launching while an existing instance has room",
			instances: []Instance{
				{ID: "a", FreeMilliCPU: 5000, FreeMemoryMiB: 20000, VersionEEs: 1},
				{ID: "b", FreeMilliCPU: 1000, FreeMemoryMiB: 20000},
			},
			need: small, count: 4, spread: 3, candidates: m7i, cap: noCap,
			assign: []string{"b", "a", "a"}, launch: []string{"m7i.large"}, launchEEs: []int{1},
			spreadGot: 3, newMilli: 2000, newPrice: 0.1008,
		},
		{
			name: "a launching instance's promised capacity is not free",
			instances: []Instance{
				// An m7i.large launching with the one EE it holds promised.
				{ID: "boot", Type: "m7i.large", FreeMilliCPU: 0, FreeMemoryMiB: 6144 - 2048, Launching: true},
			},
			need: small, count: 1, spread: 3, candidates: m7i, cap: noCap,
			launch: []string{"m7i.large"}, launchEEs: []int{1}, spreadGot: 1, newMilli: 2000, newPrice: 0.1008,
			whyHas: []string{"1 new m7i.large (1 EE)"}, whyHasNone: []string{"existing", "promised"},
		},
		{
			name: "room left on a launching instance is taken, and said so",
			instances: []Instance{
				{ID: "boot", Type: "m7i.2xlarge", FreeMilliCPU: 4000, FreeMemoryMiB: 20000, Launching: true},
			},
			need: small, count: 1, spread: 1, candidates: m7i, cap: noCap,
			assign: []string{"boot"}, spreadGot: 1,
			whyHas: []string{"1 EE promised on launching instances"}, whyHasNone: []string{"existing", "new"},
		},
		{
			name: "a running instance beats a launching one, even a better fit",
			instances: []Instance{
				{ID: "a-boot", FreeMilliCPU: 1000, FreeMemoryMiB: 4000, Launching: true},
				{ID: "b-run", FreeMilliCPU: 5000, FreeMemoryMiB: 20000},
			},
			need: small, count: 2, spread: 1, candidates: m7i, cap: noCap,
			assign: []string{"b-run", "b-run"}, spreadGot: 1,
			whyHas: []string{"2 EEs on existing instances"},
		},
		{
			name: "spread still counts promised EEs of the version",
			instances: []Instance{
				{ID: "boot", FreeMilliCPU: 5000, FreeMemoryMiB: 20000, VersionEEs: 1, Launching: true},
				{ID: "run", FreeMilliCPU: 5000, FreeMemoryMiB: 20000},
			},
			need: small, count: 2, spread: 3, candidates: m7i, cap: noCap,
			assign: []string{"run"}, launch: []string{"m7i.large"}, launchEEs: []int{1}, spreadGot: 3,
			newMilli: 2000, newPrice: 0.1008,
		},
		{
			name: "EE too big for every candidate",
			need: Need{MilliCPU: 8000, MemoryMiB: 4096}, count: 3, spread: 3,
			candidates: types(t, fleet.ArchX86_64, "m7i.large", "m7i.xlarge", "m7i.2xlarge"), cap: noCap,
			unplaced: 3,
			whyHas:   []string{"3 EEs unplaced: no allowed instance type fits an EE of 8000m CPU/4096 MiB"},
		},
		{
			name: "no candidates at all",
			need: small, count: 2, spread: 3, cap: noCap,
			unplaced: 2, whyHas: []string{"no allowed instance type fits"},
		},
		{
			name: "EE too big for candidates, but an existing instance has room",
			instances: []Instance{
				{ID: "a", FreeMilliCPU: 20000, FreeMemoryMiB: 20000},
				{ID: "b", FreeMilliCPU: 9000, FreeMemoryMiB: 9000},
			},
			need: Need{MilliCPU: 8000, MemoryMiB: 4096}, count: 4, spread: 3,
			candidates: types(t, fleet.ArchX86_64, "m7i.large"), cap: noCap,
			// a, b are two distinct instances; the third spread instance
			// cannot be launched, so that EE doubles up on a; the fourth
			// has nowhere to go.
			assign: []string{"b", "a", "a"}, unplaced: 1, spreadGot: 2,
			whyHas: []string{"3 EEs on existing instances", "spread over only 2 instances (target 3)", "1 EE unplaced"},
		},
		{
			name: "vCPU cap stops the third launch",
			need: small, count: 3, spread: 1, candidates: types(t, fleet.ArchX86_64, "m7i.large"), cap: 4000,
			launch: []string{"m7i.large", "m7i.large"}, launchEEs: []int{1, 1}, unplaced: 1,
			spreadGot: 2, newMilli: 4000, newPrice: 0.2016,
			whyHas: []string{"2 new m7i.large (1 EE each)", "1 EE unplaced: vCPU cap leaves 4000m for new instances"},
		},
		{
			name: "cap 0 forbids launches",
			need: small, count: 2, spread: 3, candidates: m7i, cap: 0,
			unplaced: 2, whyHas: []string{"2 EEs unplaced: vCPU cap leaves 0m"},
		},
		{
			name: "negative cap is no cap left",
			need: small, count: 1, spread: 3, candidates: m7i, cap: -4000,
			unplaced: 1, whyHas: []string{"vCPU cap leaves 0m"},
		},
		{
			name: "cap below spread: EEs before spread",
			need: small, count: 3, spread: 3, candidates: m7i, cap: 4000,
			// Three m7i.large need 6 vCPU; one m7i.xlarge holds all three.
			launch: []string{"m7i.xlarge"}, launchEEs: []int{3}, spreadGot: 1, newMilli: 4000, newPrice: 0.2016,
			whyHas: []string{"1 new m7i.xlarge (3 EEs)", "spread over only 1 instance (target 3)"},
		},
		{
			name: "cap: the cheapest plan is too big, the smallest fits",
			need: small, count: 1, spread: 1, candidates: []fleet.InstanceType{cheapBig, dearSmall}, cap: 4000,
			launch: []string{"t.dearsmall"}, launchEEs: []int{1}, spreadGot: 1, newMilli: 2000, newPrice: 0.2,
		},
		{
			name: "without the cap the cheap big type wins",
			need: small, count: 1, spread: 1, candidates: []fleet.InstanceType{cheapBig, dearSmall}, cap: noCap,
			launch: []string{"t.cheapbig"}, launchEEs: []int{1}, spreadGot: 1, newMilli: 8000, newPrice: 0.1,
		},
		{
			name: "packing after the spread target: cheaper than one EE per spread instance",
			need: small, count: 7, spread: 3, candidates: m7i, cap: noCap,
			launch: []string{"m7i.large", "m7i.xlarge", "m7i.xlarge"}, launchEEs: []int{1, 3, 3},
			spreadGot: 3, newMilli: 10000, newPrice: 0.504,
		},
		{
			name: "packing after the spread target: fullest instances first",
			need: small, count: 10, spread: 3, candidates: m7i, cap: noCap,
			launch: []string{"m7i.large", "m7i.xlarge", "m7i.2xlarge"}, launchEEs: []int{1, 2, 7},
			spreadGot: 3, newMilli: 14000, newPrice: 0.7056,
		},
		{
			name: "spread already met: pack new instances",
			instances: []Instance{
				{ID: "a", VersionEEs: 1}, {ID: "b", VersionEEs: 1}, {ID: "c", VersionEEs: 1},
			},
			need: small, count: 10, spread: 3, candidates: m7i, cap: noCap,
			launch: []string{"m7i.xlarge", "m7i.2xlarge"}, launchEEs: []int{3, 7},
			spreadGot: 5, newMilli: 12000, newPrice: 0.6048,
		},
		{
			name: "existing room first, then new instances",
			instances: []Instance{
				{ID: "a", FreeMilliCPU: 2500, FreeMemoryMiB: 8000, VersionEEs: 1},
				{ID: "b", FreeMilliCPU: 1000, FreeMemoryMiB: 8000, VersionEEs: 1},
				{ID: "c", FreeMilliCPU: 1000, FreeMemoryMiB: 8000, VersionEEs: 1},
			},
			need: small, count: 6, spread: 3, candidates: m7i, cap: noCap,
			// b and c take one each, a two; the last two EEs share one new
			// m7i.xlarge, which costs the same as two m7i.large but is one
			// instance.
			assign: []string{"b", "c", "a", "a"}, launch: []string{"m7i.xlarge"}, launchEEs: []int{2},
			spreadGot: 4, newMilli: 4000, newPrice: 0.2016,
		},
		{
			name: "large fleet-wide cap does not change the plan",
			need: small, count: 7, spread: 3, candidates: m7i, cap: 10000,
			launch: []string{"m7i.large", "m7i.xlarge", "m7i.xlarge"}, launchEEs: []int{1, 3, 3},
			spreadGot: 3, newMilli: 10000, newPrice: 0.504,
		},
		{
			name: "count 0",
			need: small, count: 0, spread: 3, candidates: m7i, cap: noCap,
			whyHas: []string{"nothing to place"},
		},
		{
			name: "invalid EE size",
			need: Need{MilliCPU: 0, MemoryMiB: 2048}, count: 2, spread: 3, candidates: m7i, cap: noCap,
			unplaced: 2, whyHas: []string{"invalid EE size"},
		},
		{
			name: "memory-bound EE picks the r family",
			need: Need{MilliCPU: 250, MemoryMiB: 6144}, count: 2, spread: 1,
			candidates: types(t, fleet.ArchARM64, "*.large"), cap: noCap,
			// c*.large holds 0, m*.large 1, r*.large 2 (15 GiB): one r7g.large.
			launch: []string{"r7g.large"}, launchEEs: []int{2}, spreadGot: 1, newMilli: 2000, newPrice: 0.1071,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := slices.Clone(tt.instances)
			got := PlaceEEs(tt.instances, tt.need, tt.count, tt.spread, tt.candidates, tt.cap)

			if !slices.Equal(tt.instances, before) {
				t.Errorf("instances were modified: %+v", tt.instances)
			}
			if !slices.Equal(got.Assign, tt.assign) {
				t.Errorf("Assign = %v, want %v", got.Assign, tt.assign)
			}
			if !slices.Equal(got.Launch, tt.launch) || !slices.Equal(got.LaunchEEs, tt.launchEEs) {
				t.Errorf("Launch = %v %v, want %v %v", got.Launch, got.LaunchEEs, tt.launch, tt.launchEEs)
			}
			if got.Unplaced != tt.unplaced {
				t.Errorf("Unplaced = %d, want %d", got.Unplaced, tt.unplaced)
			}
			if tt.count > 0 && got.Spread != tt.spreadGot {
				t.Errorf("Spread = %d, want %d", got.Spread, tt.spreadGot)
			}
			if got.NewMilliCPU != tt.newMilli {
				t.Errorf("NewMilliCPU = %d, want %d", got.NewMilliCPU, tt.newMilli)
			}
			if math.Abs(got.NewPricePerHour-tt.newPrice) > 1e-9 {
				t.Errorf("NewPricePerHour = %v, want %v", got.NewPricePerHour, tt.newPrice)
			}
			for _, s := range tt.whyHas {
				if !strings.Contains(got.Why, s) {
					t.Errorf("Why = %q, want it to contain %q", got.Why, s)
				}
			}
			for _, s := range tt.whyHasNone {
				if strings.Contains(got.Why, s) {
					t.Errorf("Why = %q, want it not to contain %q", got.Why, s)
				}
			}
			checkInvariants(t, got, tt.instances, tt.need, max(tt.count, 0), tt.candidates, tt.cap)
		})
	}
}

// checkInvariants verifies what every plan must satisfy whatever the inputs.
func checkInvariants(t *testing.T, p Plan, instances []Instance, need Need, count int, candidates []fleet.InstanceType, capMilli int) {
	t.Helper()
	if len(p.Launch) != len(p.LaunchEEs) {
		t.Fatalf("Launch and LaunchEEs differ in length: %v %v", p.Launch, p.LaunchEEs)
	}
	total := len(p.Assign) + p.Unplaced
	byName := map[string]fleet.InstanceType{}
	for _, c := range candidates {
		byName[c.Name] = c
	}
	milli := 0
	for i, name := range p.Launch {
		it, ok := byName[name]
		if !ok {
			t.Fatalf("launches %s, which is not a candidate", name)
		}
		n := p.LaunchEEs[i]
		if n < 1 || n*need.MilliCPU > it.AllocatableMilliCPU() || n*need.MemoryMiB > it.AllocatableMemoryMiB() {
			t.Errorf("%d EEs of %+v do not fit on %s", n, need, name)
		}
		total += n
		milli += it.VCPU * 1000
	}
	if total != count {
		t.Errorf("plan accounts for %d EEs, want %d", total, count)
	}
	if milli != p.NewMilliCPU {
		t.Errorf("NewMilliCPU = %d, launches add up to %d", p.NewMilliCPU, milli)
	}
	if milli > max(capMilli, 0) {
		t.Errorf("launches %dm, over the cap %dm", milli, capMilli)
	}
	used := map[string]int{}
	for _, id := range p.Assign {
		used[id]++
	}
	for _, in := range instances {
		n := used[in.ID]
		if n*need.MilliCPU > in.FreeMilliCPU || n*need.MemoryMiB > in.FreeMemoryMiB {
			t.Errorf("%d EEs overfill instance %s", n, in.ID)
		}
		delete(used, in.ID)
	}
	if len(used) > 0 {
		t.Errorf("assigned to unknown instances %v", used)
	}
	if p.Why == "" {
		t.Error("Why is empty")
	}
}

// TestNewInstancesOptimal compares the plan for new instances with an
// exhaustive search over small cases: no plan with at least min(spread,
// count) instances holding count EEs is cheaper.
func TestNewInstancesOptimal(t *testing.T) {
	cands := types(t, fleet.ArchX86_64, "m7i.large", "m7i.xlarge", "m7i.2xlarge", "c7i.xlarge", "r7i.large")
	needs := []Need{
		{MilliCPU: 1000, MemoryMiB: 2048},
		{MilliCPU: 500, MemoryMiB: 3000},
		{MilliCPU: 250, MemoryMiB: 5000},
		{MilliCPU: 2000, MemoryMiB: 1024},
	}
	for _, need := range needs {
		opts := options(cands, need)
		for count := 1; count <= 9; count++ {
			for spread := 0; spread <= 4; spread++ {
				p := PlaceEEs(nil, need, count, spread, cands, noCap)
				if p.Unplaced != 0 {
					t.Fatalf("%+v count %d spread %d: %d unplaced", need, count, spread, p.Unplaced)
				}
				if want := min(spread, count); len(p.Launch) < want {
					t.Errorf("%+v count %d spread %d: %d instances, want at least %d", need, count, spread, len(p.Launch), want)
				}
				got := int64(math.Round(p.NewPricePerHour * 1e6))
				best := bruteForce(opts, count, min(spread, count), 0, 0, 0)
				if got != best {
					t.Errorf("%+v count %d spread %d: plan %v %v costs %d µ$/h, best is %d", need, count, spread, p.Launch, p.LaunchEEs, got, best)
				}
			}
		}
	}
}

// bruteForce returns the cheapest cost of a multiset of options (chosen in
// non-decreasing index order from from) with at least minInsts instances,
// each holding at least one EE, that holds n EEs.
func bruteForce(opts []option, n, minInsts, from int, insts int, capacity int) int64 {
	best := int64(math.MaxInt64)
	if capacity >= n && insts >= minInsts && insts <= n {
		best = 0
	}
	if insts >= n {
		return best
	}
	for i := from; i < len(opts); i++ {
		if rest := bruteForce(opts, n, minInsts, i, insts+1, capacity+opts[i].fit); rest != math.MaxInt64 {
			best = min(best, opts[i].micro+rest)
		}
	}
	return best
}

func TestPlaceEEsDeterministic(t *testing.T) {
	instances := []Instance{
		{ID: "i-3", FreeMilliCPU: 3000, FreeMemoryMiB: 8000},
		{ID: "i-1", FreeMilliCPU: 3000, FreeMemoryMiB: 8000},
		{ID: "i-2", FreeMilliCPU: 3000, FreeMemoryMiB: 8000},
	}
	cands := types(t, fleet.ArchARM64)
	reversed := slices.Clone(cands)
	slices.Reverse(reversed)
	want := PlaceEEs(instances, small, 20, 3, cands, noCap)
	if !slices.Equal(want.Assign[:3], []string{"i-1", "i-2", "i-3"}) {
		t.Errorf("equal instances not taken in ID order: %v", want.Assign)
	}
	for range 3 {
		got := PlaceEEs(instances, small, 20, 3, reversed, noCap)
		if !slices.Equal(got.Assign, want.Assign) || !slices.Equal(got.Launch, want.Launch) ||
			!slices.Equal(got.LaunchEEs, want.LaunchEEs) || got.Why != want.Why {
			t.Fatalf("plan depends on candidate order:\n%+v\n%+v", got, want)
		}
	}
}
