package fleet

import (
	"context"
	"encoding/json"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/paddockhq/paddock/internal/agent"
	"github.com/paddockhq/paddock/internal/hop"
	"github.com/paddockhq/paddock/internal/livestate"
	"github.com/paddockhq/paddock/internal/runtimeapi"
)

// joinFresh is how recent a joined host's last beat must be for it to be
// given to a capacity provider.
const joinFresh = 3 * time.Second

// Static provides the hosts that join: agents (package agentd) started on
// machines of their own, which connect to the engine with a join token. A
// launch binds a free joined host to a capacity provider, a termination
// gives it back; nothing is booted or shut down.
type Static struct {
	nc  *nats.Conn
	kv  *livestate.Buckets
	hop *hop.Client
	log *slog.Logger

	mu      sync.Mutex
	hosts   map[string]*joinedHost
	changed chan struct{} // closed and replaced when a host joins or is released
}

// NewStatic returns the provider of the hosts that join through nc; Run
// follows them.
func NewStatic(nc *nats.Conn, kv *livestate.Buckets, client *hop.Client) *Static {
	return &Static{nc: nc, kv: kv, hop: client, log: slog.Default().With("role", "fleet"),
		hosts: map[string]*joinedHost{}, changed: make(chan struct{})}
}

// joinedHost is one joined agent, and the Host handle of the instance it
// is bound to.
type joinedHost struct {
	s       *Static
	rec     livestate.Host
	beat    atomic.Int64 // unix ns of its last heartbeat, as received here
	boundTo string       // instance id; "" when free
	notify  func(Event)
	ees     map[string]*remoteEE
}

// remoteEE is an EE on a joined host: invokes go through the hop, usage
// comes with the host's beats.
type remoteEE struct {
	id    string
	hop   atomic.Pointer[hop.EE]
	usage atomic.Pointer[livestate.EEUsage]
	state agent.State // last state delivered (guarded by Static.mu)
}

func (e *remoteEE) ID() string { return e.id }
func (e *remoteEE) Invoke(ctx context.Context, inv *runtimeapi.Invocation) error {
	return e.hop.Load().Invoke(ctx, inv)
}
func (e *remoteEE) InFlight() int { return e.hop.Load().InFlight() }
func (e *remoteEE) Usage() agent.Usage {
	if u := e.usage.Load(); u != nil {
		return agent.Usage{CPUSeconds: u.CPUSeconds, RSSBytes: u.RSSBytes}
	}
	return agent.Usage{}
}
func (e *remoteEE) Completed() uint64 {
	if u := e.usage.Load(); u != nil {
		return u.Completed
	}
	return 0
}

// Name is "static".
func (s *Static) Name() string { return "static" }

// Arch is empty: joined hosts may be of either architecture (Offer picks).
func (s *Static) Arch() string { return "" }

// Offer narrows the instance types a capacity provider allows to those of
// the joined hosts. With no host joined yet it keeps them all: a launch
// waits for a host to join.
func (s *Static) Offer(types []InstanceType) []InstanceType {
	s.mu.Lock()
	have := map[string]bool{}
	now := time.Now()
	for _, h := range s.hosts {
		if now.Sub(h.lastBeat()) < joinFresh {
			have[h.rec.Type] = true
		}
	}
	s.mu.Unlock()
	if len(have) == 0 {
		return types
	}
	var out []InstanceType
	for _, t := range types {
		if have[t.Name] {
			out = append(out, t)
		}
	}
	return out
}

// Run follows the joined hosts, their EEs' states and their beats until
// ctx ends.
func (s *Static) Run(ctx context.Context) {
	sub, err := s.nc.Subscribe(livestate.BeatSubject+"*", s.onBeat)
	if err != nil {
		s.log.Error("subscribe to heartbeats", "err", err)
		return
	}
	defer sub.Unsubscribe() //nolint:errcheck
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); s.watch(ctx, s.kv.Hosts, s.onHost) }()
	go func() { defer wg.Done(); s.watch(ctx, s.kv.EEs, s.onEE) }()
	wg.Wait()
}

