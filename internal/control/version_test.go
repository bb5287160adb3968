package control

import (
	"testing"
	"time"
)

// TestChangedSince: the "changed since the last version" comparison of
// PublishVersion. AWS, PublishVersion (API reference; botocore
// data/lambda/2015-03-31/service-2.json): "Lambda doesn't publish a version if
// the function's configuration and code haven't changed since the last
// version"; PublishVersion's Description is "A description for the version to
// override the description in the function configuration", so not compared.
func TestChangedSince(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	base := Config{FunctionName: "f", Version: Latest, Runtime: "provided.al2023", Role: "r", Handler: "bootstrap",
		Timeout: 3, MemorySize: 2048, Architecture: "x86_64", CodeSHA256: "abc", CodeSize: 10,
		Description: "d0", LastModified: t0, RevisionID: "r0", State: StateActiveNonInvocable, LastUpdateStatus: "Successful"}
	// ver is version 1 published from base at t0+1s, with an optional override description.
	ver := func(desc string) Config {
		v := base
		v.Version, v.RevisionID, v.LastModified, v.State = "1", "r1", t0.Add(time.Second), StateActive
		if desc != "" {
			v.Description = desc
		}
		return v
	}
	later := func(f func(*Config)) Config {
		c := base
		c.LastModified, c.RevisionID = t0.Add(2*time.Second), "r2"
		f(&c)
		return c
	}
	cases := []struct {
		name    string
		version Config
		latest  Config
		want    bool
	}{
		{"unchanged", ver(""), base, false},
		{"unchanged, version has an override description", ver("release notes"), base, false},
		{"updated with the same values", ver(""), later(func(*Config) {}), false},
		{"description changed on $LATEST", ver(""), later(func(c *Config) { c.Description = "d1" }), true},
		{"description changed on $LATEST after an override", ver("notes"), later(func(c *Config) { c.Description = "d1" }), true},
		{"code changed", ver(""), later(func(c *Config) { c.CodeSHA256 = "def" }), true},
		{"memory changed", ver(""), later(func(c *Config) { c.MemorySize = 4096 }), true},
		{"timeout changed", ver(""), later(func(c *Config) { c.Timeout = 9 }), true},
		{"environment changed", ver(""), later(func(c *Config) { c.Env = map[string]string{"A": "1"} }), true},
		{"capacity provider settings changed", ver(""), later(func(c *Config) { c.LMI = &LMIConfig{CapacityProviderARN: "cp", MaxConcurrency: 4} }), true},
		{"only state and revision differ", ver(""), later(func(c *Config) { c.State, c.LastUpdateStatus = StatePending, "InProgress" }), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := changedSince(tc.version, tc.latest); got != tc.want {
				t.Fatalf("changedSince = %v, want %v", got, tc.want)
			}
		})
	}
}
