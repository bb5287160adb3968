package fleet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/paddockhq/paddock/internal/nethost"
)

// ProcessesConfig configures the local provider of a server.
type ProcessesConfig struct {
	AgentPath string // the paddock binary
	JoinURL   string // the engine, as the hosts reach it (nethost.Network.Anchor)
	JoinToken string
	DataDir   string // each instance's agent gets a directory under it
	Network   nethost.Network
	Timeout   time.Duration // for an agent to join; 0: a minute
	// Forget, when set, is told the host id of each instance stopped,
	// which no agent will use again (joinauth.Service.Forget).
	Forget func(host string)
	// RuntimeArgs are the server's runtime flags (--runtime-path,
	// --runtimes-dir), passed on: the agents run on this machine.
	RuntimeArgs []string
}

// Processes is the local provider of a server: each instance is a
// `paddock agent` process on this machine, in a network namespace of its
// own with an address of its own (package nethost), that joins the engine
// as an agent on another machine would. Its EEs are confined by the
// agent, within the host. (`paddock up` keeps its instances in process.)
type Processes struct {
	static *Static
	cfg    ProcessesConfig
	log    *slog.Logger

	mu    sync.Mutex
	procs map[string]*agentProcess // by host id (the instance id)
}

type agentProcess struct {
	host   *nethost.Host
	cmd    *exec.Cmd
	exited <-chan error
	dir    string
}

// NewProcesses returns the local provider whose instances join s.
func NewProcesses(s *Static, cfg ProcessesConfig) *Processes {
	if cfg.Timeout <= 0 {
		cfg.Timeout = time.Minute
	}
	return &Processes{static: s, cfg: cfg, log: slog.Default().With("role", "fleet", "provider", "local"), procs: map[string]*agentProcess{}}
}

// Name is "local".
func (p *Processes) Name() string { return "local" }

// Arch is this machine's: its agents run here.
func (p *Processes) Arch() string {
	if runtime.GOARCH == "arm64" {
		return "arm64"
	}
	return "x86_64"
}

// Launch starts an agent for instance id on a host of its own and waits
// for it to join.
func (p *Processes) Launch(ctx context.Context, id string, t InstanceType, cp string, notify func(Event)) (Host, error) {
	h, err := p.cfg.Network.New()
	if err != nil {
		return nil, fmt.Errorf("a host for instance %s: %w", id, err)
	}
	dir := filepath.Join(p.cfg.DataDir, id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		h.Close()
		return nil, err
	}
	logFile, err := os.OpenFile(filepath.Join(dir, "agent.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		h.Close()
		return nil, err
	}
	defer logFile.Close() // the child has its own descriptor
	args := append([]string{"agent", "--join", p.cfg.JoinURL, "--id", id, "--instance-type", t.Name,
		"--listen", h.Addr.String() + ":9402", "--data-dir", dir, "--provider", "local"}, p.cfg.RuntimeArgs...)
	cmd := exec.Command(p.cfg.AgentPath, args...)
	cmd.Env = append(os.Environ(), "PADDOCK_JOIN_TOKEN="+p.cfg.JoinToken) // not in argv, which ps shows
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// The agents go with the server: a server that dies leaves no instance.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	exited, err := h.Start(cmd)
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("start the agent of instance %s: %w", id, err)
	}
	proc := &agentProcess{host: h, cmd: cmd, exited: exited, dir: dir}
	p.mu.Lock()
	p.procs[id] = proc
	p.mu.Unlock()
	p.log.Info("instance started: waiting for its agent to join", "instance", id, "type", t.Name, "capacityProvider", cp, "address", h.Addr)
	wctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	joined, err := p.static.Await(wctx, id, id, t, cp, notify)
	if err != nil {
		p.stop(id)
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("the agent of instance %s did not join within %v (its log: %s)", id, p.cfg.Timeout, logFile.Name())
		}
		return nil, err
	}
	return joined, nil
}

// Terminate takes the EEs off the instance's host, then ends its agent
// and removes the host.
func (p *Processes) Terminate(h Host) {
	id := h.(*joinedHost).rec.ID
	p.static.Terminate(h)
	p.stop(id)
}

// stop ends the agent of instance id (SIGTERM, then SIGKILL after 10 s)
// and removes its host and directory.
func (p *Processes) stop(id string) {
	p.mu.Lock()
	proc := p.procs[id]
	delete(p.procs, id)
	p.mu.Unlock()
	if proc == nil {
		return
	}
	proc.cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck // it may have ended already
	select {
	case <-proc.exited:
	case <-time.After(10 * time.Second):
		proc.cmd.Process.Kill() //nolint:errcheck
		<-proc.exited
	}
	if err := proc.host.Close(); err != nil {
		p.log.Warn("remove an instance's host", "instance", id, "err", err)
	}
	os.RemoveAll(proc.dir) //nolint:errcheck // its code cache; nothing to keep
	if p.cfg.Forget != nil {
		p.cfg.Forget(id)
	}
	p.log.Info("instance stopped", "instance", id)
}

// Close ends every agent, for a server that stops.
func (p *Processes) Close() {
	p.mu.Lock()
	ids := make([]string, 0, len(p.procs))
	for id := range p.procs {
		ids = append(ids, id)
	}
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Go(func() { p.stop(id) })
	}
	wg.Wait()
}

// Adopt binds the instances a previous leader left (see Static.Adopt):
// the agents of this server's own earlier run went with it, so only
// hosts that still beat are kept.
func (p *Processes) Adopt(ctx context.Context, notify func(Event)) ([]Adopted, error) {
	return p.static.Adopt(ctx, notify)
}

// Release leaves the instances running (see Static.Release).
func (p *Processes) Release() { p.static.Release() }
