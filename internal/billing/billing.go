// Package billing turns what Paddock measured (Meters) into what AWS Lambda
// would have billed for it (Bill), in the function's own mode and, as an
// estimate, in the other one:
//
//   - default (on-demand) mode: $0.20 per 1M requests + GB-seconds, the
//     billed duration of each invoke (ms, rounded up) times its memory;
//   - Lambda Managed Instances (LMI): $0.20 per 1M requests + the EC2
//     on-demand price of the capacity provider's instances (less a savings
//     plan) + a management fee of 15% of that on-demand price; no duration
//     charge. Invokes that a burst overflowed to default-mode EEs
//     (paddock:overflow=on-demand) are billed by the GB-second.
//
// It is pure: no I/O, no clock. The server computes a Bill from its meters
// and the CLI prints it.
package billing

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/paddockhq/paddock/internal/fleet"
)

// Compute modes of a FunctionMeter.
const (
	ModeLMI     = "lmi"
	ModeDefault = "default"
)

// Meters are what Paddock measured over a period.
type Meters struct {
	// Since and Until bound the period. Since may be later than what the
	// caller asked for when the meters do not go back that far.
	Since, Until      time.Time
	Functions         []FunctionMeter
	CapacityProviders []CapacityProviderMeter
}

// FunctionMeter is one function's traffic over the period.
//
// Requests and BilledMs count every invoke, overflowed ones included;
// OverflowRequests and OverflowBilledMs are the part of them that default-
// mode EEs served. So an overflowed invoke pays the request charge once
// (in Requests) and its GB-seconds (from OverflowBilledMs).
type FunctionMeter struct {
	Function string `json:"function"`
	Arch     string `json:"arch"` // "x86_64" (also when empty) or "arm64"
	Mode     string `json:"mode"` // ModeLMI or ModeDefault
	// CapacityProvider is the name of the LMI function's capacity provider.
	CapacityProvider string `json:"capacityProvider,omitempty"`
	MemoryMB         int    `json:"memoryMB"`
	Requests         int64  `json:"requests"`
	// BilledMs is the sum over invokes of each one's duration in ms,
	// rounded up (BilledMillis); recorded in both modes so that an LMI
	// function can be priced in the default mode.
	BilledMs int64 `json:"billedMs"`
	// EESeconds (LMI) is the seconds of ready EE lifetime (ready EEs x
	// time) and VCPUPerEE the vCPUs each EE was given: their product is the
	// vCPU-seconds that split the capacity provider's cost.
	EESeconds float64 `json:"eeSeconds,omitempty"`
	VCPUPerEE float64 `json:"vcpuPerEE,omitempty"`
	// MaxConcurrency is the slots per EE (1 in the default mode). The bill
	// does not use it; it is metered so a bill can be explained.
	MaxConcurrency   int   `json:"maxConcurrency,omitempty"`
	OverflowRequests int64 `json:"overflowRequests,omitempty"`
	OverflowBilledMs int64 `json:"overflowBilledMs,omitempty"`
}

// CapacityProviderMeter is one capacity provider's instances over the period.
type CapacityProviderMeter struct {
	Name string `json:"name"`
	Arch string `json:"arch"`
	// InstanceSeconds are the seconds its instances ran, by instance type
	// name; an instance is billed from launch to termination, busy or not.
	InstanceSeconds map[string]float64 `json:"instanceSeconds"`
}

