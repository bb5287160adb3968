// Package agent runs execution environments on one instance: it fetches and
// caches code, starts each EE's runtime process with its Runtime API, watches
// it through init, serving and shutdown, and reports every state change.
package agent

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/paddockhq/paddock/internal/runtimeapi"
	"github.com/paddockhq/paddock/internal/runtimes"
	"github.com/paddockhq/paddock/internal/sandbox"
)

// logger is the agent role's logger, built from the default logger when a
// line is written, so lines go through the handler `up` installs.
func logger() *slog.Logger { return slog.Default().With("role", "agent") }

// DefaultInitTimeout bounds the init phase, as Lambda's 10 s.
const DefaultInitTimeout = 10 * time.Second

// OutputSink receives every line an EE prints (stdout or stderr). It must
// not block for long: it runs on the EE's output reader.
type OutputSink interface {
	Line(ee *EE, stream string, at time.Time, text string)
}

// Agent runs the EEs of one instance.
type Agent struct {
	// Output, when set before the first Start, receives the EEs' output.
	Output OutputSink
	// Sandbox confines each EE started after it is set (see package
	// sandbox). New sets it to what the host allows; nil runs EEs
	// unconfined, as Paddock's own user.
	Sandbox *sandbox.Caps
	// Runtimes is the managed runtimes this host runs (nil: custom
	// runtimes only).
	Runtimes *runtimes.Host

	instance string
	cache    *CodeCache
	notify   func(Event)

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu  sync.Mutex
	ees map[string]*EE

	heartbeat atomic.Int64 // unix nanoseconds of the last beat
	frozen    atomic.Bool
}

// HeartbeatInterval is how often an agent says it is alive.
const HeartbeatInterval = 500 * time.Millisecond

// New returns the agent of instance. notify is called (from the agent's
// goroutines, never concurrently for one EE) on every EE state change.
func New(instance string, cache *CodeCache, notify func(Event)) *Agent {
	ctx, cancel := context.WithCancel(context.Background())
	a := &Agent{instance: instance, cache: cache, notify: notify, ctx: ctx, cancel: cancel, ees: make(map[string]*EE),
		Sandbox: hostSandbox(cache)}
	a.heartbeat.Store(time.Now().UnixNano())
	a.wg.Add(1)
	go a.beat()
	return a
}

// hostSandbox is the sandbox this host allows (probed once per process,
// and what it lacks logged once), with EE directories next to the code
// cache, under the data dir.
func hostSandbox(cache *CodeCache) *sandbox.Caps {
	caps, _ := sandbox.Require(false) // never fails when not strict
	if cache != nil {
		data := filepath.Dir(cache.dir)
		caps.Dir = filepath.Join(data, "sandbox")
		if caps.Users && !caps.MountNamespace {
			// Without a mount namespace the EEs' users reach their directories
			// through the data dir: let them search it (not list it), since
			// everything in it is closed to them (the engine's files, the code
			// cache, each other EE's directory).
			if st, err := os.Stat(data); err == nil && st.Mode().Perm()&0o011 != 0o011 {
				os.Chmod(data, st.Mode().Perm()|0o011) //nolint:errcheck // Prepare says if they cannot reach it
			}
		}
	}
	return &caps
}

// beat records a heartbeat every interval until the agent closes. (Across
// machines the beat is a message; in one process the owner reads it.)
func (a *Agent) beat() {
	defer a.wg.Done()
	t := time.NewTicker(HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case now := <-t.C:
			if !a.frozen.Load() {
				a.heartbeat.Store(now.UnixNano())
			}
		case <-a.ctx.Done():
			return
		}
	}
}

// LastHeartbeat is when the agent last said it was alive.
func (a *Agent) LastHeartbeat() time.Time { return time.Unix(0, a.heartbeat.Load()) }

// Freeze makes the instance stop answering, as a hung or partitioned
// machine does: no more heartbeats, and every EE process stopped (SIGSTOP)
// so it neither answers nor exits. It exists to test that Paddock replaces
// lost instances; Close still ends everything.
func (a *Agent) Freeze() {
	a.frozen.Store(true)
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, e := range a.ees {
		e.signal(syscall.SIGSTOP)
	}
}

// Start begins starting an EE and returns at once; its progress arrives as
// Events: Initializing, then Ready or Failed.
func (a *Agent) Start(spec Spec) *EE {
	if spec.InitTimeout == 0 {
		spec.InitTimeout = DefaultInitTimeout
	}
	if spec.MaxConcurrency < 1 {
		spec.MaxConcurrency = 1
	}
	e := &EE{Spec: spec, Instance: a.instance, logs: newLogRing(), exited: make(chan struct{}), stopReq: make(chan struct{}), output: a.Output}
	a.mu.Lock()
	a.ees[spec.ID] = e
	a.mu.Unlock()
	a.wg.Add(1)
	go a.run(e)
	return e
}

