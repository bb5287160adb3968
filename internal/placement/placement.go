// Package placement decides where new execution environments (EEs) of one
// function version go: onto instances the capacity provider already runs, or
// onto instances it has to launch. It is pure: it reads a snapshot of the
// fleet and returns a Plan, and the caller carries the plan out. That keeps
// every decision reproducible in a test and explainable in one line.
package placement

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/paddockhq/paddock/internal/fleet"
)

// Instance is a running (or launching) instance as placement sees it.
//
// Its free capacity is what no EE holds or has been promised: on a running
// instance, allocatable minus its EEs; on a launching one, allocatable minus
// the EEs planned on it, which start as soon as it runs. Counting promised
// EEs keeps a second version from taking capacity the first one was given
// while the instance boots.
type Instance struct {
	ID            string
	Type          string // instance type name
	FreeMilliCPU  int    // allocatable minus what EEs use or were promised
	FreeMemoryMiB int
	VersionEEs    int  // EEs of the version being placed already on this instance (running or promised)
	Launching     bool // not running yet: EEs placed on it start once it runs
}

// Need is the size of one EE.
type Need struct{ MilliCPU, MemoryMiB int }

func (n Need) String() string { return fmt.Sprintf("%dm CPU/%d MiB", n.MilliCPU, n.MemoryMiB) }

// Plan is placement's answer for count new EEs of one function version.
// Len(Assign) + sum(LaunchEEs) + Unplaced is always the count asked for.
type Plan struct {
	// Assign is the instance ID for each EE placed on an existing instance,
	// in placement order; an ID repeats when several EEs share an instance.
	// An ID may name a launching instance: that EE is promised its capacity
	// and starts once the instance runs.
	Assign []string
	// AssignLaunching counts the EEs of Assign that went to launching
	// instances.
	AssignLaunching int
	// Launch lists the instance types to launch for the EEs that did not fit,
	// one entry per instance.
	Launch []string
	// LaunchEEs is how many EEs go on each launched instance (parallel to
	// Launch). Every entry is at least 1.
	LaunchEEs []int
	// Unplaced counts EEs that cannot be placed at all: no allowed type is
	// big enough, or the vCPU cap is hit.
	Unplaced int
	// Spread is the number of distinct instances holding EEs of the version
	// once the plan is carried out (existing and launched), so the caller can
	// see whether the spread target was reached.
	Spread int
	// NewMilliCPU is the whole-instance vCPU (×1000) of the launched
	// instances, what the plan takes from the capacity provider's
	// MaxVCpuCount.
	NewMilliCPU int
	// NewPricePerHour is the on-demand price of the launched instances in
	// USD per hour (see fleet.PriceSource).
	NewPricePerHour float64
	// Why is one readable line, e.g. "2 EEs on existing instances, 1 new
	// m7i.large (1 EE)".
	Why string
}

