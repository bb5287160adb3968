package scaler

import (
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// steadyLoad feeds secs samples of ees EEs holding inFlight invokes.
func feed(a *Autoscaler, from time.Time, secs, ees int, inFlight, cpu, throttled float64) time.Time {
	for i := 0; i < secs; i++ {
		from = from.Add(time.Second)
		a.Record(Sample{At: from, EEs: ees, InFlight: inFlight, MaxConcurrency: 8, CPU: cpu, VCPUPerEE: 1,
			Served: inFlight * 5, Throttled: throttled})
	}
	return from
}

func TestAutoscalerDecisions(t *testing.T) {
	tests := []struct {
		name    string
		policy  Policy
		current int
		run     func(a *Autoscaler) time.Time
		want    int
		why     string
	}{
		{
			name: "no samples yet holds the current count", policy: DefaultPolicy(0.5, 3, -1), current: 5,
			run: func(a *Autoscaler) time.Time { return t0 }, want: 5, why: "no measurements",
		},
		{
			name: "concurrency at target holds still", policy: DefaultPolicy(0.5, 3, -1), current: 5,
			run: func(a *Autoscaler) time.Time { return feed(a, t0, 90, 5, 20, 2, 0) }, want: 5,
		},
		{
			name: "CPU above target adds EEs", policy: DefaultPolicy(0.5, 3, -1), current: 4,
			run: func(a *Autoscaler) time.Time { return feed(a, t0, 90, 4, 4, 3.6, 0) }, want: 8, why: "cpu 90%",
		},
		{
			name: "throttles count as unmet demand and panic", policy: DefaultPolicy(0.5, 3, -1), current: 3,
			run: func(a *Autoscaler) time.Time {
				at := feed(a, t0, 60, 3, 12, 1, 0)
				return feed(a, at, 6, 3, 24, 2, 120) // saturated, 120/s refused
			}, want: 12, why: "panic",
		},
		{
			name: "a retry storm is capped at 10x the ready EEs", policy: DefaultPolicy(0.5, 3, -1), current: 3,
			run: func(a *Autoscaler) time.Time {
				return feed(a, t0, 60, 3, 24, 3, 50000) // saturated; clients retry refusals in a tight loop
			}, want: 30, why: "capped",
		},
		{
			name: "low demand waits for the scale-down delay", policy: DefaultPolicy(0.5, 3, -1), current: 10,
			run: func(a *Autoscaler) time.Time {
				at := feed(a, t0, 60, 10, 40, 5, 0)
				for i := 0; i < 30; i++ { // decide each second while demand falls
					at = feed(a, at, 1, 10, 4, 0.5, 0)
					a.Decide(at, 10)
				}
				return at
			}, want: 10, why: "holding",
		},
		{
			name: "max bounds the answer", policy: DefaultPolicy(0.5, 3, 6), current: 6,
			run: func(a *Autoscaler) time.Time { return feed(a, t0, 90, 6, 48, 6, 0) }, want: 6, why: "maximum 6",
		},
		{
			name: "min bounds the answer", policy: DefaultPolicy(0.5, 3, -1), current: 3,
			run: func(a *Autoscaler) time.Time { return feed(a, t0, 200, 3, 0, 0, 0) }, want: 3, why: "minimum 3",
		},
		{
			name: "min = max = 0 deactivates", policy: DefaultPolicy(0.5, 0, 0), current: 3,
			run: func(a *Autoscaler) time.Time { return feed(a, t0, 10, 3, 10, 1, 0) }, want: 0, why: "deactivated",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := NewAutoscaler(tt.policy)
			now := tt.run(a)
			d := a.Decide(now, tt.current)
			if d.Desired != tt.want || !strings.Contains(d.Why, tt.why) {
				t.Fatalf("Decide = %d (%q), want %d (%q)", d.Desired, d.Why, tt.want, tt.why)
			}
		})
	}
}

// TestReactivation: after min = max = 0, a new policy with min 3 wants 3.
func TestReactivation(t *testing.T) {
	a := NewAutoscaler(DefaultPolicy(0.5, 0, 0))
	now := feed(a, t0, 10, 3, 1, 0.1, 0)
	if d := a.Decide(now, 3); d.Desired != 0 {
		t.Fatalf("deactivated: %d", d.Desired)
	}
	a.SetPolicy(DefaultPolicy(0.5, 3, -1))
	now = feed(a, now, 10, 0, 0, 0, 0)
	if d := a.Decide(now, 0); d.Desired != 3 {
		t.Fatalf("reactivated: %d (%s), want 3", d.Desired, d.Why)
	}
}