// Stop drains e (no new invokes, in-flight ones finish), then ends its
// process. It returns at once; Stopped arrives as an Event.
func (a *Agent) Stop(e *EE) {
	e.stopOnce.Do(func() { close(e.stopReq) })
}

// Close stops every EE of the agent and waits until their processes are gone.
func (a *Agent) Close() {
	a.cancel()
	a.wg.Wait()
}

func (a *Agent) set(e *EE, s State, f *Failure) {
	e.state.Store(int32(s))
	if f != nil {
		logger().Info("execution environment failed", "ee", e.Spec.ID, "function", e.Spec.FunctionName,
			"version", e.Spec.Version, "code", f.Code, "reason", f.Message)
	} else {
		logger().Debug("execution environment", "ee", e.Spec.ID, "state", s.String())
	}
	if a.notify != nil {
		a.notify(Event{EE: e, State: s, Failure: f})
	}
}

func (a *Agent) forget(e *EE) {
	a.mu.Lock()
	delete(a.ees, e.Spec.ID)
	a.mu.Unlock()
}

// run owns one EE from start to end.
// files finds what spec's runtime reads: its code, its layers merged, its
// managed runtime's interpreter and client.
func (a *Agent) files(spec Spec) (files, *Failure) {
	var ef files
	if _, managed := runtimes.Lookup(spec.Runtime); managed {
		// Anything else runs a bootstrap from the code: provided.*, and an
		// empty Runtime (tests' specs).
		res, err := a.Runtimes.Lookup(spec.Runtime)
		if err != nil {
			return files{}, &Failure{"InvalidRuntime", err.Error()}
		}
		ef.runtime = res
	}
	var err error
	if ef.code, err = a.cache.Dir(a.ctx, spec.CodeSHA256Hex); err != nil {
		return files{}, &Failure{"InvalidZipFileException", err.Error()}
	}
	if len(spec.Layers) > 0 {
		if ef.opt, err = a.cache.LayersDir(a.ctx, spec.Layers); err != nil {
			return files{}, &Failure{"InvalidZipFileException", err.Error()}
		}
	}
	return ef, nil
}

func (a *Agent) run(e *EE) {
	defer a.wg.Done()
	defer a.forget(e)
	fail := func(f *Failure) {
		if e.srv != nil {
			e.srv.Close(runtimeapi.ErrorTypeExit)
		}
		e.stop()
		a.set(e, Failed, f)
	}

	ef, f := a.files(e.Spec)
	if f != nil {
		if a.ctx.Err() != nil {
			a.set(e, Stopped, nil)
			return
		}
		fail(f)
		return
	}
	// Whatever way run ends, the sandbox goes (stop releases it too, once
	// the process is reaped; this catches any path that did not stop).
	defer e.releaseSandbox()
	sb, f := e.sandbox(ef, a.Sandbox)
	if f != nil {
		fail(f)
		return
	}
	// The Runtime API listens in the EE's own network namespace when it
	// has one, else on the host's loopback.
	var srv *runtimeapi.Server
	var err error
	if ln := sb.Listener(); ln != nil {
		srv = runtimeapi.NewServerOn(ln, e.Spec.MaxConcurrency)
	} else if srv, err = runtimeapi.NewServer(e.Spec.MaxConcurrency); err != nil {
		fail(&Failure{"InternalError", "start runtime API: " + err.Error()})
		return
	}
	e.srv = srv
	if err := e.spawn(ef, sb); err != nil {
		f, ok := err.(*Failure)
		if !ok {
			f = &Failure{"InternalError", err.Error()}
		}
		fail(f)
		return
	}
	a.set(e, Initializing, nil)

	initTimer := time.NewTimer(e.Spec.InitTimeout)
	defer initTimer.Stop()
	select {
	case <-srv.Ready():
		e.initDur.Store(int64(time.Since(e.started)))
		a.set(e, Ready, nil)
	case ie := <-srv.InitErrors():
		fail(&Failure{"FunctionError.RuntimeInitError", initErrorMessage(ie)})
		return
	case <-e.exited:
		reason := e.exitDescription()
		if e.oomKilled() {
			reason = fmt.Sprintf("%s: the function used more than its %d MB of memory during init", runtimeapi.ErrorTypeOutOfMemory, e.Spec.MemoryMB)
		}
		fail(&Failure{"FunctionError.RuntimeInitError", reason + lastLines(e)})
		return
	case <-initTimer.C:
		fail(&Failure{"FunctionError.InitTimeout",
			"The runtime did not poll for work within " + e.Spec.InitTimeout.String() + " of starting."})
		return
	case <-e.stopReq:
		a.shutdown(e)
		return
	case <-a.ctx.Done():
		a.shutdown(e)
		return
	}

	// Serving: until the process exits, the EE is stopped, or it uses more
	// memory than the function has. With a memory cgroup the kernel
	// enforces the limit; without one, a watchdog does.
	var watchC <-chan time.Time
	if sb := e.sb.Load(); sb == nil || !sb.MemoryEnforced() {
		watch := time.NewTicker(memoryWatchInterval)
		defer watch.Stop()
		watchC = watch.C
	}
	for {
		select {
		case <-e.exited:
			if e.oomKilled() { // read before stop removes the cgroup that counted the kill
				a.died(e, runtimeapi.ErrorTypeOutOfMemory, fmt.Sprintf(
					"Runtime exited: the function used more than its %d MB of memory and was killed", e.Spec.MemoryMB))
				return
			}
			a.died(e, runtimeapi.ErrorTypeExit, e.exitDescription()+lastLines(e))
			return
		case <-watchC:
			if over := e.overMemory(); over != "" {
				e.signal(syscall.SIGKILL)
				<-e.exited
				a.died(e, runtimeapi.ErrorTypeOutOfMemory, over)
				return
			}
		case <-srv.Stuck():
			// Every worker holds an invoke it will not answer: the EE can
			// run nothing more, so it is replaced like one that died.
			e.signal(syscall.SIGKILL)
			<-e.exited
			a.died(e, runtimeapi.ErrorTypeExit, fmt.Sprintf(
				"Runtime stuck: all %d workers held invokes past their deadlines without answering", e.Spec.MaxConcurrency))
			return
		case <-e.stopReq:
			a.drain(e)
			a.shutdown(e)
			return
		case <-a.ctx.Done():
			a.shutdown(e)
			return
		}
	}
}

