package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/paddockhq/paddock/internal/agent"
	"github.com/paddockhq/paddock/internal/hop"
	"github.com/paddockhq/paddock/internal/livestate"
	"github.com/paddockhq/paddock/internal/router"
	"github.com/paddockhq/paddock/internal/runtimeapi"
)

// HeartbeatTimeout is how long a joined host may go without a beat before
// servers stop routing to it and the leader replaces it: three beats
// (livestate.HeartbeatInterval), longer than the agent's lease.
const HeartbeatTimeout = 3 * livestate.HeartbeatInterval

// sweepInterval is how often a server looks for hosts gone silent.
const sweepInterval = 250 * time.Millisecond

// Static provides the hosts that join: agents (package agentd) started on
// machines of their own, which connect to the engine with a join token.
//
// It has two faces. On every server, Run follows the live state (hosts,
// their beats, their EEs' states) and keeps the router's table: an EE is
// routed while its agent says Ready and its host beats. On the fleet
// leader, it is the scaler's Provider: a launch binds a free joined host
// to a capacity provider (recorded, so the next leader adopts it), a
// termination gives it back; nothing is booted or shut down.
type Static struct {
	nc     *nats.Conn
	kv     *livestate.Buckets
	hop    *hop.Client
	router *router.Router
	log    *slog.Logger

	mu                        sync.Mutex
	hosts                     map[string]*joinedHost
	changed                   chan struct{} // closed and replaced when a host joins or is released
	ready                     chan struct{} // closed once Run has read the hosts and EEs as they are
	hopUnreachable, hopBroken atomic.Uint64
}

// joinedHost is one joined agent, and the Host handle of the instance it
// is bound to.
type joinedHost struct {
	s     *Static
	rec   livestate.Host
	beat  atomic.Int64 // unix ns of its last heartbeat, as received here
	fresh bool         // beats recently (as of the last sweep); routes follow it
	gone  bool         // its record was deleted: dropped once bound to nothing

	views    map[string]*eeView // every EE its agent reports, by id (all servers)
	assigned map[string]string  // EEs the leader assigned to it, by id: their code's SHA-256 (all servers)

	// The leader's side (guarded by Static.mu).
	boundTo string // instance id; "" when free
	cp      string
	notify  func(Event)
	ees     map[string]*remoteEE // EEs assigned by this leader (or adopted)
}

// hopTarget is the router's target for a remote EE: the hop, with its
// errors counted.
type hopTarget struct {
	*hop.EE
	s *Static
}

func (t hopTarget) Invoke(ctx context.Context, inv *runtimeapi.Invocation) error {
	err := t.EE.Invoke(ctx, inv)
	switch {
	case err == nil, errors.Is(err, runtimeapi.ErrFull), ctx.Err() != nil:
	case errors.Is(err, runtimeapi.ErrClosed):
		t.s.hopUnreachable.Add(1)
	default:
		t.s.hopBroken.Add(1)
	}
	return err
}

// HopErrors counts the invokes the hop could not complete, by kind.
func (s *Static) HopErrors() map[string]uint64 {
	return map[string]uint64{"unreachable": s.hopUnreachable.Load(), "broken": s.hopBroken.Load()}
}

// HostCounts is how many joined hosts beat, and how many went silent.
func (s *Static) HostCounts() (beating, silent int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range s.hosts {
		if h.fresh {
			beating++
		} else {
			silent++
		}
	}
	return beating, silent
}

// eeView is an EE as the router sees it.
type eeView struct {
	rec    livestate.EE
	target hopTarget
	routed bool
}

// remoteEE is an EE on a joined host as the scaler sees it: usage comes
// with the host's beats, state from its agent's records.
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

// InFlight is what the agent last reported: the whole EE's, from every
// server's router.
func (e *remoteEE) InFlight() int {
	if u := e.usage.Load(); u != nil {
		return u.InFlight
	}
	return 0
}
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

