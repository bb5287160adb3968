// Package agentd is the instance agent as a process of its own: it joins
// the engine (NATS), says which host it is, runs the EEs the fleet leader
// assigns to it, reports their states, beats with their usage, and serves
// the invoke hop the servers' routers call. Package agent does the work on
// the instance; this package connects it to the cluster.
//
// Everything it does is level-triggered: at start, and after a lost
// connection, it reads the assignments as they are and converges, so a
// restarted or partitioned agent heals itself.
package agentd

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/paddockhq/paddock/internal/agent"
	"github.com/paddockhq/paddock/internal/hop"
	"github.com/paddockhq/paddock/internal/livestate"
	"github.com/paddockhq/paddock/internal/logs"
	"github.com/paddockhq/paddock/internal/runtimeapi"
	"github.com/paddockhq/paddock/internal/runtimes"
)

// Lease is how long the agent keeps taking invokes after its last beat
// the engine confirmed: shorter than the servers' heartbeat timeout
// (fleet.HeartbeatTimeout, 6 s), so a partitioned agent has stopped
// serving before its EEs are replaced elsewhere.
const Lease = 5 * time.Second

// Options describe the host.
type Options struct {
	Host     livestate.Host // ID, Provider, Type, Arch, VCPU, MemoryMiB and HopURL; HopToken, HopCertSHA256 and Started are set by Run
	Cache    *agent.CodeCache
	Runtimes *runtimes.Host // the managed runtimes this host runs
	Hop      net.Listener   // where the invoke hop is served
	// HopTLS serves the hop over TLS with a certificate made at start,
	// which the host record names for routers to pin; Host.HopURL must
	// then be https://.
	HopTLS    bool
	Output    agent.OutputSink
	Logger    *slog.Logger
	BeatEvery time.Duration // 0: livestate.HeartbeatInterval
}

// Daemon is a running agent joined to the engine.
type Daemon struct {
	opts   Options
	nc     *nats.Conn
	kv     *livestate.Buckets
	agent  *agent.Agent
	log    *slog.Logger
	states chan agent.Event

	mu       sync.Mutex
	ees      map[string]*agent.EE // by EE id: every EE the agent runs
	assigned map[string]bool      // by EE id: what the leader wants it to run

	lastAck atomic.Int64 // unix ns of the last beat a server answered

	logs *logs.Service // the EEs' output on its way to the servers; nil with Options.Output
}