// watch delivers every update of kv to apply until ctx ends, watching
// again when a watch breaks.
func (s *Static) watch(ctx context.Context, kv jetstream.KeyValue, apply func(context.Context, jetstream.KeyValueEntry)) {
	for ctx.Err() == nil {
		w, err := kv.WatchAll(ctx)
		if err != nil {
			s.log.Warn("watch", "bucket", kv.Bucket(), "err", err)
			wait(ctx, time.Second)
			continue
		}
		for e := range w.Updates() {
			if e != nil {
				apply(ctx, e)
			}
		}
		w.Stop() //nolint:errcheck
	}
}

func (s *Static) onBeat(m *nats.Msg) {
	var b livestate.Beat
	if err := json.Unmarshal(m.Data, &b); err == nil {
		s.mu.Lock()
		if h := s.hosts[b.Host]; h != nil {
			h.beat.Store(time.Now().UnixNano())
			for id, u := range b.EEs {
				if e := h.ees[id]; e != nil {
					u := u
					e.usage.Store(&u)
				}
			}
		}
		s.mu.Unlock()
	}
	m.Respond(nil) //nolint:errcheck // the answer renews the agent's lease
}

// onHost takes a host's record: a join, a restart (new token: its EEs died
// with the old process), or a clean leave.
func (s *Static) onHost(ctx context.Context, e jetstream.KeyValueEntry) {
	id := e.Key()
	var lost []Event
	var notify func(Event)
	s.mu.Lock()
	h := s.hosts[id]
	if e.Operation() != jetstream.KeyValuePut {
		if h != nil {
			h.beat.Store(0) // gone: its instance is lost at the next reconcile
		}
		s.mu.Unlock()
		return
	}
	var rec livestate.Host
	if err := json.Unmarshal(e.Value(), &rec); err != nil || rec.ID != id {
		s.mu.Unlock()
		s.log.Error("bad host record", "host", id, "err", err)
		return
	}
	switch {
	case h == nil:
		h = &joinedHost{s: s, rec: rec, ees: map[string]*remoteEE{}}
		h.beat.Store(time.Now().UnixNano())
		s.hosts[id] = h
		s.log.Info("host joined", "host", id, "type", rec.Type, "hop", rec.HopURL)
	case !h.rec.Started.Equal(rec.Started) || h.rec.HopToken != rec.HopToken:
		s.log.Warn("host restarted: its execution environments are lost", "host", id, "ees", len(h.ees))
		h.rec = rec
		h.beat.Store(time.Now().UnixNano())
		for eid, ee := range h.ees {
			delete(h.ees, eid)
			lost = append(lost, Event{EE: ee, State: agent.Failed,
				Failure: &agent.Failure{Code: "InternalError", Message: "The instance's agent restarted."}})
			livestate.Delete(ctx, s.kv.Assign, livestate.Key(id, eid)) //nolint:errcheck // the agent stops what is unassigned
		}
		notify = h.notify
	}
	s.broadcast()
	s.mu.Unlock()
	for _, ev := range lost {
		if notify != nil {
			notify(ev)
		}
	}
}

// onEE takes an EE's state from its agent.
func (s *Static) onEE(ctx context.Context, e jetstream.KeyValueEntry) {
	if e.Operation() != jetstream.KeyValuePut {
		return
	}
	hostID, id, ok := livestate.SplitKey(e.Key())
	if !ok {
		return
	}
	var rec livestate.EE
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return
	}
	st, ok := agent.ParseState(rec.State)
	if !ok {
		return
	}
	s.mu.Lock()
	h := s.hosts[hostID]
	var ee *remoteEE
	if h != nil {
		ee = h.ees[id]
	}
	if ee == nil || ee.state == st {
		s.mu.Unlock()
		return
	}
	ee.state = st
	terminal := st == agent.Stopped || st == agent.Failed
	if terminal {
		delete(h.ees, id)
	}
	notify := h.notify
	s.mu.Unlock()
	ev := Event{EE: ee, State: st}
	if st == agent.Failed {
		ev.Failure = &agent.Failure{Code: rec.FailureCode, Message: rec.FailureMessage}
	}
	if notify != nil {
		notify(ev)
	}
	if terminal {
		livestate.Delete(ctx, s.kv.Assign, livestate.Key(hostID, id)) //nolint:errcheck // the agent forgets it either way
	}
}