// NewStatic returns the provider of the hosts that join through nc; Run
// follows them and keeps rt's table of their EEs.
func NewStatic(nc *nats.Conn, kv *livestate.Buckets, client *hop.Client, rt *router.Router) *Static {
	return &Static{nc: nc, kv: kv, hop: client, router: rt, log: slog.Default().With("role", "fleet"),
		hosts: map[string]*joinedHost{}, changed: make(chan struct{}), ready: make(chan struct{})}
}

// Ready is closed once Run has read the hosts and their EEs as they are.
func (s *Static) Ready() <-chan struct{} { return s.ready }

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
	for _, h := range s.hosts {
		if h.fresh {
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
// ctx ends, and answers the beats: an answer renews an agent's lease.
func (s *Static) Run(ctx context.Context) {
	sub, err := s.nc.Subscribe(livestate.BeatSubject+"*", s.onBeat)
	if err != nil {
		s.log.Error("subscribe to heartbeats", "err", err)
		return
	}
	defer sub.Unsubscribe() //nolint:errcheck
	var wg sync.WaitGroup
	hostsIn, assignIn, eesIn := make(chan struct{}), make(chan struct{}), make(chan struct{})
	after := func(first <-chan struct{}, kv jetstream.KeyValue, apply func(context.Context, jetstream.KeyValueEntry), done chan struct{}) {
		defer wg.Done()
		select { // assignments and EE records name hosts: read those first
		case <-first:
		case <-ctx.Done():
			return
		}
		s.watch(ctx, kv, apply, done)
	}
	wg.Add(4)
	go func() { defer wg.Done(); s.watch(ctx, s.kv.Hosts, s.onHost, hostsIn) }()
	go after(hostsIn, s.kv.Assign, s.onAssign, assignIn)
	go after(assignIn, s.kv.EEs, s.onEE, eesIn)
	go func() {
		defer wg.Done()
		select {
		case <-eesIn:
			close(s.ready)
		case <-ctx.Done():
		}
	}()
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			s.sweep(time.Now())
		case <-ctx.Done():
			wg.Wait()
			return
		}
	}
}

// watch delivers every update of kv to apply until ctx ends, watching
// again when a watch breaks; caughtUp is closed once the values present
// at the first watch are applied.
func (s *Static) watch(ctx context.Context, kv jetstream.KeyValue, apply func(context.Context, jetstream.KeyValueEntry), caughtUp chan struct{}) {
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
			} else if caughtUp != nil {
				close(caughtUp)
				caughtUp = nil
			}
		}
		w.Stop() //nolint:errcheck
	}
}

func (s *Static) onBeat(m *nats.Msg) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var h *joinedHost
	// The usage is read in place, without a map per beat (livestate.ParseBeat).
	err := livestate.ParseBeat(m.Data, func(host string) func([]byte, livestate.EEUsage) {
		if host != m.Subject[len(livestate.BeatSubject):] {
			return nil // beats for another host are refused by the engine; be sure
		}
		if h = s.hosts[host]; h == nil {
			return nil
		}
		return func(id []byte, u livestate.EEUsage) {
			if e := h.ees[string(id)]; e != nil {
				e.usage.Store(&u)
			}
		}
	})
	if err != nil || h == nil {
		return
	}
	h.beat.Store(time.Now().UnixNano())
	if !h.fresh {
		h.fresh = true
		s.routeHost(h)
	}
}

// Runs reports whether the host has an EE of the function, as its agent
// reports them: the servers write the logs an agent sends only for those.
func (s *Static) Runs(host, function string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.hosts[host]
	if h == nil {
		return false
	}
	for _, v := range h.views {
		if fn, _, _ := strings.Cut(v.rec.Key, ":"); fn == function {
			return true
		}
	}
	return false
}

