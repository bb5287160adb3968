package fleet

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/paddockhq/paddock/internal/agent"
	"github.com/paddockhq/paddock/internal/runtimes"
)

// Provider launches and terminates instances. An instance is ready when
// Launch returns its agent.
type Provider interface {
	// Name is the provider's name in status and logs ("local").
	Name() string
	// Arch is the architecture of the instances this provider can launch;
	// empty means any.
	Arch() string
	// Launch brings up an instance of type t for a capacity provider and
	// returns it once it runs; it reports its EEs' state changes to notify.
	Launch(ctx context.Context, id string, t InstanceType, capacityProvider string, notify func(Event)) (Host, error)
	// Terminate stops every EE of the instance and releases it.
	Terminate(h Host)
}

// Local launches instances as members of this process: each gets an agent
// whose EEs are real processes on this machine, with the capacity of its
// instance type as a budget. It offers the host's architecture only.
type Local struct {
	Cache       *agent.CodeCache
	LaunchDelay time.Duration    // emulates EC2's boot time
	Output      agent.OutputSink // receives the EEs' output lines, if set
	Runtimes    *runtimes.Host   // the managed runtimes the instances run

	mu     sync.Mutex
	agents map[string]*agent.Agent
}

// Name is "local".
func (l *Local) Name() string { return "local" }

// Arch is the host's architecture in AWS spelling.
func (l *Local) Arch() string { return HostArch() }

// Launch waits the launch delay, then starts the instance's agent.
func (l *Local) Launch(ctx context.Context, id string, t InstanceType, _ string, notify func(Event)) (Host, error) {
	if l.LaunchDelay > 0 {
		timer := time.NewTimer(l.LaunchDelay)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	a := agent.New(id, l.Cache, notifyEvents(notify))
	a.Output = l.Output
	a.Runtimes = l.Runtimes
	l.mu.Lock()
	if l.agents == nil {
		l.agents = map[string]*agent.Agent{}
	}
	l.agents[id] = a
	l.mu.Unlock()
	return localHost{a}, nil
}

// Terminate stops the agent's EEs and waits for their processes to end.
func (l *Local) Terminate(h Host) {
	a := h.(localHost).Agent
	a.Close()
	l.mu.Lock()
	for id, b := range l.agents {
		if b == a {
			delete(l.agents, id)
		}
	}
	l.mu.Unlock()
}

// Freeze makes instance id hang (see agent.Agent.Freeze): a fault to
// inject when testing that lost instances are replaced.
func (l *Local) Freeze(id string) error {
	l.mu.Lock()
	a := l.agents[id]
	l.mu.Unlock()
	if a == nil {
		return fmt.Errorf("no running instance %s", id)
	}
	a.Freeze()
	return nil
}

// HostArch is this machine's architecture as AWS names it.
func HostArch() string {
	if runtime.GOARCH == "arm64" {
		return ArchARM64
	}
	return ArchX86_64
}
