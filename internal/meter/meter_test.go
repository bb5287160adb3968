package meter

import (
	"sync"
	"testing"
	"time"

	"github.com/paddockhq/paddock/internal/billing"
)

func TestRecorderSumsWhatWasRecorded(t *testing.T) {
	now := time.Now()
	r := New(now.Add(-time.Hour))
	r.Shape = func(fn string) (billing.FunctionMeter, bool) {
		if fn == "api" {
			return billing.FunctionMeter{Mode: billing.ModeLMI, Arch: "x86_64", MemoryMB: 2048, CapacityProvider: "cp1", VCPUPerEE: 1}, true
		}
		return billing.FunctionMeter{Mode: billing.ModeDefault, Arch: "arm64", MemoryMB: 128}, true
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				r.Invoke("api", 1500*time.Microsecond, i%10 == 0) // billed 2 ms each
				r.Invoke("job", 100*time.Millisecond, false)
			}
		}()
	}
	wg.Wait()
	r.AddEESeconds(now.Add(-30*time.Minute), "api", 180)
	r.AddInstanceSeconds(now.Add(-30*time.Minute), "cp1", "x86_64", "m7i.large", 3600)

	m := r.Meters(now.Add(-2 * time.Hour))
	if len(m.Functions) != 2 || len(m.CapacityProviders) != 1 {
		t.Fatalf("meters %+v", m)
	}
	api, job := m.Functions[0], m.Functions[1]
	if api.Requests != 8000 || api.BilledMs != 16000 || api.OverflowRequests != 800 || api.OverflowBilledMs != 1600 || api.EESeconds != 180 || api.Mode != billing.ModeLMI {
		t.Errorf("api meter %+v", api)
	}
	if job.Requests != 8000 || job.BilledMs != 800000 || job.Mode != billing.ModeDefault || job.Arch != "arm64" {
		t.Errorf("job meter %+v", job)
	}
	if s := m.CapacityProviders[0].InstanceSeconds["m7i.large"]; s != 3600 {
		t.Errorf("instance seconds %v", s)
	}
	if !m.Since.Equal(now.Add(-time.Hour)) {
		t.Errorf("Since %v, want the recorder's start", m.Since)
	}
	// A later window leaves the earlier minutes out.
	if later := r.Meters(now.Add(time.Minute)); len(later.CapacityProviders) != 0 || len(later.Functions) != 0 {
		t.Errorf("meters after now: %+v", later)
	}
}