// broadcast wakes launches waiting for a host (s.mu held).
func (s *Static) broadcast() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Launch binds a free joined host of type t, or of t's architecture with
// at least its capacity, waiting for one to join or be released.
func (s *Static) Launch(ctx context.Context, id string, t InstanceType, notify func(Event)) (Host, error) {
	for {
		s.mu.Lock()
		if h := s.pick(t); h != nil {
			h.boundTo, h.notify = id, notify
			s.mu.Unlock()
			s.log.Info("host bound", "host", h.rec.ID, "instance", id, "type", h.rec.Type)
			return h, nil
		}
		changed := s.changed
		s.mu.Unlock()
		timer := time.NewTimer(time.Second) // beats freshen hosts without a broadcast
		select {
		case <-changed:
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return nil, ctx.Err()
		}
		timer.Stop()
	}
}

// pick chooses the host for a launch of t (s.mu held).
func (s *Static) pick(t InstanceType) *joinedHost {
	var fits []*joinedHost
	now := time.Now()
	for _, h := range s.hosts {
		if h.boundTo != "" || now.Sub(h.lastBeat()) >= joinFresh {
			continue
		}
		if h.rec.Type == t.Name {
			return h
		}
		if h.rec.Arch == t.Arch && h.rec.VCPU >= t.VCPU && h.rec.MemoryMiB >= t.MemoryMiB {
			fits = append(fits, h)
		}
	}
	sort.Slice(fits, func(i, j int) bool {
		a, b := fits[i].rec, fits[j].rec
		if a.VCPU != b.VCPU {
			return a.VCPU < b.VCPU
		}
		return a.ID < b.ID
	})
	if len(fits) > 0 {
		return fits[0]
	}
	return nil
}

// Terminate takes every EE off the host and frees it for another launch.
func (s *Static) Terminate(h Host) {
	jh := h.(*joinedHost)
	s.mu.Lock()
	ids := make([]string, 0, len(jh.ees))
	for id := range jh.ees {
		ids = append(ids, id)
	}
	jh.ees = map[string]*remoteEE{}
	jh.boundTo, jh.notify = "", nil
	s.broadcast()
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, id := range ids {
		livestate.Delete(ctx, s.kv.Assign, livestate.Key(jh.rec.ID, id)) //nolint:errcheck // best effort: the agent's converge stops the rest
	}
	s.log.Info("host released", "host", jh.rec.ID)
}

func (h *joinedHost) lastBeat() time.Time { return time.Unix(0, h.beat.Load()) }

// LastHeartbeat is when the host's last beat arrived here.
func (h *joinedHost) LastHeartbeat() time.Time { return h.lastBeat() }

// Start assigns an EE to the host; its states arrive from its agent.
func (h *joinedHost) Start(spec agent.Spec) EE {
	s := h.s
	ee := &remoteEE{id: spec.ID}
	s.mu.Lock()
	ee.hop.Store(hop.NewEE(s.hop, h.rec.HopURL, h.rec.HopToken, spec.ID))
	h.ees[spec.ID] = ee
	notify := h.notify
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := livestate.Put(ctx, s.kv.Assign, livestate.Key(h.rec.ID, spec.ID), spec); err != nil {
		s.mu.Lock()
		delete(h.ees, spec.ID)
		s.mu.Unlock()
		// Start runs on the loop that reads events: report from aside.
		go notify(Event{EE: ee, State: agent.Failed, Failure: &agent.Failure{Code: "InternalError", Message: "assign: " + err.Error()}})
	}
	return ee
}

// Stop unassigns the EE: its agent drains and stops it.
func (h *joinedHost) Stop(ee EE) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := livestate.Delete(ctx, h.s.kv.Assign, livestate.Key(h.rec.ID, ee.ID())); err != nil {
		h.s.log.Error("unassign", "ee", ee.ID(), "err", err)
	}
}

func wait(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// HostStatus is a joined host as status pages show it.
type HostStatus struct {
	ID, Type, Arch, Provider, HopURL string
	Instance                         string // the instance it is bound to; "" when free
	LastBeat                         time.Time
	EEs                              int
}

// Hosts lists the joined hosts, by id.
func (s *Static) Hosts() []HostStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]HostStatus, 0, len(s.hosts))
	for _, h := range s.hosts {
		out = append(out, HostStatus{ID: h.rec.ID, Type: h.rec.Type, Arch: h.rec.Arch, Provider: h.rec.Provider, HopURL: h.rec.HopURL,
			Instance: h.boundTo, LastBeat: h.lastBeat(), EEs: len(h.ees)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