// PlaceEEs places count EEs of one version, each of size need.
//
//  1. Existing instances come first, because they are already paid for; a
//     launching instance with capacity nobody was promised counts, since an
//     EE there serves as soon as on a new instance and costs nothing more.
//     Among the instances with room, a running one beats a launching one (its
//     EE serves sooner); then the one holding the fewest EEs of this
//     version wins, so a version spreads over instances and losing one
//     instance loses as little of it as possible; among equals, best fit (the
//     least free CPU, then memory, left after placing) packs the fleet so
//     that whole instances empty out and can be scaled in; ties go to the
//     smaller ID so the answer is deterministic.
//  2. While the version is on fewer than spreadTarget distinct instances, an
//     EE only goes to an instance that has none of this version's EEs, and
//     if none has room a new instance is launched for it. So minimum EEs 3
//     with spreadTarget 3 land on 3 instances even when one could hold all.
//  3. EEs that do not fit on existing instances go on new instances chosen
//     among candidates (already filtered by arch and allowed types). The new
//     instances needed by rule 2 each take at least one EE; beyond that every
//     new instance takes as many EEs as it holds. Rather than picking the
//     lowest price per EE one instance at a time, the cheapest total price
//     per hour is found exactly (a small dynamic programme over the number of
//     EEs), which matters when the spread instances could also hold the EEs
//     after them: with m7i types and 1 vCPU/2 GiB EEs, 7 EEs and
//     spreadTarget 3 become two m7i.xlarge with 3 EEs and one m7i.large with
//     1 ($0.504/h), not three one-EE m7i.large plus an m7i.xlarge and another
//     m7i.large for the other 4 ($0.6048/h).
//  4. maxNewMilliCPU bounds the total whole-instance vCPU (×1000) of launched
//     instances: the capacity provider's MaxVCpuCount minus what already
//     runs; 0 or less forbids launches. When the cheapest plan exceeds it,
//     placement puts as many EEs under it as it can, keeping as much of the
//     spread as still allows that, using the cheapest such plan that fits
//     (else the one with the least vCPU); the rest are Unplaced.
//  5. Spread is a preference for availability and never a reason to leave an
//     EE without a home, because an unplaced EE throttles requests now while
//     a missed spread is only a risk. So rule 4 gives up spread before EEs,
//     and an EE that rule 2 sent to a new instance which cannot be launched
//     (no type fits, or the cap) still goes on an existing instance with
//     room. Plan.Spread and Why then show the target was missed.
//
// Candidates may be in any order; ties between equally good plans go to the
// cheaper type, then the smaller name. Instances and candidates are not
// modified. The cost is O(count × len(instances)) for existing instances and
// O(n × spreadTarget × len(candidates)) for new ones, where n is count capped
// by the most EEs maxNewMilliCPU could hold.
func PlaceEEs(instances []Instance, need Need, count int, spreadTarget int, candidates []fleet.InstanceType, maxNewMilliCPU int) Plan {
	if count <= 0 {
		return Plan{Spread: versionInstances(instances), Why: "nothing to place"}
	}
	if need.MilliCPU <= 0 || need.MemoryMiB <= 0 {
		return Plan{
			Unplaced: count,
			Spread:   versionInstances(instances),
			Why:      fmt.Sprintf("%s unplaced: invalid EE size %s", ees(count), need),
		}
	}

	insts := slices.Clone(instances)
	distinct := versionInstances(insts)
	var plan Plan
	place := func(i int) {
		if insts[i].VersionEEs == 0 {
			distinct++
		}
		insts[i].FreeMilliCPU -= need.MilliCPU
		insts[i].FreeMemoryMiB -= need.MemoryMiB
		insts[i].VersionEEs++
		plan.Assign = append(plan.Assign, insts[i].ID)
		if insts[i].Launching {
			plan.AssignLaunching++
		}
	}

	// Rules 1 and 2: existing instances, routing to new instances what does
	// not fit or what the spread rule keeps off instances the version is on.
	toNew, spreadNew := 0, 0
	for range count {
		spreading := distinct < spreadTarget
		if i := bestExisting(insts, need, spreading); i >= 0 {
			place(i)
			continue
		}
		toNew++
		if spreading {
			// This EE gets an instance of its own, which counts towards
			// the spread target for the EEs after it.
			spreadNew++
			distinct++
		}
	}

	// Rules 3 and 4: new instances.
	opts := options(candidates, need)
	launches := planNew(opts, toNew, spreadNew, maxNewMilliCPU)
	launched := 0
	for _, l := range launches {
		plan.Launch = append(plan.Launch, l.opt.t.Name)
		plan.LaunchEEs = append(plan.LaunchEEs, l.ees)
		plan.NewMilliCPU += l.opt.milli
		plan.NewPricePerHour += l.opt.t.PricePerHour
		launched += l.ees
	}
	plan.NewPricePerHour = math.Round(plan.NewPricePerHour*1e6) / 1e6

	// Rule 5: what could not be launched falls back to existing instances.
	left := toNew - launched
	for left > 0 {
		i := bestExisting(insts, need, false)
		if i < 0 {
			break
		}
		place(i)
		left--
	}
	plan.Unplaced = left
	plan.Spread = versionInstances(insts) + len(launches)
	versionEEs := count - left
	for _, in := range instances {
		versionEEs += in.VersionEEs
	}
	short := plan.Spread < min(spreadTarget, versionEEs)
	plan.Why = why(plan, need, spreadTarget, short, len(opts) == 0, maxNewMilliCPU)
	return plan
}

// versionInstances counts the instances that hold EEs of the version.
func versionInstances(insts []Instance) int {
	n := 0
	for _, in := range insts {
		if in.VersionEEs > 0 {
			n++
		}
	}
	return n
}

