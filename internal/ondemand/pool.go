// Package ondemand runs Lambda's default compute mode: one request per
// execution environment, EEs started when a request finds none idle (a
// cold start), kept warm for reuse, stopped after an idle timeout, and
// bounded by the account's and each function's concurrency.
package ondemand

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paddockhq/paddock/internal/agent"
	"github.com/paddockhq/paddock/internal/control"
	"github.com/paddockhq/paddock/internal/eespec"
	"github.com/paddockhq/paddock/internal/runtimeapi"
)

// Throttle errors, with Lambda's Reason for each.
var (
	ErrAccountLimit  = errors.New("ConcurrentInvocationLimitExceeded")
	ErrReservedLimit = errors.New("ReservedFunctionConcurrentInvocationLimitExceeded")
)

// DefaultIdleTimeout is how long an idle EE is kept warm.
const DefaultIdleTimeout = 10 * time.Minute

// Pool is the platform's on-demand EEs.
type Pool struct {
	ctl         *control.Service
	agent       *agent.Agent
	IdleTimeout time.Duration
	log         *slog.Logger

	mu         sync.Mutex
	unreserved int            // invokes running for functions without a reservation
	byFunction map[string]int // invokes running per function
	idle       map[string][]*warm
	all        map[*agent.EE]*warm

	coldStarts atomic.Uint64
	overflowed atomic.Uint64
	initNanos  atomic.Int64
	background sync.WaitGroup // goroutines that wait on an EE for an abandoned invoke
}

// warm is one EE of the pool.
type warm struct {
	ee          *agent.EE
	key         string
	lastUsed    time.Time
	provisioned string              // "function:qualifier" of the config it serves, or ""
	ready       chan *agent.Failure // the outcome of its start: nil when ready
}

// New returns a pool whose EEs run on a (the platform's own) instance
// agent built by newAgent with the pool's event callback.
func New(ctl *control.Service, newAgent func(notify func(agent.Event)) *agent.Agent) *Pool {
	p := &Pool{ctl: ctl, IdleTimeout: DefaultIdleTimeout, log: slog.Default().With("role", "ondemand"),
		byFunction: map[string]int{}, idle: map[string][]*warm{}, all: map[*agent.EE]*warm{}}
	p.agent = newAgent(p.notify)
	return p
}

// Run reaps idle EEs and keeps provisioned concurrency warm until ctx ends,
// then stops every EE.
func (p *Pool) Run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	defer p.background.Wait() // after Close: every EE has reported its end
	defer p.agent.Close()
	for {
		p.reap(time.Now())
		p.provision()
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

// notify receives the agent's EE events.
func (p *Pool) notify(ev agent.Event) {
	p.mu.Lock()
	w := p.all[ev.EE]
	p.mu.Unlock()
	if w == nil {
		return
	}
	switch ev.State {
	case agent.Ready:
		select {
		case w.ready <- nil:
		default:
		}
	case agent.Failed, agent.Stopped:
		p.mu.Lock()
		delete(p.all, ev.EE)
		p.removeIdle(w)
		p.mu.Unlock()
		f := ev.Failure
		if f == nil {
			f = &agent.Failure{Code: "Runtime.ExitError", Message: "execution environment stopped"}
		}
		select {
		case w.ready <- f: // a cold start waiting on it
		default:
		}
	}
}

// removeIdle drops w from its idle list. Under p.mu.
func (p *Pool) removeIdle(w *warm) {
	list := p.idle[w.key]
	for i, x := range list {
		if x == w {
			p.idle[w.key] = append(list[:i], list[i+1:]...)
			return
		}
	}
}

// Result says how an invoke ran.
type Result struct {
	EE           *agent.EE
	Cold         bool
	InitDuration time.Duration
}

// Invoke runs inv on an idle EE of route's version, or starts one.
func (p *Pool) Invoke(ctx context.Context, route *control.Route, inv *runtimeapi.Invocation) (Result, error) {
	if err := p.admit(route); err != nil {
		return Result{}, err
	}
	defer p.release(route)

	w, cold := p.take(route)
	res := Result{Cold: cold}
	if cold {
		select {
		case f := <-w.ready:
			if f != nil {
				inv.FunctionError, inv.ErrorType = "Unhandled", f.Code
				inv.Response = errorJSON(f.Code, f.Message)
				return res, nil
			}
		case <-ctx.Done():
			// Keep the EE: it joins the pool when ready.
			p.background.Add(1)
			go func() { defer p.background.Done(); p.adoptWhenReady(w) }()
			return res, ctx.Err()
		}
		p.coldStarts.Add(1)
		res.InitDuration = w.ee.InitDuration()
		p.initNanos.Add(int64(res.InitDuration))
	}
	res.EE = w.ee
	err := w.ee.Invoke(ctx, inv)
	switch {
	case inv.ErrorType == runtimeapi.ErrorTypeTimeout:
		// Lambda resets an EE whose invoke timed out.
		p.drop(w)
	case err != nil:
		// The caller left while the EE works: it rejoins once idle.
		p.background.Add(1)
		go func() { defer p.background.Done(); p.returnWhenIdle(w) }()
	default:
		p.put(w)
	}
	if errors.Is(err, runtimeapi.ErrClosed) {
		inv.FunctionError, inv.ErrorType = "Unhandled", runtimeapi.ErrorTypeExit
		inv.Response = errorJSON(runtimeapi.ErrorTypeExit, "the execution environment stopped")
		return res, nil
	}
	return res, err
}

// InvokeOverflow runs an invoke that an LMI version's EEs refused on an
// on-demand EE instead (burst overflow): one request per EE, in the
// account's unreserved concurrency, billed by the GB-second.
func (p *Pool) InvokeOverflow(ctx context.Context, route *control.Route, inv *runtimeapi.Invocation) (Result, error) {
	r := *route
	c := *route.Config
	c.LMI = nil // on-demand semantics: one request per EE
	r.Config, r.Key, r.Reserved = &c, route.Key+"/overflow", -1
	res, err := p.Invoke(ctx, &r, inv)
	if err == nil {
		p.overflowed.Add(1)
	}
	return res, err
}

// admit takes a unit of concurrency: the function's reservation if it has
// one, else the account's unreserved pool.
func (p *Pool) admit(r *control.Route) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case r.Reserved >= 0:
		if p.byFunction[r.FunctionName] >= r.Reserved {
			return ErrReservedLimit
		}
	default:
		if p.unreserved >= p.ctl.UnreservedConcurrency() {
			return ErrAccountLimit
		}
		p.unreserved++
	}
	p.byFunction[r.FunctionName]++
	return nil
}

