package main

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/paddockhq/paddock/internal/billing"
	"github.com/paddockhq/paddock/internal/lambdaapi"
)

// sampleMeters are a day of a small mixed fleet: an LMI API on cp1 (three
// m7i.large, with a burst that overflowed), an LMI worker sharing cp1, a
// default-mode arm64 thumbnailer, and cp2, created but never used.
func sampleMeters(since time.Time) billing.Meters {
	return billing.Meters{
		Since: since, Until: since.Add(24 * time.Hour),
		Functions: []billing.FunctionMeter{
			{Function: "api", Arch: "x86_64", Mode: billing.ModeLMI, CapacityProvider: "cp1", MemoryMB: 2048,
				Requests: 40_000_000, BilledMs: 40_000_000 * 120, EESeconds: 4 * 86400, VCPUPerEE: 1, MaxConcurrency: 16,
				OverflowRequests: 25_000, OverflowBilledMs: 25_000 * 150},
			{Function: "worker", Arch: "x86_64", Mode: billing.ModeLMI, CapacityProvider: "cp1", MemoryMB: 4096,
				Requests: 200_000, BilledMs: 200_000 * 2000, EESeconds: 3 * 86400, VCPUPerEE: 2, MaxConcurrency: 8},
			{Function: "thumbnail", Arch: "arm64", Mode: billing.ModeDefault, MemoryMB: 512,
				Requests: 300_000, BilledMs: 300_000 * 350, MaxConcurrency: 1},
		},
		CapacityProviders: []billing.CapacityProviderMeter{
			{Name: "cp1", Arch: "x86_64", InstanceSeconds: map[string]float64{"m7i.large": 3 * 86400, "m7i.xlarge": 2 * 86400}},
			{Name: "cp2", Arch: "arm64", InstanceSeconds: map[string]float64{"c7g.large": 3 * 86400}},
		},
	}
}

func TestRenderCost(t *testing.T) {
	prices := billing.DefaultPrices()
	prices.SavingsPlanDiscount = 0.3
	since := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var buf bytes.Buffer
	renderCost(&buf, billing.Compute(sampleMeters(since), prices))
	out := buf.String()
	t.Logf("paddock cost:\n%s", out)
	for _, want := range []string{
		"Bill from 2026-01-01 00:00:00 to 2026-01-02 00:00:00 UTC (24h0m0s)",
		"FUNCTION", "VERDICT",
		"lmi on cp1", "25,000", // api's overflowed invokes
		"thumbnail  default",
		"Capacity provider cp1 (x86_64)", "split among api, worker by allocated vCPU-seconds",
		"m7i.large", "m7i.xlarge", "72.00", // instance-hours
		"Capacity provider cp2 (arm64)", "no function had an EE on it: all of it is idle",
		"of which idle capacity providers",
		"savings plan: instances", "30% off",
		"25,000 of 40,500,000 invokes overflowed",
		"thumbnail: estimate:",
		"Prices:", "AWS Lambda pricing page", "AWS EC2 on-demand pricing",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	// A default-mode function has no instance, fee or overflow charge: the
	// cells say "-" rather than a misleading 0.
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "thumbnail ") && strings.Count(line, " - ") < 4 {
			t.Errorf("default-mode line should show - for overflowed, instances, fee and overflow: %q", line)
		}
	}
}

func TestRenderEmptyBill(t *testing.T) {
	var buf bytes.Buffer
	renderCost(&buf, billing.Compute(billing.Meters{}, billing.DefaultPrices()))
	if out := buf.String(); !strings.Contains(out, "No function ran in this period.") || !strings.Contains(out, "Total $0.0000") {
		t.Errorf("empty bill:\n%s", out)
	}
}

type fixedMeters struct{}

func (fixedMeters) Meters(since time.Time) billing.Meters { return sampleMeters(since) }

// The command end to end against the real handler, with fixed meters.
func TestCostCommand(t *testing.T) {
	api := lambdaapi.New(nil, nil, nil)
	api.HandleCost(fixedMeters{}, billing.DefaultPrices())
	srv := httptest.NewServer(api)
	defer srv.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKID")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")

	tests := []struct {
		name    string
		args    []string
		want    string
		wantErr string
	}{
		{"table", []string{"--since", "1h"}, "Capacity provider cp1", ""},
		{"json", []string{"--json"}, `"verdict": "`, ""},
		{"bad since", []string{"--since", "last week"}, "", "InvalidParameterValueException"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := costCommand()
			var out bytes.Buffer
			cmd.SetOut(&out)
			cmd.SetArgs(append([]string{"--endpoint", srv.URL}, tc.args...))
			err := cmd.Execute()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), tc.want) {
				t.Errorf("output lacks %q:\n%s", tc.want, out.String())
			}
			if tc.name == "json" && !json.Valid(out.Bytes()) {
				t.Errorf("--json printed invalid JSON")
			}
		})
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 40_500_000: "40,500,000", -1234: "-1,234"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}