// RunsCode reports whether the leader assigned the host an EE of the code
// (an agent reads only that code, coderelay): from the assignments this
// server watched, or, when they do not show it yet, from the bucket.
func (s *Static) RunsCode(ctx context.Context, host, hexSHA string) (bool, error) {
	s.mu.Lock()
	if h := s.hosts[host]; h != nil {
		for _, code := range h.assigned {
			if code == hexSHA {
				s.mu.Unlock()
				return true, nil
			}
		}
	}
	s.mu.Unlock()
	es, err := entries(ctx, s.kv.Assign, livestate.Key(host, "*"))
	if err != nil {
		return false, err
	}
	for _, e := range es {
		if codeOf(e.Value()) == hexSHA {
			return true, nil
		}
	}
	return false, nil
}

// codeOf is the code's SHA-256 in an assignment, or "".
func codeOf(spec []byte) string {
	var a struct{ CodeSHA256Hex string }
	json.Unmarshal(spec, &a) //nolint:errcheck // no code then
	return a.CodeSHA256Hex
}

// sweep stops routing to hosts whose beats stopped, and drops those whose
// record is gone once they are bound to nothing.
func (s *Static) sweep(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, h := range s.hosts {
		if h.gone && h.boundTo == "" && now.Sub(h.lastBeat()) >= HeartbeatTimeout {
			h.fresh = false
			s.routeHost(h)
			s.releaseHop(h.rec)
			delete(s.hosts, id)
			continue
		}
		if fresh := now.Sub(h.lastBeat()) < HeartbeatTimeout; fresh != h.fresh {
			h.fresh = fresh
			if !fresh {
				s.log.Warn("host stopped beating: not routing to it", "host", h.rec.ID, "since", h.lastBeat())
			}
			s.routeHost(h)
		}
	}
}

// route puts v in the router's table or takes it out (s.mu held). An EE
// is routed while the leader has it assigned (not after it took it away,
// as from a host it found lost and that came back), its agent says it is
// Ready, and its host beats.
func (s *Static) route(h *joinedHost, id string, v *eeView) {
	_, assigned := h.assigned[id]
	want := h.fresh && assigned && v.rec.State == agent.Ready.String()
	switch {
	case want && !v.routed:
		s.router.Add(v.rec.Key, v.target)
	case !want && v.routed:
		s.router.Remove(v.rec.Key, v.target)
	}
	v.routed = want
}

func (s *Static) routeHost(h *joinedHost) {
	for id, v := range h.views {
		s.route(h, id, v)
	}
}

