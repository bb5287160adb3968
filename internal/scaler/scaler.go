// Package scaler decides how many execution environments each function
// version should have, and its Loop carries the decisions out: it places
// EEs on instances, launches instances when they do not fit, starts and
// stops EEs through the agents, and moves versions through their states.
//
// The decisions are pure functions of numbers (and later a clock), so every
// scenario is a table test and the simulator can reuse them.
package scaler

import "fmt"

// Input is what the decision needs to know about one version.
type Input struct {
	State  string // the version's state
	MinEEs int
	MaxEEs int // -1: none
}

// Decision is a desired EE count with the reason, shown by status.
type Decision struct {
	Desired int
	Why     string
}

// Desire returns how many EEs a version should have.
func Desire(in Input) Decision {
	switch in.State {
	case "Failed":
		return Decision{0, "version failed to initialize"}
	case "Deactivating", "Deactivated":
		return Decision{0, "version deactivated (min = max = 0)"}
	}
	d := in.MinEEs
	if in.MaxEEs >= 0 && d > in.MaxEEs {
		d = in.MaxEEs
	}
	return Decision{d, fmt.Sprintf("minimum %d execution environments", d)}
}