// BilledMillis is how Lambda rounds one invoke's duration: up to the next
// millisecond, and at least 1 ms, since an invoke that ran at all is billed.
func BilledMillis(d time.Duration) int64 {
	if d <= 0 {
		return 1
	}
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

// Bill is the cost of a period in both formulas. All amounts are USD,
// unrounded: the printer rounds.
type Bill struct {
	Since         time.Time `json:"since"`
	Until         time.Time `json:"until"`
	PeriodSeconds float64   `json:"periodSeconds"`
	// Functions are sorted by function, then capacity provider.
	Functions []FunctionLine `json:"functions"`
	// CapacityProviders are sorted by name.
	CapacityProviders []CapacityProviderLine `json:"capacityProviders"`
	Totals            Totals                 `json:"totals"`
	Prices            Prices                 `json:"prices"`
	PriceList         []PriceQuote           `json:"priceList"`
	// Notes are what the bill could not price (an instance type missing
	// from the catalog, an LMI function whose capacity provider has no
	// meter): the amounts above leave it out.
	Notes []string `json:"notes"`
}

// FunctionLine is one function's bill in its own mode and, estimated, in
// the other. The costs that do not apply to its mode are 0.
type FunctionLine struct {
	Function         string  `json:"function"`
	Arch             string  `json:"arch"`
	Mode             string  `json:"mode"`
	CapacityProvider string  `json:"capacityProvider,omitempty"`
	MemoryMB         int     `json:"memoryMB"`
	Requests         int64   `json:"requests"`
	BilledMs         int64   `json:"billedMs"`
	GBSeconds        float64 `json:"gbSeconds"` // BilledMs x memory, billed only in the default mode
	OverflowRequests int64   `json:"overflowRequests"`
	// VCPUSeconds (LMI) are what the function's share of its capacity
	// provider was computed from.
	VCPUSeconds float64 `json:"vcpuSeconds"`

	RequestCost  float64 `json:"requestCost"`  // both modes
	DurationCost float64 `json:"durationCost"` // default mode: GB-seconds
	InstanceCost float64 `json:"instanceCost"` // LMI: share of the instances, after the savings plan
	FeeCost      float64 `json:"feeCost"`      // LMI: share of the management fee
	OverflowCost float64 `json:"overflowCost"` // LMI: GB-seconds of overflowed invokes
	Total        float64 `json:"total"`

	OtherMode OtherMode `json:"otherMode"`
	// Verdict compares Total with OtherMode.Total in a few words: "LMI
	// saves 34%", "default mode would be 2.1x cheaper".
	Verdict string `json:"verdict"`
}

// OtherMode is what the same traffic would have cost in the mode the
// function does not use. It is an estimate: Basis says how it was made.
type OtherMode struct {
	Mode         string  `json:"mode"`
	RequestCost  float64 `json:"requestCost"`
	DurationCost float64 `json:"durationCost"` // when Mode is default
	InstanceCost float64 `json:"instanceCost"` // when Mode is lmi, after the savings plan
	FeeCost      float64 `json:"feeCost"`      // when Mode is lmi
	Total        float64 `json:"total"`
	// For an LMI estimate: the EEs the traffic needs and the instances
	// they were placed on.
	EEs          int    `json:"ees,omitempty"`
	Instances    int    `json:"instances,omitempty"`
	InstanceType string `json:"instanceType,omitempty"`
	Basis        string `json:"basis"`
}

// CapacityProviderLine is one capacity provider's instances and what they
// cost, before they are split among its functions.
type CapacityProviderLine struct {
	Name            string         `json:"name"`
	Arch            string         `json:"arch"`
	Instances       []InstanceLine `json:"instances"` // by instance type name
	InstanceSeconds float64        `json:"instanceSeconds"`
	OnDemandCost    float64        `json:"onDemandCost"`
	SavingsPlan     float64        `json:"savingsPlan"`  // taken off OnDemandCost
	InstanceCost    float64        `json:"instanceCost"` // OnDemandCost - SavingsPlan
	FeeCost         float64        `json:"feeCost"`      // on OnDemandCost
	Total           float64        `json:"total"`        // InstanceCost + FeeCost
	// Functions are the LMI functions that ran on it, and VCPUSeconds
	// their allocated vCPU-seconds, the key that split Total among them.
	Functions   []string `json:"functions"`
	VCPUSeconds float64  `json:"vcpuSeconds"`
	// Idle is the part of Total that no function carries: all of it when
	// no function had an EE during the period, else 0.
	Idle float64 `json:"idle"`
}

// InstanceLine is one instance type of a capacity provider.
type InstanceLine struct {
	Type            string  `json:"type"`
	InstanceSeconds float64 `json:"instanceSeconds"`
	PricePerHour    float64 `json:"pricePerHour"` // EC2 on-demand
	OnDemandCost    float64 `json:"onDemandCost"`
	SavingsPlan     float64 `json:"savingsPlan"`
	InstanceCost    float64 `json:"instanceCost"`
	FeeCost         float64 `json:"feeCost"`
	// Unpriced: the type is not in the catalog, so its time is not billed
	// (and a note says so).
	Unpriced bool `json:"unpriced,omitempty"`
}

// Totals sum the lines. Total = RequestCost + DurationCost + InstanceCost
// + FeeCost + OverflowCost, which also equals the functions' totals plus
// the capacity providers' idle cost.
type Totals struct {
	Requests         int64   `json:"requests"`
	OverflowRequests int64   `json:"overflowRequests"`
	RequestCost      float64 `json:"requestCost"`
	DurationCost     float64 `json:"durationCost"`
	OnDemandCost     float64 `json:"onDemandCost"` // LMI instances before the savings plan
	SavingsPlan      float64 `json:"savingsPlan"`
	InstanceCost     float64 `json:"instanceCost"`
	FeeCost          float64 `json:"feeCost"`
	OverflowCost     float64 `json:"overflowCost"`
	IdleCost         float64 `json:"idleCost"` // included in InstanceCost and FeeCost
	// LMI is what the LMI formula billed (LMI functions and idle capacity
	// providers), Default what the default formula billed.
	LMI     float64 `json:"lmi"`
	Default float64 `json:"default"`
	Total   float64 `json:"total"`
}

// Compute bills m at prices p. A savings plan outside 0..1 is clamped (and
// noted) so that a bad setting cannot produce a negative bill.
func Compute(m Meters, p Prices) Bill {
	b := Bill{
		Since: m.Since, Until: m.Until,
		Functions:         []FunctionLine{},
		CapacityProviders: []CapacityProviderLine{},
		Notes:             []string{},
	}
	if sp := math.Min(1, math.Max(0, p.SavingsPlanDiscount)); sp != p.SavingsPlanDiscount {
		b.Notes = append(b.Notes, fmt.Sprintf("savings plan discount %v is not between 0 and 1: used %v", p.SavingsPlanDiscount, sp))
		p.SavingsPlanDiscount = sp
	}
	b.Prices = p
	b.PriceList = p.quotes()
	period := max(0, m.Until.Sub(m.Since))
	b.PeriodSeconds = period.Seconds()

	cps := make(map[string]*CapacityProviderLine, len(m.CapacityProviders))
	for _, cm := range m.CapacityProviders {
		line := capacityProviderLine(cm, p, &b.Notes)
		b.CapacityProviders = append(b.CapacityProviders, line)
	}
	sort.Slice(b.CapacityProviders, func(i, j int) bool { return b.CapacityProviders[i].Name < b.CapacityProviders[j].Name })
	for i := range b.CapacityProviders {
		cps[b.CapacityProviders[i].Name] = &b.CapacityProviders[i]
	}

	// First pass: each LMI function's vCPU-seconds on its capacity
	// provider, which the second pass needs whole to split the cost.
	for _, f := range m.Functions {
		if f.Mode != ModeLMI {
			continue
		}
		if cp := cps[f.CapacityProvider]; cp != nil {
			// A function may come in several meters (one per version).
			if !slices.Contains(cp.Functions, f.Function) {
				cp.Functions = append(cp.Functions, f.Function)
			}
			cp.VCPUSeconds += vcpuSeconds(f)
		}
	}
	for _, f := range m.Functions {
		b.Functions = append(b.Functions, functionLine(f, cps, period, p, &b.Notes))
	}
	sort.SliceStable(b.Functions, func(i, j int) bool {
		x, y := b.Functions[i], b.Functions[j]
		if x.Function != y.Function {
			return x.Function < y.Function
		}
		return x.CapacityProvider < y.CapacityProvider
	})

	t := &b.Totals
	for _, f := range b.Functions {
		t.Requests += f.Requests
		t.OverflowRequests += f.OverflowRequests
		t.RequestCost += f.RequestCost
		t.DurationCost += f.DurationCost
		t.OverflowCost += f.OverflowCost
		if f.Mode == ModeLMI {
			t.LMI += f.Total
		} else {
			t.Default += f.Total
		}
	}
	// Instances and the fee are summed from the capacity providers, not
	// the functions' shares, so that idle capacity is in the total too.
	for i := range b.CapacityProviders {
		cp := &b.CapacityProviders[i]
		sort.Strings(cp.Functions)
		if cp.VCPUSeconds <= 0 {
			cp.Idle = cp.Total
		}
		t.OnDemandCost += cp.OnDemandCost
		t.SavingsPlan += cp.SavingsPlan
		t.InstanceCost += cp.InstanceCost
		t.FeeCost += cp.FeeCost
		t.IdleCost += cp.Idle
		t.LMI += cp.Idle
	}
	t.Total = t.RequestCost + t.DurationCost + t.InstanceCost + t.FeeCost + t.OverflowCost
	return b
}

func capacityProviderLine(cm CapacityProviderMeter, p Prices, notes *[]string) CapacityProviderLine {
	line := CapacityProviderLine{Name: cm.Name, Arch: cm.Arch, Instances: []InstanceLine{}, Functions: []string{}}
	// In name order, so that notes and float sums come out the same on
	// every call.
	for _, typ := range slices.Sorted(maps.Keys(cm.InstanceSeconds)) {
		sec := cm.InstanceSeconds[typ]
		il := InstanceLine{Type: typ, InstanceSeconds: sec}
		if it, ok := fleet.LookupInstanceType(typ); ok {
			il.PricePerHour = it.PricePerHour
			il.OnDemandCost = sec / 3600 * it.PricePerHour
			il.SavingsPlan = il.OnDemandCost * p.SavingsPlanDiscount
			il.InstanceCost = il.OnDemandCost - il.SavingsPlan
			// The fee is on the on-demand price, whatever the instance
			// costs after a savings plan (AWS bills it that way).
			il.FeeCost = il.OnDemandCost * p.ManagementFee
		} else {
			il.Unpriced = true
			*notes = append(*notes, fmt.Sprintf("capacity provider %s: instance type %s is not in the price catalog; its %.0f instance-seconds are not billed", cm.Name, typ, sec))
		}
		line.Instances = append(line.Instances, il)
		line.InstanceSeconds += sec
		line.OnDemandCost += il.OnDemandCost
		line.SavingsPlan += il.SavingsPlan
		line.InstanceCost += il.InstanceCost
		line.FeeCost += il.FeeCost
	}
	line.Total = line.InstanceCost + line.FeeCost
	return line
}

// vcpuSeconds is the capacity an LMI function held: what it was allocated,
// not what it used, since allocated vCPUs are what keep instances running.
func vcpuSeconds(f FunctionMeter) float64 {
	return max(0, f.EESeconds) * max(0, f.VCPUPerEE)
}

func functionLine(f FunctionMeter, cps map[string]*CapacityProviderLine, period time.Duration, p Prices, notes *[]string) FunctionLine {
	l := FunctionLine{
		Function: f.Function, Arch: f.Arch, Mode: f.Mode, CapacityProvider: f.CapacityProvider,
		MemoryMB: f.MemoryMB, Requests: f.Requests, BilledMs: f.BilledMs,
		GBSeconds:   gbSeconds(f.BilledMs, f.MemoryMB),
		RequestCost: requestCost(f.Requests, p),
	}
	if l.Arch == "" {
		l.Arch = fleet.ArchX86_64
	}
	if f.Mode != ModeLMI {
		if f.Mode != ModeDefault {
			*notes = append(*notes, fmt.Sprintf("function %s: unknown mode %q, billed as the default mode", f.Function, f.Mode))
		}
		l.Mode = ModeDefault
		l.DurationCost = l.GBSeconds * p.GBSecond(l.Arch)
		l.Total = l.RequestCost + l.DurationCost
		l.OtherMode = estimateLMI(f, l.Arch, period, p)
		l.Verdict = verdict(l.Mode, l.Total, l.OtherMode.Total)
		return l
	}

	l.OverflowRequests = f.OverflowRequests
	l.OverflowCost = gbSeconds(f.OverflowBilledMs, f.MemoryMB) * p.GBSecond(l.Arch)
	l.VCPUSeconds = vcpuSeconds(f)
	switch cp := cps[f.CapacityProvider]; {
	case cp == nil:
		*notes = append(*notes, fmt.Sprintf("function %s: capacity provider %q has no instance meters; the function carries no instance cost", f.Function, f.CapacityProvider))
	case cp.VCPUSeconds > 0:
		share := l.VCPUSeconds / cp.VCPUSeconds
		l.InstanceCost = cp.InstanceCost * share
		l.FeeCost = cp.FeeCost * share
	}
	l.Total = l.RequestCost + l.InstanceCost + l.FeeCost + l.OverflowCost

	// In the default mode every invoke, overflowed or not, is billed by
	// the GB-second, and there is nothing else to pay.
	o := OtherMode{Mode: ModeDefault, RequestCost: l.RequestCost}
	o.DurationCost = l.GBSeconds * p.GBSecond(l.Arch)
	o.Total = o.RequestCost + o.DurationCost
	o.Basis = fmt.Sprintf("the same %s invokes in the default mode: requests + %s GB-s (billed ms x %d MB) x $%.10f (%s); cold starts are not priced",
		commas(f.Requests), commas(int64(math.Round(l.GBSeconds))), f.MemoryMB, p.GBSecond(l.Arch), l.Arch)
	l.OtherMode = o
	l.Verdict = verdict(l.Mode, l.Total, o.Total)
	return l
}

// LMI sizing assumptions of estimateLMI, the same as Paddock's scaler and
// LMI's defaults: an EE has at least 2048 MB, at 2 GiB per vCPU (so at
// least 1 vCPU); it takes 8 concurrent requests per vCPU and the autoscaler
// holds it at 50% of that; a version keeps at least 3 EEs, spread over 3
// instances.
const (
	lmiMinEEMemoryMB   = 2048
	lmiMemoryMBPerVCPU = 2048
	lmiSlotsPerVCPU    = 8
	lmiTargetUse       = 0.5
	lmiMinEEs          = 3
	lmiMinInstances    = 3
)

// estimateLMI prices a default-mode function's traffic in LMI. It assumes
// the load was spread evenly over the period (average concurrency = billed
// seconds / period seconds), sizes the EEs the autoscaler would keep for it
// and takes the cheapest instance type of the arch for them: for each type,
// instances = max(3, ceil(EEs / EEs-per-instance)), where EEs-per-instance
// is the type's allocatable vCPUs over the EE's vCPUs. The 3-instance floor
// matters: without it the estimate would put 3 EEs on a slice of a
// 24xlarge and come out several times cheaper than any real LMI fleet.
func estimateLMI(f FunctionMeter, arch string, period time.Duration, p Prices) OtherMode {
	o := OtherMode{Mode: ModeLMI, RequestCost: requestCost(f.Requests, p)}
	if arch != fleet.ArchARM64 {
		arch = fleet.ArchX86_64
	}
	eeMemoryMB := max(lmiMinEEMemoryMB, f.MemoryMB)
	eeVCPU := float64(eeMemoryMB) / lmiMemoryMBPerVCPU
	eeMilliCPU := int(math.Ceil(eeVCPU * 1000))

	avgConcurrency := 0.0
	if period > 0 {
		avgConcurrency = float64(f.BilledMs) / 1000 / period.Seconds()
	}
	perEE := lmiSlotsPerVCPU * eeVCPU * lmiTargetUse
	// The epsilon keeps float noise (12/4 = 3.0000000001) from adding an EE.
	o.EEs = max(lmiMinEEs, int(math.Ceil(avgConcurrency/perEE-1e-9)))

	bestCost := math.Inf(1)
	var best fleet.InstanceType
	for _, t := range fleet.MatchInstanceTypes(arch, nil, nil) {
		// Memory never binds before vCPU: every type has at least 2 GiB
		// per vCPU, the EE's ratio, and reserves less memory than CPU.
		fit := t.AllocatableMilliCPU() / eeMilliCPU
		if fit == 0 {
			continue
		}
		n := max(lmiMinInstances, (o.EEs+fit-1)/fit)
		if c := float64(n) * t.PricePerHour; c < bestCost {
			bestCost, best, o.Instances = c, t, n
		}
	}
	if best.Name == "" {
		o.EEs = 0
		o.Total = o.RequestCost
		o.Basis = fmt.Sprintf("no %s instance type fits an EE of %s vCPU: only the requests are priced", arch, trimFloat(eeVCPU))
		return o
	}
	o.InstanceType = best.Name
	onDemand := bestCost * period.Hours()
	o.InstanceCost = onDemand * (1 - p.SavingsPlanDiscount)
	o.FeeCost = onDemand * p.ManagementFee
	o.Total = o.RequestCost + o.InstanceCost + o.FeeCost

	var basis strings.Builder
	fmt.Fprintf(&basis, "estimate: average concurrency %.2f over the period needs %d EEs of %d MB (%s vCPU; at least %d, %s in flight per vCPU at the %g%% target) on %d %s ($%g/h) for %s; requests + instances + %g%% fee",
		avgConcurrency, o.EEs, eeMemoryMB, trimFloat(eeVCPU), lmiMinEEs, trimFloat(lmiSlotsPerVCPU*lmiTargetUse), lmiTargetUse*100,
		o.Instances, best.Name, best.PricePerHour, period, p.ManagementFee*100)
	if p.SavingsPlanDiscount > 0 {
		fmt.Fprintf(&basis, ", savings plan %g%% off instances", p.SavingsPlanDiscount*100)
	}
	basis.WriteString("; bursts above the average would need more")
	o.Basis = basis.String()
	return o
}

func requestCost(n int64, p Prices) float64 { return float64(n) / 1e6 * p.RequestPerMillion }

// gbSeconds is billed milliseconds times memory, with Lambda's 1 GB = 1024 MB.
func gbSeconds(billedMs int64, memoryMB int) float64 {
	return float64(billedMs) / 1000 * float64(memoryMB) / 1024
}

// verdict says which mode is cheaper for this traffic, in the words a
// table cell has room for.
func verdict(mode string, this, other float64) string {
	name := map[string]string{ModeLMI: "LMI", ModeDefault: "default mode"}
	self, alt := name[mode], name[ModeLMI]
	if mode == ModeLMI {
		alt = name[ModeDefault]
	}
	switch {
	case this == 0 && other == 0:
		return "no cost either way"
	case other == 0:
		return alt + " would cost nothing"
	case math.Abs(this-other) <= 0.005*math.Max(this, other):
		return "about the same"
	case this < other:
		return fmt.Sprintf("%s saves %.0f%%", self, (1-this/other)*100)
	case this/other >= 2:
		return fmt.Sprintf("%s would be %.1fx cheaper", alt, this/other)
	default:
		return fmt.Sprintf("%s would save %.0f%%", alt, (1-other/this)*100)
	}
}

// commas prints n with thousands separators, as people read counts.
func commas(n int64) string {
	s := strconv.FormatInt(n, 10)
	sign := ""
	if n < 0 {
		sign, s = "-", s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return sign + b.String()
}

// trimFloat prints x with at most 3 decimals and no trailing zeros.
func trimFloat(x float64) string {
	s := fmt.Sprintf("%.3f", x)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}
