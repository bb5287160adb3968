package simulate

import (
	"strings"
	"testing"
	"time"
)

// base is a function at 100 requests/s of 200 ms each, using 20 ms of CPU:
// 20 concurrent invokes and 2 vCPUs, on EEs of 1 vCPU and 8 slots.
var base = Base{RPS: 100, Duration: 200 * time.Millisecond, CPUPerReq: 20 * time.Millisecond}

const launchDelay = 40 * time.Second // EC2's, roughly

func run(t *testing.T, cfg Config, tr Trace) Result {
	t.Helper()
	if cfg.LaunchDelay == 0 {
		cfg.LaunchDelay = launchDelay
	}
	res, err := Run(cfg, tr)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestScenarios(t *testing.T) {
	tests := []struct {
		scenario string
		check    func(t *testing.T, r Result)
	}{
		{"steady", func(t *testing.T, r Result) {
			noThrottles(t, r)
			for i, n := range r.EEsAt {
				if n != r.EEsAt[0] {
					t.Fatalf("steady load moved the EEs from %d to %d at %ds", r.EEsAt[0], n, i)
				}
			}
		}},
		{"step", noThrottles}, // x1.5 at once is absorbed by the headroom
		{"ramp", noThrottles}, // x2 over 5 minutes is absorbed while the fleet grows
		{"spike", func(t *testing.T, r Result) {
			if len(r.ThrottledAt) == 0 {
				t.Fatal("a x10 spike did not throttle: the headroom is too large to be honest")
			}
			start := 10 * time.Minute
			// Recovery: instances launch, then a few decision periods.
			limit := start + launchDelay + 10*time.Second
			for _, at := range r.ThrottledAt {
				if at < start || at > limit {
					t.Fatalf("throttled at %v; a x10 spike at %v should throttle only until %v", at, start, limit)
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			r := run(t, Config{}, Scenarios[tt.scenario].Build(base))
			tt.check(t, r)
		})
	}
}

func noThrottles(t *testing.T, r Result) {
	t.Helper()
	if len(r.ThrottledAt) > 0 {
		t.Fatalf("%.0f of %.0f invokes throttled (first at %v)", r.Throttled, r.Requests, r.ThrottledAt[0])
	}
}

// TestScaleInIsGradualAndKeepsTheMinimum: after the spike, EEs go back
// down step by step (at most a quarter per minute, plus one), not below
// the minimum, and the fleet shrinks with them.
func TestScaleInIsGradualAndKeepsTheMinimum(t *testing.T) {
	cfg := Config{MinEEs: 4}
	r := run(t, cfg, Scenarios["spike"].Build(base))
	end := int((13 * time.Minute) / time.Second)
	peak := r.EEsAt[end]
	for i := end; i+60 < len(r.EEsAt); i++ {
		if r.EEsAt[i] < 4 {
			t.Fatalf("%d EEs at %ds, below the minimum 4", r.EEsAt[i], i)
		}
		if drop := r.EEsAt[i] - r.EEsAt[i+60]; drop > r.EEsAt[i]/4+1 {
			t.Fatalf("EEs fell from %d to %d in the minute after %ds", r.EEsAt[i], r.EEsAt[i+60], i)
		}
	}
	last := r.Minutes[len(r.Minutes)-1]
	if last.EEs >= peak || last.Instances >= r.PeakInstance {
		t.Fatalf("no scale-in: %d EEs on %d instances at the end, %d EEs and %d instances at the peak",
			last.EEs, last.Instances, peak, r.PeakInstance)
	}
}

func TestMaxVCpuCountIsNeverExceeded(t *testing.T) {
	for _, cap := range []int{16, 40, 100} {
		r := run(t, Config{MaxVCPU: cap}, Scenarios["spike"].Build(base))
		if r.PeakVCPUs > cap {
			t.Errorf("MaxVCpuCount %d: the fleet reached %d vCPUs", cap, r.PeakVCPUs)
		}
	}
}

func TestAllowedTypesAreHonoured(t *testing.T) {
	r := run(t, Config{AllowedTypes: []string{"r7i.*"}}, Scenarios["step"].Build(base))
	if r.PeakInstance == 0 {
		t.Fatal("no instances")
	}
	_, err := Run(Config{Arch: "arm64", AllowedTypes: []string{"m7i.*"}}, Scenarios["step"].Build(base))
	if err == nil || !strings.Contains(err.Error(), "no arm64 instance type") {
		t.Fatalf("x86 types for an arm64 provider: %v", err)
	}
}

// TestLargeFleetIsFast: the simulator is how users plan fleets this
// machine cannot hold, so thousands of instances must take seconds.
func TestLargeFleetIsFast(t *testing.T) {
	big := Base{RPS: 2000, Duration: time.Second, CPUPerReq: 100 * time.Millisecond}
	r := run(t, Config{MaxVCPU: 15000, AllowedTypes: []string{"*.large"}}, Scenarios["spike"].Build(big))
	if r.PeakInstance < 1000 {
		t.Fatalf("peak %d instances, want a fleet of 1000+", r.PeakInstance)
	}
}

func TestReadCSV(t *testing.T) {
	tests := []struct {
		name, in string
		points   int
		err      string
	}{
		{"header and rows", "seconds,rps,duration_ms,cpu_ms\n0,100,200,20\n600,150,200,20\n", 2, ""},
		{"no header", "0,1,1,1\n60,2,1,1\n", 2, ""},
		{"too few points", "0,1,1,1\n", 0, "at least 2"},
		{"wrong columns", "0,1,1\n", 0, "4 columns"},
		{"negative", "0,1,1,1\n60,-2,1,1\n", 0, "non-negative"},
		{"time goes back", "0,1,1,1\n60,2,1,1\n30,2,1,1\n", 0, "not after"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := ReadCSV(strings.NewReader(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || len(tr) != tt.points {
				t.Fatalf("%d points, err %v", len(tr), err)
			}
		})
	}
}
