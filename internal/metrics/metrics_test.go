package metrics

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"

	"github.com/paddockhq/paddock/internal/billing"
	"github.com/paddockhq/paddock/internal/control"
	"github.com/paddockhq/paddock/internal/lambdaapi"
	"github.com/paddockhq/paddock/internal/meter"
	"github.com/paddockhq/paddock/internal/ondemand"
	"github.com/paddockhq/paddock/internal/runtimeapi"
	"github.com/paddockhq/paddock/internal/scaler"
)

// value is the sample of family name whose labels include want (nil when
// there is none); histograms give their count.
func value(t *testing.T, reg prometheus.Gatherer, name string, want map[string]string) *float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if have[k] != v {
					continue metric
				}
			}
			var v float64
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				v = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				v = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				v = float64(m.GetHistogram().GetSampleCount())
			}
			return &v
		}
	}
	return nil
}

// count is the number of series of family name.
func count(t *testing.T, reg prometheus.Gatherer, name string) int {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return len(mf.GetMetric())
		}
	}
	return 0
}

func mustValue(t *testing.T, reg prometheus.Gatherer, name string, want map[string]string) float64 {
	t.Helper()
	v := value(t, reg, name, want)
	if v == nil {
		t.Fatalf("no %s%v", name, want)
	}
	return *v
}

func lmiRoute(fn string) *control.Route {
	return &control.Route{FunctionName: fn, Version: "1", Config: &control.Config{}}
}

