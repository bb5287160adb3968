package billing

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paddockhq/paddock/internal/fleet"
)

const tol = 1e-9

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func period(d time.Duration) (time.Time, time.Time) { return t0, t0.Add(d) }

func near(a, b float64) bool { return math.Abs(a-b) <= tol }

// The expected bills below are computed by hand from these catalog prices.
// Asserting them here makes a catalog change fail this test loudly, rather
// than silently move every literal below.
func TestCatalogPricesTheTestsUse(t *testing.T) {
	for name, want := range map[string]float64{
		"m7i.large":  0.1008,
		"m7i.xlarge": 0.2016,
		"c7i.large":  0.08925,
		"c6i.large":  0.085, // cheapest x86_64 type
		"c7g.large":  0.0725,
		"c7g.xlarge": 0.145,
	} {
		it, ok := fleet.LookupInstanceType(name)
		if !ok || it.PricePerHour != want {
			t.Errorf("%s: catalog price %v (found %v), the expected bills assume %v", name, it.PricePerHour, ok, want)
		}
	}
	p := DefaultPrices()
	if p.RequestPerMillion != 0.20 || p.GBSecondX86 != 0.0000166667 || p.GBSecondARM != 0.0000133334 || p.ManagementFee != 0.15 || p.SavingsPlanDiscount != 0 {
		t.Errorf("default prices %+v", p)
	}
}