func (p *Pool) release(r *control.Route) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if r.Reserved < 0 {
		p.unreserved--
	}
	if p.byFunction[r.FunctionName]--; p.byFunction[r.FunctionName] <= 0 {
		delete(p.byFunction, r.FunctionName)
	}
}

// take pops the most recently used idle EE (the warmest), or starts one.
func (p *Pool) take(r *control.Route) (*warm, bool) {
	p.mu.Lock()
	if list := p.idle[r.Key]; len(list) > 0 {
		w := list[len(list)-1]
		p.idle[r.Key] = list[:len(list)-1]
		p.mu.Unlock()
		return w, false
	}
	p.mu.Unlock()
	return p.start(r, ""), true
}

// start launches a new EE for route; it reports on w.ready.
func (p *Pool) start(r *control.Route, provisioned string) *warm {
	spec := eespec.For(r.Config, r.FunctionName, r.Version, p.ctl.Region())
	w := &warm{key: r.Key, ready: make(chan *agent.Failure, 1), provisioned: provisioned}
	// Holding p.mu while starting registers w before the agent can report
	// on it: notify takes p.mu first.
	p.mu.Lock()
	defer p.mu.Unlock()
	w.ee = p.agent.Start(spec)
	p.all[w.ee] = w
	return w
}

func (p *Pool) put(w *warm) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, alive := p.all[w.ee]; !alive {
		return
	}
	w.lastUsed = time.Now()
	p.idle[w.key] = append(p.idle[w.key], w)
}

func (p *Pool) drop(w *warm) {
	p.mu.Lock()
	delete(p.all, w.ee)
	p.removeIdle(w)
	p.mu.Unlock()
	p.agent.Stop(w.ee)
}

func (p *Pool) adoptWhenReady(w *warm) {
	if f := <-w.ready; f == nil {
		p.put(w)
	}
}

// returnWhenIdle puts w back once its abandoned invoke is done (bounded by
// the function's timeout).
func (p *Pool) returnWhenIdle(w *warm) {
	deadline := time.Now().Add(w.ee.Spec.Timeout + time.Second)
	for w.ee.InFlight() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if w.ee.InFlight() > 0 {
		p.drop(w)
		return
	}
	p.put(w)
}

// reap stops EEs idle for longer than the idle timeout (never provisioned ones).
func (p *Pool) reap(now time.Time) {
	var stale []*warm
	p.mu.Lock()
	for _, list := range p.idle {
		for _, w := range list {
			if w.provisioned == "" && now.Sub(w.lastUsed) > p.IdleTimeout {
				stale = append(stale, w)
			}
		}
	}
	p.mu.Unlock()
	for _, w := range stale {
		p.log.Debug("stopping idle execution environment", "ee", w.ee.Spec.ID, "version", w.key)
		p.drop(w)
	}
}

// provision keeps each provisioned-concurrency config's EEs warm.
func (p *Pool) provision() {
	targets := p.ctl.ProvisionedTargets()
	want := map[string]control.ProvisionedTarget{}
	for _, t := range targets {
		want[t.Function+":"+t.Qualifier] = t
	}
	have := map[string]int{}
	ready := map[string]int{}
	p.mu.Lock()
	for _, w := range p.all {
		if w.provisioned == "" {
			continue
		}
		t, ok := want[w.provisioned]
		if !ok || t.Route.Key != w.key {
			w.provisioned = "" // config gone or moved: an ordinary EE now
			continue
		}
		have[w.provisioned]++
		if w.ee.State() == agent.Ready {
			ready[w.provisioned]++
		}
	}
	p.mu.Unlock()
	for id, t := range want {
		for i := have[id]; i < t.Requested; i++ {
			w := p.start(t.Route, id)
			p.background.Add(1)
			go func() { defer p.background.Done(); p.adoptWhenReady(w) }()
		}
		status := "IN_PROGRESS"
		if ready[id] >= t.Requested {
			status = "READY"
		}
		p.ctl.SetProvisionedStatus(t.Function, t.Qualifier, ready[id], status, "")
	}
}

// Stats are the pool's counters.
type Stats struct {
	ColdStarts   uint64
	Overflowed   uint64        // LMI invokes served here instead of throttled
	InitDuration time.Duration // total
	EEs          int
	Idle         int
}

// Stats returns the pool's counters.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	idle := 0
	for _, l := range p.idle {
		idle += len(l)
	}
	return Stats{ColdStarts: p.coldStarts.Load(), Overflowed: p.overflowed.Load(), InitDuration: time.Duration(p.initNanos.Load()), EEs: len(p.all), Idle: idle}
}

func errorJSON(errorType, message string) []byte {
	b, _ := json.Marshal(struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}{message, errorType})
	return b
}