func TestObserveInvoke(t *testing.T) {
	m := New(Sources{})
	reg := m.Registry()
	ok := lambdaapi.InvokeRecord{Route: lmiRoute("f"), Invocation: &runtimeapi.Invocation{}, Duration: 3 * time.Millisecond}
	for range 4 {
		m.ObserveInvoke(ok)
	}
	cold := ok
	cold.Route = &control.Route{FunctionName: "g", Version: "$LATEST", OnDemand: true}
	cold.InitDuration = 40 * time.Millisecond
	m.ObserveInvoke(cold)
	failed := ok
	failed.Invocation = &runtimeapi.Invocation{FunctionError: "Unhandled", ErrorType: "errorString"}
	m.ObserveInvoke(failed)
	// aws-lambda-go names the type only in the error document.
	failed.Invocation = &runtimeapi.Invocation{FunctionError: "Unhandled", Response: []byte(`{"errorMessage":"boom","errorType":"errorString"}`)}
	m.ObserveInvoke(failed)
	failed.Invocation = &runtimeapi.Invocation{FunctionError: "Unhandled", Response: []byte(`not json`)}
	m.ObserveInvoke(failed)
	throttled := lambdaapi.InvokeRecord{Route: lmiRoute("f"), Invocation: &runtimeapi.Invocation{}, Throttled: "ConcurrentInvocationLimitExceeded"}
	m.ObserveInvoke(throttled)
	m.ObserveInvoke(throttled)

	f1 := map[string]string{"function": "f", "version": "1"}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"paddock_invocations_total", f1, 7},
		{"paddock_invocation_duration_seconds", f1, 7},
		{"paddock_errors_total", map[string]string{"function": "f", "error_type": "errorString"}, 2},
		{"paddock_errors_total", map[string]string{"function": "f", "error_type": "Unhandled"}, 1},
		{"paddock_throttles_total", map[string]string{"function": "f", "reason": "ConcurrentInvocationLimitExceeded"}, 2},
		{"paddock_cold_starts_total", map[string]string{"function": "g", "version": "$LATEST"}, 1},
		{"paddock_init_duration_seconds", map[string]string{"function": "g"}, 1},
	} {
		if got := mustValue(t, reg, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if v := value(t, reg, "paddock_cold_starts_total", f1); v != nil && *v != 0 {
		t.Errorf("warm invokes counted as cold starts: %v", *v)
	}
}

// The invoke path must not allocate once a version's children are cached:
// it runs for every invoke, at any rate.
func TestObserveInvokeAllocatesNothing(t *testing.T) {
	m := New(Sources{})
	rec := lambdaapi.InvokeRecord{Route: lmiRoute("f"), Invocation: &runtimeapi.Invocation{FunctionError: "Unhandled", ErrorType: "x"},
		Duration: time.Millisecond, InitDuration: time.Millisecond, Overflow: true}
	throttled := lambdaapi.InvokeRecord{Route: lmiRoute("f"), Throttled: "ConcurrentInvocationLimitExceeded"}
	m.ObserveInvoke(rec)
	m.ObserveInvoke(throttled)
	if n := testing.AllocsPerRun(1000, func() { m.ObserveInvoke(rec); m.ObserveInvoke(throttled) }); n != 0 {
		t.Errorf("ObserveInvoke allocates %v times per call", n)
	}
}

// A function that puts ids in its errorType must not create a series per
// invoke.
func TestErrorTypesAreBounded(t *testing.T) {
	m := New(Sources{})
	for i := range 100 {
		m.ObserveInvoke(lambdaapi.InvokeRecord{Route: lmiRoute("f"),
			Invocation: &runtimeapi.Invocation{FunctionError: "Unhandled", ErrorType: fmt.Sprintf("E%d", i)}})
	}
	m.ObserveInvoke(lambdaapi.InvokeRecord{Route: lmiRoute("f"),
		Invocation: &runtimeapi.Invocation{FunctionError: "Unhandled", ErrorType: "bad\xffutf8" + strings.Repeat("x", 100)}})
	if n := count(t, m.Registry(), "paddock_errors_total"); n != maxLabelValues+1 {
		t.Errorf("%d error_type series, want %d", n, maxLabelValues+1)
	}
	if got := mustValue(t, m.Registry(), "paddock_errors_total", map[string]string{"error_type": otherValue}); got != 91 {
		t.Errorf("other = %v, want 91", got)
	}
}

type fakeScaler struct {
	versions  []scaler.VersionStatus
	instances []scaler.InstanceStatus
}

func (f fakeScaler) Status() []scaler.VersionStatus     { return f.versions }
func (f fakeScaler) Instances() []scaler.InstanceStatus { return f.instances }

type fakeControl struct{}

func (fakeControl) CapacityProviders() []control.CapacityProvider {
	return []control.CapacityProvider{{Name: "cp", Scaling: control.CPScaling{MaxVCPU: 400}}, {Name: "empty", Scaling: control.CPScaling{MaxVCPU: 8}}}
}

func (fakeControl) GetFunction(name, qualifier string) (*control.FunctionDetails, error) {
	return &control.FunctionDetails{Config: control.Config{MemorySize: 2048}}, nil
}

type fakePool struct{}

func (fakePool) Stats() ondemand.Stats { return ondemand.Stats{EEs: 3, Idle: 2} }

func TestFleetGauges(t *testing.T) {
	src := Sources{
		Scaler: fakeScaler{
			versions: []scaler.VersionStatus{{Function: "f", Version: 1, CapacityProvider: "cp", Desired: 4, Live: 4, Ready: 3,
				InFlight: 5, Limit: 48, CPUPercent: 25, MemoryPercent: 10, ThrottlesMinute: map[string]int{"cpu": 2}}},
			instances: []scaler.InstanceStatus{
				{ID: "i-1", CapacityProvider: "cp", Type: "m7i.large", State: "Running", VCPUAllocated: 1, VCPUAvailable: 0.5, MemoryAllocatedMiB: 4096, MemoryAvailableMiB: 2048, CPUPercent: 50},
				{ID: "i-2", CapacityProvider: "cp", Type: "m7i.large", State: "Launching", VCPUAllocated: 0.5, VCPUAvailable: 1, MemoryAllocatedMiB: 2048, MemoryAvailableMiB: 4096},
			},
		},
		Control: fakeControl{}, Pool: fakePool{},
	}
	reg := New(src).Registry()
	fv := map[string]string{"function": "f", "version": "1", "capacity_provider": "cp"}
	with := func(m map[string]string, k, v string) map[string]string {
		out := map[string]string{k: v}
		for a, b := range m {
			out[a] = b
		}
		return out
	}
	cpType := map[string]string{"capacity_provider": "cp", "instance_type": "m7i.large"}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"paddock_execution_environments", with(fv, "state", "ready"), 3},
		{"paddock_execution_environments", with(fv, "state", "starting"), 1},
		{"paddock_execution_environments_desired", fv, 4},
		{"paddock_execution_environment_concurrency", fv, 5},
		{"paddock_execution_environment_concurrency_limit", fv, 48},
		{"paddock_execution_environment_cpu_utilization", fv, 0.25},
		{"paddock_execution_environment_memory_utilization", fv, 0.1},
		{"paddock_throttles_last_minute", with(fv, "cause", "cpu"), 2},
		{"paddock_throttles_last_minute", with(fv, "cause", "memory"), 0},
		{"paddock_capacity_provider_vcpu_allocated", cpType, 1.5},
		{"paddock_capacity_provider_vcpu_available", cpType, 1.5},
		{"paddock_capacity_provider_memory_allocated_bytes", cpType, 6144 << 20},
		{"paddock_capacity_provider_memory_available_bytes", cpType, 6144 << 20},
		{"paddock_capacity_provider_cpu_utilization", cpType, 0.25},
		// 10% of 3 EEs x 2048 MiB over 12288 MiB of instances.
		{"paddock_capacity_provider_memory_utilization", map[string]string{"capacity_provider": "cp"}, 0.05},
		{"paddock_capacity_provider_memory_utilization", map[string]string{"capacity_provider": "empty"}, 0},
		{"paddock_capacity_provider_max_vcpu", map[string]string{"capacity_provider": "empty"}, 8},
		{"paddock_instances", with(cpType, "state", "running"), 1},
		{"paddock_instances", with(cpType, "state", "launching"), 1},
		{"paddock_instance_cpu_utilization", map[string]string{"instance": "i-1"}, 0.5},
		{"paddock_default_mode_execution_environments", map[string]string{"state": "busy"}, 1},
		{"paddock_default_mode_execution_environments", map[string]string{"state": "idle"}, 2},
	} {
		if got := mustValue(t, reg, c.name, c.labels); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}

