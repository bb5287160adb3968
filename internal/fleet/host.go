package fleet

import (
	"context"
	"time"

	"github.com/paddockhq/paddock/internal/agent"
	"github.com/paddockhq/paddock/internal/runtimeapi"
)

// Host is one running instance as the fleet loop drives it: an agent in
// this process, or the handle of one on another machine. The loop never
// needs to know which.
type Host interface {
	// Start begins starting an EE; its progress arrives as Events.
	Start(spec agent.Spec) EE
	// Stop drains ee and ends it; Stopped arrives as an Event.
	Stop(ee EE)
	// LastHeartbeat is when the instance last said it was alive.
	LastHeartbeat() time.Time
}

// EE is one execution environment as the fleet loop, the scaler and the
// router see it.
type EE interface {
	ID() string
	// Invoke and InFlight make an EE a router.Target.
	Invoke(ctx context.Context, inv *runtimeapi.Invocation) error
	InFlight() int
	// Usage and Completed feed the autoscaler.
	Usage() agent.Usage
	Completed() uint64
}

// Event is a state change of an EE.
type Event struct {
	EE      EE
	State   agent.State
	Failure *agent.Failure // set when State is Failed
}

// Offerer is a provider whose instance types are those it has (joined
// hosts): Offer narrows the types a capacity provider allows to them.
type Offerer interface {
	Offer(types []InstanceType) []InstanceType
}

// localHost is an agent of this process as a Host.
type localHost struct{ *agent.Agent }

func (h localHost) Start(spec agent.Spec) EE { return h.Agent.Start(spec) }

func (h localHost) Stop(ee EE) {
	if e, ok := ee.(*agent.EE); ok {
		h.Agent.Stop(e)
	}
}

// notifyEvents adapts a fleet notify callback to the agent's events.
func notifyEvents(notify func(Event)) func(agent.Event) {
	return func(ev agent.Event) { notify(Event{EE: ev.EE, State: ev.State, Failure: ev.Failure}) }
}