// Run joins through nc and serves until ctx ends; then it stops every EE
// and removes the host's records.
func Run(ctx context.Context, nc *nats.Conn, opts Options) error {
	if !livestate.ValidID(opts.Host.ID) {
		return fmt.Errorf("host id %q: use letters, digits, '-' and '_'", opts.Host.ID)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	kv, err := livestate.Bind(ctx, js)
	if err != nil {
		return fmt.Errorf("join: %w (is the server up?)", err)
	}
	d := &Daemon{opts: opts, nc: nc, kv: kv, ees: map[string]*agent.EE{}, assigned: map[string]bool{}, states: make(chan agent.Event, 4096),
		log: cmpLogger(opts.Logger).With("role", "agent", "host", opts.Host.ID)}
	d.lastAck.Store(time.Now().UnixNano())
	d.agent = agent.New(opts.Host.ID, opts.Cache, func(ev agent.Event) { d.states <- ev })
	d.agent.Output = opts.Output
	d.agent.Runtimes = opts.Runtimes
	if d.agent.Output == nil {
		// The EEs' lines, with the platform lines of each invoke, go to the
		// servers, which write them to the log stream (package logs).
		d.logs = logs.NewRelay(logs.RelayTo(nc, opts.Host.ID))
		d.agent.Output = d.logs
	}

	token := make([]byte, 24)
	rand.Read(token) //nolint:errcheck // never fails on Linux
	host := opts.Host
	host.HopToken = hex.EncodeToString(token)
	host.Started = time.Now().UTC()
	hopLn := opts.Hop
	scheme := "http://"
	if opts.HopTLS {
		scheme = "https://"
	}
	if !strings.HasPrefix(host.HopURL, scheme) {
		d.agent.Close()
		return fmt.Errorf("hop URL %q: want %s with hop TLS %v", host.HopURL, scheme, opts.HopTLS)
	}
	if opts.HopTLS {
		cert, fp, err := hop.NewServerCert()
		if err != nil {
			d.agent.Close()
			return fmt.Errorf("hop certificate: %w", err)
		}
		host.HopCertSHA256 = fp
		hopLn = tls.NewListener(opts.Hop, hop.ServerTLS(cert))
	}
	if err := livestate.Put(ctx, kv.Hosts, host.ID, host); err != nil {
		d.agent.Close()
		return err
	}
	d.log.Info("joined", "type", host.Type, "hop", host.HopURL)

	// frontdoor's loop, with the hop's limits and hang-up detection.
	srv := hop.NewServer(&hop.Handler{Token: host.HopToken, Lookup: d.lookup})
	var wg sync.WaitGroup
	runCtx, cancel := context.WithCancel(ctx)
	wg.Add(4)
	if d.logs != nil {
		wg.Add(1)
		go func() { defer wg.Done(); d.logs.Run(runCtx) }()
	}
	go func() { defer wg.Done(); d.writeStates(runCtx) }()
	go func() { defer wg.Done(); d.beat(runCtx) }()
	go func() { defer wg.Done(); d.follow(runCtx) }()
	go func() {
		defer wg.Done()
		if err := srv.Serve(hopLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("invoke hop stopped", "err", err)
		}
	}()
	<-ctx.Done()
	srv.Close() //nolint:errcheck
	d.agent.Close()
	cancel()
	wg.Wait()
	// A clean stop says goodbye; after kill -9 the servers see the beats stop.
	bye, done := context.WithTimeout(context.Background(), 2*time.Second)
	defer done()
	livestate.Delete(bye, kv.Hosts, host.ID) //nolint:errcheck
	d.log.Info("left")
	return nil
}

func cmpLogger(l *slog.Logger) *slog.Logger {
	if l != nil {
		return l
	}
	return slog.Default()
}

// lookup is the hop's view of the EEs: ready ones, while the lease holds.
func (d *Daemon) lookup(id string) hop.Invoker {
	if time.Since(time.Unix(0, d.lastAck.Load())) > Lease {
		return nil // fenced: the servers may already be replacing these EEs
	}
	d.mu.Lock()
	e := d.ees[id]
	d.mu.Unlock()
	if e == nil || e.State() != agent.Ready {
		return nil // starting EEs have no Runtime API yet; draining ones take no invokes
	}
	return servedEE{e, d.logs}
}

// servedEE is an EE as the hop serves it: an invoke that asks for its
// output (LogType Tail) gets it back, and each invoke is told to the logs
// relay when it ends, for its START, END and REPORT lines and to
// attribute the EE's lines to it, as the servers do for EEs of their own.
type servedEE struct {
	*agent.EE
	logs *logs.Service // nil: none
}

func (e servedEE) Invoke(ctx context.Context, inv *runtimeapi.Invocation) error {
	start := time.Now()
	err := e.EE.Invoke(ctx, inv)
	if err != nil && (errors.Is(err, runtimeapi.ErrFull) || errors.Is(err, runtimeapi.ErrClosed)) {
		return err // not admitted: it runs elsewhere, or nowhere
	}
	if err == nil && inv.WantLog && !inv.Dispatched().IsZero() {
		inv.Log = e.EE.LogsBetween(inv.Dispatched(), inv.OutputEnd())
	}
	if e.logs == nil {
		return err
	}
	spec := e.EE.Spec
	d := time.Since(start)
	if !inv.Dispatched().IsZero() && !inv.Answered.IsZero() {
		d = inv.Answered.Sub(inv.Dispatched()) // the function's own time, as the API counts it
	}
	e.logs.Invoke(logs.Invoke{
		EE: e.EE, Function: spec.FunctionName, Version: spec.Version, RequestID: inv.ID,
		Start: start, Dispatched: inv.Dispatched(), Answered: inv.Answered, Duration: d,
		Timeout: spec.Timeout, MemoryMB: spec.MemoryMB, FunctionErr: inv.FunctionError, ErrorType: inv.ErrorType,
	})
	return err
}

// follow watches the host's assignments and converges the EEs to them.
func (d *Daemon) follow(ctx context.Context) {
	for ctx.Err() == nil {
		w, err := d.kv.Assign.Watch(ctx, d.opts.Host.ID+".*")
		if err != nil {
			d.log.Warn("watch assignments", "err", err)
			sleep(ctx, time.Second)
			continue
		}
		d.converge(ctx, w)
		w.Stop() //nolint:errcheck
	}
}

// converge applies one watch's updates until it ends. The first batch is
// every current assignment: EEs the agent runs that are not among them are
// stopped (assignments deleted while it was away).
func (d *Daemon) converge(ctx context.Context, w jetstream.KeyWatcher) {
	assigned := map[string]bool{}
	initial := true
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			if e == nil {
				initial = false
				d.stopUnassigned(assigned)
				continue
			}
			_, id, _ := livestate.SplitKey(e.Key())
			if e.Operation() != jetstream.KeyValuePut {
				d.unassign(ctx, id)
				continue
			}
			if initial {
				assigned[id] = true
			}
			var spec agent.Spec
			if err := json.Unmarshal(e.Value(), &spec); err != nil || spec.ID != id {
				d.log.Error("bad assignment", "key", e.Key(), "err", err)
				continue
			}
			d.assign(spec)
		}
	}
}