// onAssign takes an assignment the leader made or took back.
func (s *Static) onAssign(_ context.Context, e jetstream.KeyValueEntry) {
	hostID, id, ok := livestate.SplitKey(e.Key())
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.hosts[hostID]
	if h == nil {
		return
	}
	if e.Operation() == jetstream.KeyValuePut {
		h.assigned[id] = codeOf(e.Value())
	} else {
		delete(h.assigned, id)
	}
	if v := h.views[id]; v != nil {
		s.route(h, id, v)
	}
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
			// Gone (its agent left, or it was forgotten): unrouted at the
			// next sweep, its instance lost at the next reconcile, and
			// the host dropped once it is bound to nothing.
			h.beat.Store(0)
			h.gone = true
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
	if h != nil {
		h.gone = false // back before it was dropped
	}
	switch {
	case h == nil:
		h = &joinedHost{s: s, rec: rec, views: map[string]*eeView{}, assigned: map[string]string{}, ees: map[string]*remoteEE{}}
		h.beat.Store(time.Now().UnixNano())
		h.fresh = true
		s.hosts[id] = h
		s.log.Info("host joined", "host", id, "type", rec.Type, "hop", rec.HopURL)
	case !h.rec.Started.Equal(rec.Started) || h.rec.HopToken != rec.HopToken || h.rec.HopURL != rec.HopURL || h.rec.HopCertSHA256 != rec.HopCertSHA256:
		s.log.Warn("host restarted: its execution environments are lost", "host", id, "ees", len(h.ees))
		s.releaseHop(h.rec)
		h.rec = rec
		h.beat.Store(time.Now().UnixNano())
		for id, v := range h.views { // the same EEs, at the new process's address and token
			if v.routed {
				s.router.Remove(v.rec.Key, v.target)
				v.routed = false
			}
			v.target = hopTarget{hop.NewEE(s.hop, rec.HopURL, rec.HopToken, rec.HopCertSHA256, id), s}
		}
		s.routeHost(h)
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

// onEE takes an EE's state from its agent: every server routes by it, and
// the leader tells its scaler.
func (s *Static) onEE(ctx context.Context, e jetstream.KeyValueEntry) {
	hostID, id, ok := livestate.SplitKey(e.Key())
	if !ok {
		return
	}
	s.mu.Lock()
	h := s.hosts[hostID]
	if h == nil {
		s.mu.Unlock()
		return
	}
	if e.Operation() != jetstream.KeyValuePut {
		if v := h.views[id]; v != nil {
			v.rec.State = agent.Stopped.String()
			s.route(h, id, v)
			delete(h.views, id)
		}
		// An agent deletes the record of an EE it stopped unassigned
		// (scaled in) instead of writing Stopped: to the leader it is that.
		ee := h.ees[id]
		delete(h.ees, id)
		notify := h.notify
		s.mu.Unlock()
		if ee != nil && notify != nil && ee.state != agent.Stopped && ee.state != agent.Failed {
			notify(Event{EE: ee, State: agent.Stopped})
		}
		return
	}
	var rec livestate.EE
	st, known := agent.State(0), false
	if err := json.Unmarshal(e.Value(), &rec); err == nil {
		st, known = agent.ParseState(rec.State)
	}
	if !known {
		s.mu.Unlock()
		return
	}
	v := h.views[id]
	if v == nil {
		v = &eeView{target: hopTarget{hop.NewEE(s.hop, h.rec.HopURL, h.rec.HopToken, h.rec.HopCertSHA256, id), s}}
		h.views[id] = v
	}
	if v.routed && v.rec.Key != rec.Key { // never, but a key is what Remove finds it by
		s.router.Remove(v.rec.Key, v.target)
		v.routed = false
	}
	v.rec = rec
	s.route(h, id, v)

	ee := h.ees[id]
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
func (s *Static) Launch(ctx context.Context, id string, t InstanceType, cp string, notify func(Event)) (Host, error) {
	return s.bindWhen(ctx, func() *joinedHost { return s.pick(t) }, id, t, cp, notify)
}

// bindWhen waits until choose (called with s.mu held) names a free host,
// binds it to instance id and records the instance, so that the next
// leader adopts it.
func (s *Static) bindWhen(ctx context.Context, choose func() *joinedHost, id string, t InstanceType, cp string, notify func(Event)) (Host, error) {
	for {
		s.mu.Lock()
		if h := choose(); h != nil {
			h.boundTo, h.cp, h.notify = id, cp, notify
			s.mu.Unlock()
			rec := livestate.Instance{ID: id, Host: h.rec.ID, CapacityProvider: cp, Type: t.Name, Launched: time.Now().UTC()}
			if err := livestate.Put(ctx, s.kv.Instances, id, rec); err != nil {
				s.release(h)
				return nil, err
			}
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
	for _, h := range s.hosts {
		if h.boundTo != "" || !h.fresh {
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
	instance := jh.boundTo
	ids := make([]string, 0, len(jh.ees))
	for id := range jh.ees {
		ids = append(ids, id)
	}
	// A host that went silent cannot clear its EEs' records: they are
	// of processes that died with it, or that it stops when it is back.
	var dead []string
	if !jh.fresh {
		for id := range jh.views {
			dead = append(dead, id)
		}
	}
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, id := range ids {
		livestate.Delete(ctx, s.kv.Assign, livestate.Key(jh.rec.ID, id)) //nolint:errcheck // best effort: the agent's converge stops the rest
	}
	for _, id := range dead {
		livestate.Delete(ctx, s.kv.EEs, livestate.Key(jh.rec.ID, id)) //nolint:errcheck // best effort: status shows them until then
	}
	if instance != "" {
		livestate.Delete(ctx, s.kv.Instances, instance) //nolint:errcheck // an unknown host's instance is dropped at adoption
	}
	s.release(jh)
	s.log.Info("host released", "host", jh.rec.ID, "instance", instance)
}

func (s *Static) release(h *joinedHost) {
	s.mu.Lock()
	h.ees = map[string]*remoteEE{}
	h.boundTo, h.cp, h.notify = "", "", nil
	s.broadcast()
	s.mu.Unlock()
}

// Adopted is an instance the previous leader bound, with its EEs.
type Adopted struct {
	Instance livestate.Instance
	Host     Host
	EEs      []AdoptedEE
}

// AdoptedEE is an EE assigned to an adopted instance.
type AdoptedEE struct {
	EE    EE
	Spec  agent.Spec
	State agent.State
}

// Adopter is a provider whose instances outlive the leader that launched
// them: a new leader adopts them (Adopt) instead of launching its own,
// and one that stops leading leaves them running (Release).
type Adopter interface {
	Adopt(ctx context.Context, notify func(Event)) ([]Adopted, error)
	Release()
}

// Adopt binds the instances recorded by previous leaders to this one, with
// the EEs assigned to them and their last reported states. Instances
// whose host is gone are dropped.
func (s *Static) Adopt(ctx context.Context, notify func(Event)) ([]Adopted, error) {
	select {
	case <-s.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	insts, err := entries(ctx, s.kv.Instances, ">")
	if err != nil {
		return nil, err
	}
	assigns, err := entries(ctx, s.kv.Assign, ">")
	if err != nil {
		return nil, err
	}
	byHost := map[string][]agent.Spec{}
	for _, e := range assigns {
		host, _, _ := livestate.SplitKey(e.Key())
		var spec agent.Spec
		if json.Unmarshal(e.Value(), &spec) == nil {
			byHost[host] = append(byHost[host], spec)
		}
	}
	var out []Adopted
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range insts {
		var rec livestate.Instance
		if json.Unmarshal(e.Value(), &rec) != nil {
			continue
		}
		h := s.hosts[rec.Host]
		if h == nil || (h.boundTo != "" && h.boundTo != rec.ID) {
			s.log.Warn("dropping an instance whose host is gone", "instance", rec.ID, "host", rec.Host)
			livestate.Delete(ctx, s.kv.Instances, rec.ID) //nolint:errcheck
			for _, spec := range byHost[rec.Host] {
				livestate.Delete(ctx, s.kv.Assign, livestate.Key(rec.Host, spec.ID)) //nolint:errcheck
			}
			continue
		}
		h.boundTo, h.cp, h.notify = rec.ID, rec.CapacityProvider, notify
		a := Adopted{Instance: rec, Host: h}
		for _, spec := range byHost[rec.Host] {
			ee := &remoteEE{id: spec.ID, state: agent.Starting}
			ee.hop.Store(hop.NewEE(s.hop, h.rec.HopURL, h.rec.HopToken, h.rec.HopCertSHA256, spec.ID))
			if v := h.views[spec.ID]; v != nil {
				ee.state, _ = agent.ParseState(v.rec.State)
			}
			h.ees[spec.ID] = ee
			a.EEs = append(a.EEs, AdoptedEE{EE: ee, Spec: spec, State: ee.state})
		}
		out = append(out, a)
	}
	return out, nil
}

// Release forgets this server's leadership of the hosts: they stay bound
// (in the store) and their EEs keep running for the next leader to adopt.
func (s *Static) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range s.hosts {
		h.boundTo, h.cp, h.notify = "", "", nil
		h.ees = map[string]*remoteEE{}
	}
	s.broadcast()
}

// releaseHop closes the router's connections to the agent process rec
// describes, and forgets them: each agent process has keys of its own.
func (s *Static) releaseHop(rec livestate.Host) {
	s.hop.Release(hop.NewEE(s.hop, rec.HopURL, rec.HopToken, rec.HopCertSHA256, ""))
}

// Errors of Forget.
var (
	ErrNoHost    = errors.New("no host has that id")
	ErrHostBeats = errors.New("the host's agent is joined and beating")
)

// Forget deletes the records of host, a joined host whose agent will not
// come back as it is (its machine retired, or rebuilt with a new key): its
// host record, which takes it off every server, and its EEs' records.
// known reports whether there was anything to delete. A host that beats
// is refused (ErrHostBeats): its agent would only write itself back.
func (s *Static) Forget(ctx context.Context, host string) (known bool, err error) {
	if !livestate.ValidID(host) {
		return false, nil
	}
	s.mu.Lock()
	h := s.hosts[host]
	beats := h != nil && time.Since(h.lastBeat()) < HeartbeatTimeout
	s.mu.Unlock()
	if beats {
		return true, ErrHostBeats
	}
	ees, err := entries(ctx, s.kv.EEs, livestate.Key(host, "*"))
	if err != nil {
		return false, err
	}
	for _, e := range ees {
		if err := livestate.Delete(ctx, s.kv.EEs, e.Key()); err != nil {
			return true, err
		}
	}
	if _, err := s.kv.Hosts.Get(ctx, host); err == nil {
		known = true
		if err := livestate.Delete(ctx, s.kv.Hosts, host); err != nil {
			return true, err
		}
	} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, err
	}
	return known || h != nil || len(ees) > 0, nil
}

// entries reads every current value of kv under filter.
func entries(ctx context.Context, kv jetstream.KeyValue, filter string) ([]jetstream.KeyValueEntry, error) {
	w, err := kv.Watch(ctx, filter, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, err
	}
	defer w.Stop() //nolint:errcheck
	var out []jetstream.KeyValueEntry
	for e := range w.Updates() {
		if e == nil {
			return out, nil
		}
		out = append(out, e)
	}
	return out, ctx.Err()
}

func (h *joinedHost) lastBeat() time.Time { return time.Unix(0, h.beat.Load()) }

// LastHeartbeat is when the host's last beat arrived here.
func (h *joinedHost) LastHeartbeat() time.Time { return h.lastBeat() }

// Start assigns an EE to the host; its states arrive from its agent.
func (h *joinedHost) Start(spec agent.Spec) EE {
	s := h.s
	ee := &remoteEE{id: spec.ID}
	s.mu.Lock()
	ee.hop.Store(hop.NewEE(s.hop, h.rec.HopURL, h.rec.HopToken, h.rec.HopCertSHA256, spec.ID))
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
	Instance                         string // the instance it is bound to (as this server leads); "" when free
	LastBeat                         time.Time
	EEs                              int // EEs its agent reports
	Routed                           int // of which this server routes to
}

// Hosts lists the joined hosts, by id.
func (s *Static) Hosts() []HostStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]HostStatus, 0, len(s.hosts))
	for _, h := range s.hosts {
		st := HostStatus{ID: h.rec.ID, Type: h.rec.Type, Arch: h.rec.Arch, Provider: h.rec.Provider, HopURL: h.rec.HopURL,
			Instance: h.boundTo, LastBeat: h.lastBeat(), EEs: len(h.views)}
		for _, v := range h.views {
			if v.routed {
				st.Routed++
			}
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Await binds the host hostID to instance id once it joins and beats: the
// launch of a provider that boots the host itself (EC2, whose instance's
// agent joins with the instance's id). It waits until ctx ends.
func (s *Static) Await(ctx context.Context, hostID, id string, t InstanceType, cp string, notify func(Event)) (Host, error) {
	return s.bindWhen(ctx, func() *joinedHost {
		if h := s.hosts[hostID]; h != nil && h.fresh && h.boundTo == "" {
			return h
		}
		return nil
	}, id, t, cp, notify)
}
