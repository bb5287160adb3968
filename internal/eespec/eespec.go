// Package eespec turns a function version's configuration into the spec
// of an execution environment, the one place both compute modes (the
// scaler's LMI EEs and the on-demand pool's) start EEs from.
package eespec

import (
	"crypto/rand"
	"encoding/hex"
	"time"

	"github.com/paddockhq/paddock/internal/agent"
	"github.com/paddockhq/paddock/internal/control"
)

// For returns the spec of a new EE of function at version, with a fresh ID.
func For(c *control.Config, function, version, region string) agent.Spec {
	s := agent.Spec{
		ID:             "ee-" + randomHex(8),
		FunctionName:   function,
		Version:        version,
		Runtime:        c.Runtime,
		Handler:        c.Handler,
		MemoryMB:       c.MemorySize,
		MaxConcurrency: c.MaxConcurrency(),
		Timeout:        time.Duration(c.Timeout) * time.Second,
		CodeSHA256Hex:  control.CodeHex(c.CodeSHA256),
		Env:            c.Env,
		Region:         region,
		LogFormat:      c.LogFormat,
		AppLogLevel:    c.AppLogLevel,
		Layers:         c.LayerCode(),
	}
	if c.LMI != nil {
		s.MilliCPU = c.VCPUMilli() // the EE's CPU quota
	}
	return s
}

func randomHex(n int) string {
	b := make([]byte, (n+1)/2)
	rand.Read(b) //nolint:errcheck // never fails on Linux
	return hex.EncodeToString(b)[:n]
}
