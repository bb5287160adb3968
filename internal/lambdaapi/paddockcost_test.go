package lambdaapi

import (
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/paddockhq/paddock/internal/billing"
)

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{"", now.Add(-24 * time.Hour), false},
		{"1h", now.Add(-time.Hour), false},
		{"90m", now.Add(-90 * time.Minute), false},
		{"2026-01-01T00:00:00Z", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{"2026-01-02T13:00:00+02:00", time.Date(2026, 1, 2, 11, 0, 0, 0, time.UTC), false},
		{"0s", time.Time{}, true},
		{"-1h", time.Time{}, true},
		{"7d", now.AddDate(0, 0, -7), false},
		{"1d", now.Add(-24 * time.Hour), false},
		{"0d", time.Time{}, true},
		{"-2d", time.Time{}, true},
		{"xd", time.Time{}, true},
		{"2026-01-03T00:00:00Z", time.Time{}, true}, // in the future
		{"yesterday", time.Time{}, true},
	}
	for _, tc := range tests {
		got, err := parseSince(tc.in, now)
		if (err != nil) != tc.wantErr || !got.Equal(tc.want) {
			t.Errorf("parseSince(%q) = %v, %v; want %v (error %v)", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

// fakeMeters records the since it was asked for and answers fixed meters:
// one LMI function on one m7i.large for an hour.
type fakeMeters struct{ asked time.Time }

func (f *fakeMeters) Meters(since time.Time) billing.Meters {
	f.asked = since
	return billing.Meters{
		Since: since, Until: since.Add(time.Hour),
		Functions: []billing.FunctionMeter{{Function: "api", Arch: "x86_64", Mode: billing.ModeLMI, CapacityProvider: "cp1",
			MemoryMB: 2048, Requests: 1_000_000, BilledMs: 100_000_000, EESeconds: 3600, VCPUPerEE: 1}},
		CapacityProviders: []billing.CapacityProviderMeter{{Name: "cp1", Arch: "x86_64", InstanceSeconds: map[string]float64{"m7i.large": 3600}}},
	}
}

func TestCostRoute(t *testing.T) {
	src := &fakeMeters{}
	a := New(nil, nil, nil) // the cost route needs neither control plane nor router
	prices := billing.DefaultPrices()
	prices.SavingsPlanDiscount = 0.3
	a.HandleCost(src, prices)
	srv := httptest.NewServer(a)
	defer srv.Close()

	tests := []struct {
		since     string
		status    int
		errorType string
		ago       time.Duration // how far back the source was asked for
	}{
		{"", http.StatusOK, "", 24 * time.Hour},
		{"1h", http.StatusOK, "", time.Hour},
		{"1 hour", http.StatusBadRequest, "InvalidParameterValueException", 0},
	}
	for _, tc := range tests {
		t.Run(tc.since, func(t *testing.T) {
			u := srv.URL + "/paddock/v1/cost"
			if tc.since != "" {
				u += "?since=" + url.QueryEscape(tc.since)
			}
			before := time.Now()
			resp, err := http.Get(u)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tc.status || resp.Header.Get("X-Amzn-ErrorType") != tc.errorType {
				t.Fatalf("%d %q, want %d %q", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), tc.status, tc.errorType)
			}
			if tc.status != http.StatusOK {
				return
			}
			if d := before.Sub(src.asked) - tc.ago; d > time.Second || d < -time.Second {
				t.Errorf("source asked for %v, %v before the request; want %v", src.asked, before.Sub(src.asked), tc.ago)
			}
			var b billing.Bill
			if err := json.NewDecoder(resp.Body).Decode(&b); err != nil {
				t.Fatal(err)
			}
			// $0.20 requests + $0.1008 x 0.7 instance + $0.01512 fee: the
			// server's savings plan is applied.
			if len(b.Functions) != 1 || math.Abs(b.Totals.Total-0.28568) > 1e-9 || b.Prices.SavingsPlanDiscount != 0.3 {
				t.Errorf("bill %+v", b)
			}
		})
	}
}
