package meter_test

import (
	"context"
	"testing"
	"time"

	"github.com/paddockhq/paddock/internal/billing"
	"github.com/paddockhq/paddock/internal/meter"
	"github.com/paddockhq/paddock/internal/metrics"
	"github.com/paddockhq/paddock/internal/store"
)

// The Prometheus counters stay "since this process started" when the
// recorder loaded earlier runs' meters: a restart reads as a reset, not as
// a jump by everything kept, while GET /paddock/v1/cost (Meters) has it all.
func TestPrometheusCountersStartOverAfterALoad(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	shape := func(fn string) (billing.FunctionMeter, bool) {
		return billing.FunctionMeter{Function: fn, Mode: billing.ModeDefault, MemoryMB: 128, MaxConcurrency: 1}, true
	}
	requests := func(rec *meter.Recorder) float64 {
		t.Helper()
		mfs, err := metrics.New(metrics.Sources{Meter: rec, Prices: billing.DefaultPrices()}).Registry().Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "paddock_billed_requests_total" {
				for _, m := range mf.GetMetric() {
					return m.GetCounter().GetValue()
				}
			}
		}
		return 0
	}

	st, err := store.OpenEmbedded(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	rec := meter.New(time.Now())
	rec.Shape = shape
	k, err := meter.Keep(ctx, st, rec)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		rec.Invoke("f", 10*time.Millisecond, false)
	}
	k.Close()
	st.Close()

	st, err = store.OpenEmbedded(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rec = meter.New(time.Now())
	rec.Shape = shape
	k, err = meter.Keep(ctx, st, rec)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	for range 2 {
		rec.Invoke("f", 10*time.Millisecond, false)
	}
	if m := rec.Meters(time.Now().Add(-time.Hour)); len(m.Functions) != 1 || m.Functions[0].Requests != 7 {
		t.Fatalf("meters after restart %+v, want 7 requests", m.Functions)
	}
	if got := requests(rec); got != 2 {
		t.Fatalf("paddock_billed_requests_total after restart = %v, want the 2 since it", got)
	}
}