// The cost counters keep counting past the recorder's retention: what was
// folded stays, and a counter never goes down.
func TestCostCountersSurviveRetention(t *testing.T) {
	now := time.Now()
	rec := meter.New(now.Add(-10 * time.Minute))
	rec.Shape = func(fn string) (billing.FunctionMeter, bool) {
		return billing.FunctionMeter{Function: fn, Mode: billing.ModeLMI, CapacityProvider: "cp", MemoryMB: 2048, VCPUPerEE: 1, MaxConcurrency: 16}, true
	}
	rec.AddEESeconds(now.Add(-5*time.Minute), "f", 60)
	rec.AddEESeconds(now.Add(-4*time.Minute), "f", 60)
	rec.AddInstanceSeconds(now.Add(-5*time.Minute), "cp", "x86_64", "m7i.large", 120)
	rec.AddEESeconds(now, "f", 1.5)
	for range 3 {
		rec.Invoke("f", 10*time.Millisecond, false)
	}
	reg := New(Sources{Meter: rec, Prices: billing.DefaultPrices()}).Registry()
	f := map[string]string{"function": "f"}
	check := func(when string, ee, requests float64) {
		t.Helper()
		if got := mustValue(t, reg, "paddock_execution_environment_seconds_total", f); got != ee {
			t.Errorf("%s: EE seconds = %v, want %v", when, got, ee)
		}
		if got := mustValue(t, reg, "paddock_billed_requests_total", f); got != requests {
			t.Errorf("%s: requests = %v, want %v", when, got, requests)
		}
		if got := mustValue(t, reg, "paddock_billed_duration_seconds_total", f); got != requests*10/1000 {
			t.Errorf("%s: billed = %v, want %v", when, got, requests*10/1000)
		}
		if got := mustValue(t, reg, "paddock_instance_seconds_total", map[string]string{"capacity_provider": "cp", "instance_type": "m7i.large"}); got != 120 {
			t.Errorf("%s: instance seconds = %v, want 120", when, got)
		}
		if got := mustValue(t, reg, "paddock_cost_usd", map[string]string{"function": "f", "mode": "lmi"}); got <= 0 {
			t.Errorf("%s: cost = %v, want > 0", when, got)
		}
	}
	check("first scrape", 121.5, 3)
	rec.AddEESeconds(time.Now(), "f", 1)
	rec.Invoke("f", 10*time.Millisecond, false)
	check("second scrape", 122.5, 4)
	// A week later every bucket is gone: the folded minutes (all but the
	// last two) must still count, and the rest may not pull a counter down.
	rec.Flush(time.Now().Add(meter.Retention + 3*time.Minute))
	check("after retention", 122.5, 4)
}

func TestMetricNamesLint(t *testing.T) {
	rec := meter.New(time.Now().Add(-time.Minute))
	m := New(Sources{Scaler: fakeScaler{}, Control: fakeControl{}, Pool: fakePool{}, Meter: rec, Prices: billing.DefaultPrices()})
	m.ObserveInvoke(lambdaapi.InvokeRecord{Route: lmiRoute("f"), Invocation: &runtimeapi.Invocation{FunctionError: "Unhandled"}})
	m.ObserveInvoke(lambdaapi.InvokeRecord{Route: lmiRoute("f"), Throttled: "ConcurrentInvocationLimitExceeded"})
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "paddock_") {
			t.Errorf("%s: %s", p.Metric, p.Text)
		}
	}
}