func (d *Daemon) assign(spec agent.Spec) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.assigned[spec.ID] = true
	if d.ees[spec.ID] != nil {
		return
	}
	d.ees[spec.ID] = d.agent.Start(spec)
}

// unassign drains the EE, or forgets its record if it already ended.
func (d *Daemon) unassign(ctx context.Context, id string) {
	d.mu.Lock()
	e := d.ees[id]
	delete(d.assigned, id)
	d.mu.Unlock()
	if e != nil {
		d.agent.Stop(e) // its record goes when it has stopped (writeStates)
		return
	}
	livestate.Delete(ctx, d.kv.EEs, livestate.Key(d.opts.Host.ID, id)) //nolint:errcheck // retried at the next converge
}

func (d *Daemon) stopUnassigned(assigned map[string]bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for id, e := range d.ees {
		if !assigned[id] {
			delete(d.assigned, id)
			d.agent.Stop(e)
		}
	}
}

// writeStates reports every EE state change, in order per EE.
func (d *Daemon) writeStates(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-d.states:
			id := ev.EE.ID()
			spec := ev.EE.Spec
			rec := livestate.EE{Key: spec.FunctionName + ":" + spec.Version, MaxConcurrency: spec.MaxConcurrency,
				State: ev.State.String(), InitDurationNs: int64(ev.EE.InitDuration())}
			if ev.Failure != nil {
				rec.FailureCode, rec.FailureMessage = ev.Failure.Code, ev.Failure.Message
			}
			key := livestate.Key(d.opts.Host.ID, id)
			write := func() error { return livestate.Put(ctx, d.kv.EEs, key, rec) }
			if ev.State == agent.Stopped || ev.State == agent.Failed {
				d.mu.Lock()
				delete(d.ees, id)
				if !d.assigned[id] {
					// Unassigned: nobody waits for its end; the record goes.
					write = func() error { return livestate.Delete(ctx, d.kv.EEs, key) }
				}
				d.mu.Unlock()
			}
			for ctx.Err() == nil {
				if err := write(); err == nil {
					break
				} else {
					d.log.Warn("report EE state", "ee", id, "err", err)
					sleep(ctx, 200*time.Millisecond)
				}
			}
		}
	}
}

// beat sends a heartbeat with the EEs' usage every interval, and a flush:
// the engine's PONG, which comes after it took the beat, renews the lease
// that lets the hop take invokes. (The servers do not answer beats: an
// answer cost them another write per beat.) Beats that go unconfirmed
// three times running make the connection start again, on another node
// if this one is gone silently: the beats are the agent's keepalive.
func (d *Daemon) beat(ctx context.Context) {
	every := d.opts.BeatEvery
	if every <= 0 {
		every = livestate.HeartbeatInterval
	}
	t := time.NewTicker(every)
	defer t.Stop()
	subject := livestate.BeatSubject + d.opts.Host.ID
	unconfirmed := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		b := livestate.Beat{Host: d.opts.Host.ID, EEs: map[string]livestate.EEUsage{}}
		d.mu.Lock()
		for id, e := range d.ees {
			if e.State() != agent.Ready && e.State() != agent.Draining {
				continue
			}
			u := e.Usage()
			b.EEs[id] = livestate.EEUsage{CPUSeconds: u.CPUSeconds, RSSBytes: u.RSSBytes, Completed: e.Completed(), InFlight: e.InFlight()}
		}
		d.mu.Unlock()
		data := livestate.AppendBeat(nil, b)
		sent := time.Now()
		err := d.nc.Publish(subject, data)
		if err == nil {
			err = d.nc.FlushTimeout(every)
		}
		if err == nil {
			d.lastAck.Store(sent.UnixNano())
			unconfirmed = 0
		} else if unconfirmed++; unconfirmed >= 3 && d.nc.IsConnected() {
			d.log.Warn("beats unconfirmed: connecting again", "err", err)
			d.nc.ForceReconnect() //nolint:errcheck
			unconfirmed = 0
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