// bestExisting returns the index of the instance the next EE should go to, or
// -1 if none has room. With fresh set, only instances without EEs of the
// version qualify (rule 2).
func bestExisting(insts []Instance, need Need, fresh bool) int {
	best := -1
	for i, in := range insts {
		if in.FreeMilliCPU < need.MilliCPU || in.FreeMemoryMiB < need.MemoryMiB {
			continue
		}
		if fresh && in.VersionEEs > 0 {
			continue
		}
		if best < 0 || existingLess(in, insts[best]) {
			best = i
		}
	}
	return best
}

// existingLess orders candidate instances for one EE: running before
// launching, fewest EEs of the version, then least free CPU and memory (best
// fit), then ID.
func existingLess(a, b Instance) bool {
	if a.Launching != b.Launching {
		return !a.Launching
	}
	if c := cmp.Or(
		cmp.Compare(a.VersionEEs, b.VersionEEs),
		cmp.Compare(a.FreeMilliCPU, b.FreeMilliCPU),
		cmp.Compare(a.FreeMemoryMiB, b.FreeMemoryMiB),
	); c != 0 {
		return c < 0
	}
	return a.ID < b.ID
}

// option is a candidate type that fits at least one EE.
type option struct {
	t     fleet.InstanceType
	fit   int   // EEs one instance holds
	micro int64 // price in micro-USD per hour, so sums compare exactly
	milli int   // whole-instance vCPU ×1000, what counts against the cap
}

// options keeps the candidates that fit at least one EE, cheapest first and
// then by name, so that the first of equally good plans is the cheapest type.
func options(candidates []fleet.InstanceType, need Need) []option {
	var out []option
	for _, t := range candidates {
		fit := min(t.AllocatableMilliCPU()/need.MilliCPU, t.AllocatableMemoryMiB()/need.MemoryMiB)
		if fit < 1 {
			continue
		}
		out = append(out, option{
			t:     t,
			fit:   fit,
			micro: int64(math.Round(t.PricePerHour * 1e6)),
			milli: t.VCPU * 1000,
		})
	}
	slices.SortStableFunc(out, func(a, b option) int {
		return cmp.Or(cmp.Compare(a.micro, b.micro), cmp.Compare(a.t.Name, b.t.Name))
	})
	return out
}

// launch is one instance to launch and how many EEs it takes.
type launch struct {
	opt  option
	rank int // index in options, for a stable output order
	ees  int
}

// cell is the best plan found for placing n EEs on at least j new instances.
type cell struct {
	ok    bool
	micro int64
	milli int
	insts int
	opt   int // option of the last instance added
	k     int // EEs on that instance
}

// planNew chooses new instances for r EEs of which s need an instance of
// their own (so at least min(s, r) instances), within capMilli
// whole-instance milliCPU.
//
// Without cap pressure this is the cheapest plan. Under it the order of
// concerns is: place as many EEs as possible, then keep as much of the
// spread as possible, then the cheapest plan if it fits the cap, else the
// one with the least vCPU. Capacity comes before spread because an unplaced
// EE is a throttled request now, while a missed spread is only a risk.
func planNew(opts []option, r, s, capMilli int) []launch {
	if r <= 0 || len(opts) == 0 || capMilli <= 0 {
		return nil
	}
	// No mix of instances holds more EEs than the best EEs-per-vCPU type
	// times the cap, so the tables never need to be larger than that.
	upper := 0.0
	for _, o := range opts {
		upper = max(upper, float64(capMilli)*float64(o.fit)/float64(o.milli))
	}
	r = int(min(float64(r), math.Floor(upper)))
	s = min(s, r)
	if r == 0 {
		return nil
	}

	byPrice := solve(opts, r, s, func(a, b cell) int {
		return cmp.Or(cmp.Compare(a.micro, b.micro), cmp.Compare(a.milli, b.milli), cmp.Compare(a.insts, b.insts))
	})
	if c := byPrice[r][s]; c.ok && c.milli <= capMilli {
		return distribute(opts, collect(byPrice, r, s), r)
	}
	byVCPU := solve(opts, r, s, func(a, b cell) int {
		return cmp.Or(cmp.Compare(a.milli, b.milli), cmp.Compare(a.micro, b.micro), cmp.Compare(a.insts, b.insts))
	})
	for n := r; n > 0; n-- {
		for j := min(s, n); j >= 0; j-- {
			if c := byVCPU[n][j]; !c.ok || c.milli > capMilli {
				continue
			}
			if p := byPrice[n][j]; p.ok && p.milli <= capMilli {
				return distribute(opts, collect(byPrice, n, j), n)
			}
			return distribute(opts, collect(byVCPU, n, j), n)
		}
	}
	return nil
}