func TestCompute(t *testing.T) {
	type fnWant struct {
		function                                  string
		request, duration, instance, fee, overflw float64
		total, other                              float64
		verdict                                   string
	}
	type cpWant struct {
		name                             string
		onDemand, savings, instance, fee float64
		idle                             float64
	}
	lmi := func(name, cp, arch string, memMB int, req, billedMs int64, eeSec, vcpu float64) FunctionMeter {
		return FunctionMeter{Function: name, Arch: arch, Mode: ModeLMI, CapacityProvider: cp, MemoryMB: memMB,
			Requests: req, BilledMs: billedMs, EESeconds: eeSec, VCPUPerEE: vcpu, MaxConcurrency: 16}
	}
	def := func(name, arch string, memMB int, req, billedMs int64) FunctionMeter {
		return FunctionMeter{Function: name, Arch: arch, Mode: ModeDefault, MemoryMB: memMB, Requests: req, BilledMs: billedMs, MaxConcurrency: 1}
	}
	oneHour := func(cp, arch, typ string) CapacityProviderMeter {
		return CapacityProviderMeter{Name: cp, Arch: arch, InstanceSeconds: map[string]float64{typ: 3600}}
	}
	withOverflow := func(f FunctionMeter, req, billedMs int64) FunctionMeter {
		f.OverflowRequests, f.OverflowBilledMs = req, billedMs
		return f
	}
	meters := func(d time.Duration, fns []FunctionMeter, cps ...CapacityProviderMeter) Meters {
		s, u := period(d)
		return Meters{Since: s, Until: u, Functions: fns, CapacityProviders: cps}
	}

	tests := []struct {
		name        string
		m           Meters
		savingsPlan float64
		fns         []fnWant
		cps         []cpWant
		total       float64
		notes       int
	}{
		{
			// 1M requests of 100 ms at 128 MB: $0.20 + 100,000 s x 0.125 GB
			// x $0.0000166667. Other mode over 24 h: average concurrency
			// 100,000/86,400 = 1.16 needs ceil(1.16/4) = 1 EE, so the
			// minimum 3 EEs of 1 vCPU on 3 c6i.large ($0.085/h): 24 h x
			// $0.255 = $6.12, fee $0.918, requests $0.20 = $7.238.
			name: "default x86_64",
			m:    meters(24*time.Hour, []FunctionMeter{def("thumb", "x86_64", 128, 1_000_000, 100_000_000)}),
			fns: []fnWant{{function: "thumb", request: 0.20, duration: 0.20833375, total: 0.40833375,
				other: 7.238, verdict: "default mode saves 94%"}},
			total: 0.40833375,
		},
		{
			// Same traffic on arm64: 12,500 GB-s x $0.0000133334 =
			// $0.1666675. Other mode: 3 c7g.large ($0.0725/h) for 24 h =
			// $5.22, fee $0.783, requests $0.20 = $6.203.
			name: "default arm64",
			m:    meters(24*time.Hour, []FunctionMeter{def("thumb", "arm64", 128, 1_000_000, 100_000_000)}),
			fns: []fnWant{{function: "thumb", request: 0.20, duration: 0.1666675, total: 0.3666675,
				other: 6.203, verdict: "default mode saves 94%"}},
			total: 0.3666675,
		},
		{
			// One m7i.large for an hour: $0.1008 + 15% fee $0.01512 +
			// requests $0.20. In the default mode the same invokes are
			// 100,000 s x 2 GB x $0.0000166667 = $3.33334 + $0.20.
			name: "LMI x86_64, one m7i.large for an hour",
			m: meters(time.Hour, []FunctionMeter{lmi("api", "cp1", "x86_64", 2048, 1_000_000, 100_000_000, 3600, 1)},
				oneHour("cp1", "x86_64", "m7i.large")),
			fns: []fnWant{{function: "api", request: 0.20, instance: 0.1008, fee: 0.01512, total: 0.31592,
				other: 3.53334, verdict: "LMI saves 91%"}},
			cps:   []cpWant{{name: "cp1", onDemand: 0.1008, instance: 0.1008, fee: 0.01512}},
			total: 0.31592,
		},
		{
			// 30% off the instance: $0.1008 x 0.7 = $0.07056; the fee stays
			// 15% of the on-demand $0.1008, and requests and the default
			// mode estimate do not change.
			name: "LMI with a 30% savings plan",
			m: meters(time.Hour, []FunctionMeter{lmi("api", "cp1", "x86_64", 2048, 1_000_000, 100_000_000, 3600, 1)},
				oneHour("cp1", "x86_64", "m7i.large")),
			savingsPlan: 0.3,
			fns: []fnWant{{function: "api", request: 0.20, instance: 0.07056, fee: 0.01512, total: 0.28568,
				other: 3.53334, verdict: "LMI saves 92%"}},
			cps:   []cpWant{{name: "cp1", onDemand: 0.1008, savings: 0.03024, instance: 0.07056, fee: 0.01512}},
			total: 0.28568,
		},
		{
			// One c7g.large for an hour: $0.0725 + fee $0.010875 + $0.20.
			// Default mode: 200,000 GB-s x $0.0000133334 = $2.66668 + $0.20.
			name: "LMI arm64, one c7g.large for an hour",
			m: meters(time.Hour, []FunctionMeter{lmi("api", "cp2", "arm64", 2048, 1_000_000, 100_000_000, 3600, 1)},
				oneHour("cp2", "arm64", "c7g.large")),
			fns: []fnWant{{function: "api", request: 0.20, instance: 0.0725, fee: 0.010875, total: 0.283375,
				other: 2.86668, verdict: "LMI saves 90%"}},
			cps:   []cpWant{{name: "cp2", onDemand: 0.0725, instance: 0.0725, fee: 0.010875}},
			total: 0.283375,
		},
		{
			// Over 2 h: an m7i.xlarge for 2 h ($0.2016 x 2 = $0.4032) and a
			// c7i.large for 1 h ($0.08925): $0.49245, fee $0.0738675.
			// a held 7,200 vCPU-s (1 EE of 1 vCPU), b 14,400 (1 EE of 2
			// vCPU): a pays 1/3, b 2/3.
			name: "two functions share a capacity provider by vCPU-seconds",
			m: meters(2*time.Hour, []FunctionMeter{
				lmi("b", "cp1", "x86_64", 4096, 500_000, 50_000_000, 7200, 2),
				lmi("a", "cp1", "x86_64", 2048, 0, 0, 7200, 1),
			}, CapacityProviderMeter{Name: "cp1", Arch: "x86_64", InstanceSeconds: map[string]float64{"m7i.xlarge": 7200, "c7i.large": 3600}}),
			fns: []fnWant{
				{function: "a", instance: 0.16415, fee: 0.0246225, total: 0.1887725,
					other: 0, verdict: "default mode would cost nothing"},
				// b in the default mode: 50,000 s x 4 GB x $0.0000166667
				// = $3.33334 + $0.10.
				{function: "b", request: 0.10, instance: 0.3283, fee: 0.049245, total: 0.477545,
					other: 3.43334, verdict: "LMI saves 86%"},
			},
			cps:   []cpWant{{name: "cp1", onDemand: 0.49245, instance: 0.49245, fee: 0.0738675}},
			total: 0.6663175,
		},
		{
			// 10,000 of the 1M invokes overflowed, 200 ms each: 2,000 s x
			// 2 GB x $0.0000166667 = $0.0666668 on top of the LMI bill.
			// The default-mode estimate counts them once, in BilledMs.
			name: "burst overflow billed by the GB-second",
			m: meters(time.Hour, []FunctionMeter{withOverflow(
				lmi("burst", "cp1", "x86_64", 2048, 1_000_000, 100_000_000, 3600, 1), 10_000, 2_000_000)},
				oneHour("cp1", "x86_64", "m7i.large")),
			fns: []fnWant{{function: "burst", request: 0.20, instance: 0.1008, fee: 0.01512, overflw: 0.0666668,
				total: 0.3825868, other: 3.53334, verdict: "LMI saves 89%"}},
			cps:   []cpWant{{name: "cp1", onDemand: 0.1008, instance: 0.1008, fee: 0.01512}},
			total: 0.3825868,
		},
		{
			// 1.44M invokes of 100 ms at 1024 MB on arm64 in an hour:
			// $0.288 + 144,000 GB-s x $0.0000133334 = $1.9200096. In LMI:
			// average concurrency 40, at 4 per vCPU needs 10 EEs of 1 vCPU;
			// a c7g.xlarge holds 3 (3 allocatable vCPU), so 4 of them
			// ($0.58/h) beat 10 c7g.large ($0.725/h) and 3 c7g.2xlarge
			// ($0.87/h): $0.58 + fee $0.087 + $0.288 = $0.955.
			name: "LMI estimate of a busy default-mode function",
			m:    meters(time.Hour, []FunctionMeter{def("busy", "arm64", 1024, 1_440_000, 144_000_000)}),
			fns: []fnWant{{function: "busy", request: 0.288, duration: 1.9200096, total: 2.2080096,
				other: 0.955, verdict: "LMI would be 2.3x cheaper"}},
			total: 2.2080096,
		},
		{
			// The savings plan also applies to the estimate's instances:
			// $0.58 x 0.7 = $0.406, fee still $0.087: $0.781.
			name:        "LMI estimate with a 30% savings plan",
			m:           meters(time.Hour, []FunctionMeter{def("busy", "arm64", 1024, 1_440_000, 144_000_000)}),
			savingsPlan: 0.3,
			fns: []fnWant{{function: "busy", request: 0.288, duration: 1.9200096, total: 2.2080096,
				other: 0.781, verdict: "LMI would be 2.8x cheaper"}},
			total: 2.2080096,
		},
		{
			// Nothing ran on cp1: its instance and fee stay on it as idle.
			name:  "idle capacity provider",
			m:     meters(time.Hour, nil, oneHour("cp1", "x86_64", "m7i.large")),
			cps:   []cpWant{{name: "cp1", onDemand: 0.1008, instance: 0.1008, fee: 0.01512, idle: 0.11592}},
			total: 0.11592,
		},
		{
			// A function with no EE in the period held no capacity: the
			// instance stays on cp1 as idle rather than on the function.
			name: "functions without EEs leave the cost idle",
			m: meters(time.Hour, []FunctionMeter{lmi("api", "cp1", "x86_64", 2048, 0, 0, 0, 1)},
				oneHour("cp1", "x86_64", "m7i.large")),
			fns:   []fnWant{{function: "api", verdict: "no cost either way"}},
			cps:   []cpWant{{name: "cp1", onDemand: 0.1008, instance: 0.1008, fee: 0.01512, idle: 0.11592}},
			total: 0.11592,
		},
		{
			// Two versions of one function are two meters: each pays for
			// its own vCPU-seconds, here half of $0.1008 and of $0.01512.
			name: "two meters of one function",
			m: meters(time.Hour, []FunctionMeter{
				lmi("api", "cp1", "x86_64", 2048, 0, 0, 1800, 1),
				lmi("api", "cp1", "x86_64", 2048, 0, 0, 1800, 1),
			}, oneHour("cp1", "x86_64", "m7i.large")),
			fns: []fnWant{
				{function: "api", instance: 0.0504, fee: 0.00756, total: 0.05796, verdict: "default mode would cost nothing"},
				{function: "api", instance: 0.0504, fee: 0.00756, total: 0.05796, verdict: "default mode would cost nothing"},
			},
			cps:   []cpWant{{name: "cp1", onDemand: 0.1008, instance: 0.1008, fee: 0.01512}},
			total: 0.11592,
		},
		{
			name:  "instance type missing from the catalog",
			m:     meters(time.Hour, nil, oneHour("cp1", "x86_64", "x9.huge")),
			cps:   []cpWant{{name: "cp1"}},
			notes: 1,
		},
		{
			name: "empty period",
			m:    Meters{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := DefaultPrices()
			p.SavingsPlanDiscount = tc.savingsPlan
			b := Compute(tc.m, p)

			if len(b.Functions) != len(tc.fns) {
				t.Fatalf("%d function lines, want %d: %+v", len(b.Functions), len(tc.fns), b.Functions)
			}
			for i, w := range tc.fns {
				g := b.Functions[i]
				if g.Function != w.function {
					t.Errorf("line %d is %s, want %s", i, g.Function, w.function)
				}
				for _, c := range []struct {
					what      string
					got, want float64
				}{
					{"request", g.RequestCost, w.request}, {"duration", g.DurationCost, w.duration},
					{"instance", g.InstanceCost, w.instance}, {"fee", g.FeeCost, w.fee},
					{"overflow", g.OverflowCost, w.overflw}, {"total", g.Total, w.total},
					{"other mode", g.OtherMode.Total, w.other},
				} {
					if !near(c.got, c.want) {
						t.Errorf("%s: %s cost %.10f, want %.10f", w.function, c.what, c.got, c.want)
					}
				}
				if g.Verdict != w.verdict {
					t.Errorf("%s: verdict %q, want %q", w.function, g.Verdict, w.verdict)
				}
				if g.OtherMode.Mode == g.Mode || g.OtherMode.Basis == "" {
					t.Errorf("%s: other mode %q with basis %q", w.function, g.OtherMode.Mode, g.OtherMode.Basis)
				}
			}
			if len(b.CapacityProviders) != len(tc.cps) {
				t.Fatalf("%d capacity provider lines, want %d", len(b.CapacityProviders), len(tc.cps))
			}
			for i, w := range tc.cps {
				g := b.CapacityProviders[i]
				if g.Name != w.name || !near(g.OnDemandCost, w.onDemand) || !near(g.SavingsPlan, w.savings) ||
					!near(g.InstanceCost, w.instance) || !near(g.FeeCost, w.fee) || !near(g.Idle, w.idle) {
					t.Errorf("capacity provider %+v, want %+v", g, w)
				}
			}
			if !near(b.Totals.Total, tc.total) {
				t.Errorf("total %.10f, want %.10f", b.Totals.Total, tc.total)
			}
			// The two ways of adding the bill up must agree.
			sum := b.Totals.IdleCost
			for _, f := range b.Functions {
				sum += f.Total
			}
			if !near(sum, b.Totals.Total) || !near(b.Totals.LMI+b.Totals.Default, b.Totals.Total) {
				t.Errorf("functions + idle = %.10f, lmi + default = %.10f, total %.10f",
					sum, b.Totals.LMI+b.Totals.Default, b.Totals.Total)
			}
			for _, cp := range b.CapacityProviders {
				if len(cp.Functions) > len(slices.Compact(slices.Clone(cp.Functions))) {
					t.Errorf("capacity provider %s lists a function twice: %q", cp.Name, cp.Functions)
				}
			}
			if len(b.Notes) != tc.notes {
				t.Errorf("notes %q, want %d", b.Notes, tc.notes)
			}
		})
	}
}