// died fails a serving EE whose runtime is gone, and its in-flight invokes
// with errorType. The order matters: no new invoke is admitted, the EE is
// cleaned up and reported Failed, and only then do the in-flight invokes
// get their answer, so their caller (the on-demand pool) never takes the
// dead EE back as idle.
func (a *Agent) died(e *EE, errorType, reason string) {
	e.srv.Slots().Drain()
	e.stop() // reap any children left, and release the sandbox
	a.set(e, Failed, &Failure{errorType, reason})
	e.srv.Close(errorType)
}

// memoryWatchInterval is how often an EE's memory is checked against its limit.
const memoryWatchInterval = 100 * time.Millisecond

// overMemory describes the EE's memory overuse, or returns "". It is the
// fallback for EEs without a memory cgroup (where the kernel enforces it).
func (e *EE) overMemory() string {
	if e.Spec.MemoryMB <= 0 {
		return ""
	}
	if sb := e.sb.Load(); sb != nil && sb.MemoryEnforced() {
		return ""
	}
	if e.cmd == nil || e.cmd.Process == nil {
		return ""
	}
	if rss, limit := readRSS(e.cmd.Process.Pid), int64(e.Spec.MemoryMB)<<20; rss > limit {
		return fmt.Sprintf("Runtime exited: the function used %d MB, more than its %d MB of memory", rss>>20, e.Spec.MemoryMB)
	}
	return ""
}

// drain refuses new invokes and waits for those in flight to finish (each is
// bounded by its own deadline).
func (a *Agent) drain(e *EE) {
	a.set(e, Draining, nil)
	e.srv.Slots().Drain()
	deadline := time.NewTimer(e.Spec.Timeout + ShutdownGrace)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for e.srv.Slots().InFlight() > 0 {
		select {
		case <-tick.C:
		case <-deadline.C:
			return
		case <-e.exited:
			return
		case <-a.ctx.Done():
			return
		}
	}
}

func (a *Agent) shutdown(e *EE) {
	if e.srv != nil {
		e.srv.Slots().Drain()
	}
	e.stop()
	if e.srv != nil {
		e.srv.Close(runtimeapi.ErrorTypeExit)
	}
	a.set(e, Stopped, nil)
}

func initErrorMessage(ie runtimeapi.InitError) string {
	msg := strings.TrimSpace(string(ie.Body))
	if ie.Type != "" {
		return ie.Type + ": " + msg
	}
	return msg
}

// lastLines adds the runtime's last output lines to a failure reason, since
// that is usually where it said why.
func lastLines(e *EE) string {
	lines := e.logs.last(5)
	if len(lines) == 0 {
		return ""
	}
	return ": " + strings.Join(lines, " | ")
}
