package placement_test

import (
	"fmt"

	"github.com/paddockhq/paddock/internal/fleet"
	"github.com/paddockhq/paddock/internal/placement"
)

// A version with minimum EEs 3 and spread target 3 scales up on a fleet with
// one roomy instance: one EE goes there, the other two get instances of
// their own so that losing one instance never loses the whole version.
func ExamplePlaceEEs() {
	fleetNow := []placement.Instance{
		{ID: "i-0a1", Type: "m7i.2xlarge", FreeMilliCPU: 7000, FreeMemoryMiB: 31744},
	}
	candidates := fleet.MatchInstanceTypes(fleet.ArchX86_64, []string{"m7i.*"}, nil)
	need := placement.Need{MilliCPU: 1000, MemoryMiB: 2048}

	p := placement.PlaceEEs(fleetNow, need, 3, 3, candidates, 64000)
	fmt.Println(p.Why)
	fmt.Println(p.Assign, p.Launch, p.LaunchEEs)
	fmt.Printf("$%.4f/h (%s)\n", p.NewPricePerHour, fleet.PriceSource)

	// A version new to an empty fleet needs 10 EEs: three distinct instances
	// for the spread, filled as far as is cheapest.
	p = placement.PlaceEEs(nil, need, 10, 3, candidates, 64000)
	fmt.Println(p.Why)

	// With only 4 vCPU left under MaxVCpuCount, capacity wins over spread.
	p = placement.PlaceEEs(nil, need, 4, 3, candidates, 4000)
	fmt.Println(p.Why)
	// Output:
	// 1 EE on existing instances, 2 new m7i.large (1 EE each)
	// [i-0a1] [m7i.large m7i.large] [1 1]
	// $0.2016/h (AWS EC2 on-demand pricing, us-east-1, Linux, as of 2025)
	// 1 new m7i.large (1 EE), 1 new m7i.xlarge (2 EEs), 1 new m7i.2xlarge (7 EEs)
	// 1 new m7i.xlarge (3 EEs), spread over only 1 instance (target 3), 1 EE unplaced: vCPU cap leaves 4000m for new instances
}