func TestOverflowIsCounted(t *testing.T) {
	b := Compute(Meters{Functions: []FunctionMeter{
		{Function: "a", Mode: ModeLMI, CapacityProvider: "cp1", MemoryMB: 2048, Requests: 100, OverflowRequests: 7},
		{Function: "b", Mode: ModeLMI, CapacityProvider: "cp1", MemoryMB: 2048, Requests: 50, OverflowRequests: 5},
	}}, DefaultPrices())
	if b.Totals.OverflowRequests != 12 || b.Totals.Requests != 150 || b.Functions[0].OverflowRequests != 7 {
		t.Errorf("totals %+v, a %+v", b.Totals, b.Functions[0])
	}
	// cp1 has no meter: a note, and no instance cost on the functions.
	if len(b.Notes) != 2 {
		t.Errorf("notes %q", b.Notes)
	}
}

// The estimate's sizing: EEs from the average concurrency, then the
// cheapest instance count x type with the 3-instance floor.
func TestEstimateLMISizing(t *testing.T) {
	tests := []struct {
		name          string
		arch          string
		memoryMB      int
		billedSeconds int64 // over one hour
		ees           int
		instances     int
		instanceType  string
	}{
		{"idle function keeps the minimum", "x86_64", 128, 0, 3, 3, "c6i.large"},
		{"empty arch is x86_64", "", 512, 3600, 3, 3, "c6i.large"},
		// 40 concurrent / 4 per EE = 10 EEs; c6i.xlarge holds 3: 4 x $0.17.
		{"x86_64 packs EEs on bigger types", "x86_64", 1024, 40 * 3600, 10, 4, "c6i.xlarge"},
		// 10240 MB is a 5-vCPU EE: 40 / 20 = 2, so 3 EEs, which fit no
		// .large or .xlarge; 3 c6i.2xlarge (7 allocatable vCPU, 1 EE each).
		{"large memory needs larger instances", "x86_64", 10240, 40 * 3600, 3, 3, "c6i.2xlarge"},
		{"arm64", "arm64", 2048, 40 * 3600, 10, 4, "c7g.xlarge"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := FunctionMeter{Function: "f", Arch: tc.arch, Mode: ModeDefault, MemoryMB: tc.memoryMB, BilledMs: tc.billedSeconds * 1000}
			o := estimateLMI(f, tc.arch, time.Hour, DefaultPrices())
			if o.EEs != tc.ees || o.Instances != tc.instances || o.InstanceType != tc.instanceType {
				t.Errorf("%d EEs on %d %s, want %d on %d %s (%s)", o.EEs, o.Instances, o.InstanceType, tc.ees, tc.instances, tc.instanceType, o.Basis)
			}
			if !strings.HasPrefix(o.Basis, "estimate:") {
				t.Errorf("basis %q does not say it is an estimate", o.Basis)
			}
		})
	}
}