// solve fills tbl[n][j], the best plan (by compare) for n EEs on at least j
// new instances, each holding at least one EE, for n ≤ r and j ≤ min(s, n).
//
// Given the type of one instance, giving it as many EEs as it holds is never
// worse, because the best plan for fewer EEs never costs more; the only
// limit is leaving one EE for each of the other j-1 instances still
// required. So each state tries every type once, and the whole table costs
// O(r × s × len(opts)).
func solve(opts []option, r, s int, compare func(a, b cell) int) [][]cell {
	tbl := make([][]cell, r+1)
	for n := range tbl {
		tbl[n] = make([]cell, s+1)
	}
	tbl[0][0] = cell{ok: true}
	for n := 1; n <= r; n++ {
		for j := 0; j <= min(s, n); j++ {
			best := cell{}
			for oi, o := range opts {
				k := min(o.fit, n)
				if j > 0 {
					k = min(k, n-j+1)
				}
				prev := tbl[n-k][max(j-1, 0)]
				if !prev.ok {
					continue
				}
				c := cell{
					ok:    true,
					micro: prev.micro + o.micro,
					milli: prev.milli + o.milli,
					insts: prev.insts + 1,
					opt:   oi,
					k:     k,
				}
				if !best.ok || compare(c, best) < 0 {
					best = c
				}
			}
			tbl[n][j] = best
		}
	}
	return tbl
}

// collect walks tbl back from n EEs on at least j instances and returns the
// option index of each instance of the plan.
func collect(tbl [][]cell, n, j int) []int {
	var out []int
	for n > 0 {
		c := tbl[n][j]
		out = append(out, c.opt)
		n -= c.k
		j = max(j-1, 0)
	}
	return out
}

// distribute spreads n EEs over the chosen instances. The table only fixes
// which instances to launch; many splits of the EEs are equally cheap, so a
// canonical one is used: one EE each, then the roomiest instances filled
// first, which leaves the small ones easiest to scale in. The result is in
// price order (cheapest type first), fuller instances first within a type.
func distribute(opts []option, chosen []int, n int) []launch {
	out := make([]launch, len(chosen))
	for i, oi := range chosen {
		out[i] = launch{opt: opts[oi], rank: oi, ees: 1}
	}
	slices.SortStableFunc(out, func(a, b launch) int {
		return cmp.Or(cmp.Compare(b.opt.fit, a.opt.fit), cmp.Compare(a.rank, b.rank))
	})
	left := n - len(out)
	for i := range out {
		more := min(left, out[i].opt.fit-1)
		out[i].ees += more
		left -= more
	}
	slices.SortStableFunc(out, func(a, b launch) int {
		return cmp.Or(cmp.Compare(a.rank, b.rank), cmp.Compare(b.ees, a.ees))
	})
	return out
}

// why renders the plan as one line for logs and the control plane's
// explanation of a scaling decision.
func why(p Plan, need Need, spreadTarget int, short, noType bool, capMilli int) string {
	var parts []string
	if n := len(p.Assign) - p.AssignLaunching; n > 0 {
		parts = append(parts, ees(n)+" on existing instances")
	}
	if p.AssignLaunching > 0 {
		parts = append(parts, ees(p.AssignLaunching)+" promised on launching instances")
	}
	for i := 0; i < len(p.Launch); {
		j := i
		for j < len(p.Launch) && p.Launch[j] == p.Launch[i] && p.LaunchEEs[j] == p.LaunchEEs[i] {
			j++
		}
		part := fmt.Sprintf("%d new %s (%s", j-i, p.Launch[i], ees(p.LaunchEEs[i]))
		if j-i > 1 {
			part += " each"
		}
		parts = append(parts, part+")")
		i = j
	}
	if short {
		parts = append(parts, fmt.Sprintf("spread over only %s (target %d)", plural(p.Spread, "instance"), spreadTarget))
	}
	if p.Unplaced > 0 {
		reason := fmt.Sprintf("vCPU cap leaves %dm for new instances", max(capMilli, 0))
		if noType {
			reason = "no allowed instance type fits an EE of " + need.String()
		}
		parts = append(parts, fmt.Sprintf("%s unplaced: %s", ees(p.Unplaced), reason))
	}
	return strings.Join(parts, ", ")
}

// ees formats a count of EEs with the right plural.
func ees(n int) string { return plural(n, "EE") }

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