func TestVerdict(t *testing.T) {
	tests := []struct {
		mode        string
		this, other float64
		want        string
	}{
		{ModeLMI, 66, 100, "LMI saves 34%"},
		{ModeDefault, 10, 21, "default mode saves 52%"},
		{ModeLMI, 21, 10, "default mode would be 2.1x cheaper"},
		{ModeDefault, 10, 8, "LMI would save 20%"},
		{ModeLMI, 100, 100.2, "about the same"},
		{ModeLMI, 0.1, 0, "default mode would cost nothing"},
		{ModeDefault, 0, 0, "no cost either way"},
	}
	for _, tc := range tests {
		if got := verdict(tc.mode, tc.this, tc.other); got != tc.want {
			t.Errorf("verdict(%s, %v, %v) = %q, want %q", tc.mode, tc.this, tc.other, got, tc.want)
		}
	}
}

func TestBilledMillis(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want int64
	}{
		{0, 1},
		{time.Microsecond, 1},
		{time.Millisecond, 1},
		{time.Millisecond + time.Nanosecond, 2},
		{100 * time.Millisecond, 100},
		{1500*time.Millisecond + 200*time.Microsecond, 1501},
	}
	for _, tc := range tests {
		if got := BilledMillis(tc.d); got != tc.want {
			t.Errorf("BilledMillis(%v) = %d, want %d", tc.d, got, tc.want)
		}
	}
}

func TestValidateAndClamp(t *testing.T) {
	for _, tc := range []struct {
		sp float64
		ok bool
	}{{0, true}, {0.3, true}, {1, true}, {-0.1, false}, {30, false}} {
		p := DefaultPrices()
		p.SavingsPlanDiscount = tc.sp
		if err := p.Validate(); (err == nil) != tc.ok {
			t.Errorf("savings plan %v: Validate() = %v", tc.sp, err)
		}
	}
	p := DefaultPrices()
	p.SavingsPlanDiscount = 30
	s, u := period(time.Hour)
	b := Compute(Meters{Since: s, Until: u, CapacityProviders: []CapacityProviderMeter{
		{Name: "cp1", InstanceSeconds: map[string]float64{"m7i.large": 3600}}}}, p)
	if b.Totals.InstanceCost < 0 || b.Prices.SavingsPlanDiscount != 1 || len(b.Notes) != 1 {
		t.Errorf("a savings plan of 30 gave instances %v, discount %v, notes %q", b.Totals.InstanceCost, b.Prices.SavingsPlanDiscount, b.Notes)
	}
}

// Clients read arrays, never null, and every price has a source.
func TestEmptyBillJSON(t *testing.T) {
	data, err := json.Marshal(Compute(Meters{}, DefaultPrices()))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"functions":[]`, `"capacityProviders":[]`, `"notes":[]`} {
		if !strings.Contains(string(data), key) {
			t.Errorf("%s missing from %s", key, data)
		}
	}
	for _, q := range DefaultPrices().quotes() {
		if q.Source == "" || !strings.ContainsAny(q.Source, "0123456789") {
			t.Errorf("price %q has no dated source: %q", q.Item, q.Source)
		}
	}
}
