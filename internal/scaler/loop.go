package scaler

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paddockhq/paddock/internal/agent"
	"github.com/paddockhq/paddock/internal/control"
	"github.com/paddockhq/paddock/internal/eespec"
	"github.com/paddockhq/paddock/internal/fleet"
	"github.com/paddockhq/paddock/internal/meter"
	"github.com/paddockhq/paddock/internal/placement"
	"github.com/paddockhq/paddock/internal/router"
)

// SpreadTarget is how many distinct instances a version's EEs cover, as
// Lambda spreads min EEs over 3 instances (availability zones on AWS).
const SpreadTarget = 3

// replaceBackoff keeps a crashing version from respawning in a tight loop.
const replaceBackoff = time.Second

// HeartbeatTimeout is how long an instance may go without a heartbeat
// before it is declared lost and replaced: the joined hosts' timeout, as
// an agent on another machine must have stopped serving (its lease) first.
const HeartbeatTimeout = fleet.HeartbeatTimeout

// DefaultEmptyInstanceCooldown is how long an instance stays up without
// EEs before it is terminated: long enough to absorb a quick scale-in and
// scale-out.
const DefaultEmptyInstanceCooldown = 30 * time.Second

// Loop owns the live state of the fleet: instances, their agents and EEs.
// One goroutine (Run) changes it; agents and launches report through
// channels, so no decision races another.
type Loop struct {
	ctl      *control.Service
	router   *router.Router
	provider fleet.Provider
	log      *slog.Logger

	events   chan fleet.Event
	launched chan launchResult

	instances map[string]*instance
	ees       map[fleet.EE]*eeRecord
	failedAt  map[string]time.Time // by version key: last EE failure

	// ExternalRoutes, set before Run, leaves the router's table to someone
	// else: the provider's watch of the live state, on every server.
	ExternalRoutes bool
	// EmptyInstanceCooldown overrides DefaultEmptyInstanceCooldown when
	// set before Run.
	EmptyInstanceCooldown time.Duration
	// Tuning overrides the autoscaler's windows when set before Run.
	Tuning Tuning
	// Meter, when set before Run, receives EE-seconds and instance-seconds.
	Meter     *meter.Recorder
	lastMeter time.Time

	meters map[string]*versionMeter // by version key

	lostCount atomic.Uint64 // instances lost and replaced, ever
	launches  sync.WaitGroup
	lost      sync.WaitGroup // terminations of lost instances
	mu        sync.Mutex     // guards the snapshots for Status readers
	status    []VersionStatus
	instStat  []InstanceStatus
	instCount map[string]int // instances per capacity provider
}

type instance struct {
	id       string
	cp       string
	typ      fleet.InstanceType
	host     fleet.Host // nil while launching
	usedCPU  int
	usedMem  int
	versions map[string]int // EEs per version key, started or promised
	// promised counts, per version key, the EEs placed on the instance
	// while it launches: their capacity is in usedCPU/usedMem and versions,
	// so no other version takes it, and they start as soon as it runs.
	promised map[string]promise

	emptySince time.Time // when it last became empty; zero while it runs EEs
}

// promise is EEs of one version planned on a launching instance.
type promise struct {
	n    int
	need placement.Need
}

type eeRecord struct {
	ee       fleet.EE
	key      string
	inst     *instance
	cpu, mem int
	state    agent.State
	meter    eeMeter
}

type launchResult struct {
	inst *instance
	host fleet.Host
	err  error
}

// NewLoop returns a loop that provisions ctl's versions through provider and
// registers ready EEs with r.
func NewLoop(ctl *control.Service, r *router.Router, provider fleet.Provider) *Loop {
	return &Loop{
		ctl: ctl, router: r, provider: provider,
		log:       slog.Default().With("role", "scaler"),
		events:    make(chan fleet.Event, 1024),
		launched:  make(chan launchResult, 64),
		instances: map[string]*instance{},
		ees:       map[fleet.EE]*eeRecord{},
		failedAt:  map[string]time.Time{},
		meters:    map[string]*versionMeter{},
	}
}

// Run reconciles until ctx ends, then stops every instance and EE (or,
// when the provider's instances outlive a leader, leaves them to the
// next one). A Loop may Run again after that, as a server that leads
// again: each run starts from what the provider has.
func (l *Loop) Run(ctx context.Context) {
	l.instances, l.ees, l.failedAt, l.meters = map[string]*instance{}, map[fleet.EE]*eeRecord{}, map[string]time.Time{}, map[string]*versionMeter{}
	l.lastMeter = time.Time{}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	defer l.shutdown()
	if a, ok := l.provider.(fleet.Adopter); ok {
		// A leader elected while the engine's cluster still forms may
		// find the store slow to answer: it keeps trying, for a leader
		// that stops trying leads nothing.
		for {
			err := l.adopt(ctx, a)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return
			}
			l.log.Warn("adopting the fleet failed; trying again", "err", err)
			select {
			case <-time.After(time.Second):
			case <-ctx.Done():
				return
			}
		}
	}
	l.reconcile(ctx, time.Time{})
	for {
		var sampleAt time.Time // set once a second: measure and autoscale
		select {
		case ev := <-l.events:
			l.handleEvent(ctx, ev)
		case res := <-l.launched:
			l.handleLaunch(res)
		case <-l.ctl.Changed():
		case now := <-tick.C:
			sampleAt = now
		case <-ctx.Done():
			return
		}
		l.drainEvents(ctx)
		l.reconcile(ctx, sampleAt)
	}
}

// drainEvents handles what else is already queued, so one reconcile covers a burst.
func (l *Loop) drainEvents(ctx context.Context) {
	for {
		select {
		case ev := <-l.events:
			l.handleEvent(ctx, ev)
		case res := <-l.launched:
			l.handleLaunch(res)
		default:
			return
		}
	}
}

// notify is the agents' callback: it hands the event to the loop.
func (l *Loop) notify(ev fleet.Event) { l.events <- ev }

func (l *Loop) shutdown() {
	// Launches in progress end early (their ctx is done); take their results.
	launched := l.launched
	go func() { l.launches.Wait(); close(launched) }()
	defer func() { l.launched = make(chan launchResult, 64) }() // for the next Run
	if a, ok := l.provider.(fleet.Adopter); ok {
		// The instances outlive this leader: the next one adopts them.
		for range launched {
		}
		l.lost.Wait()
		a.Release()
		l.log.Info("fleet left to the next leader", "instances", len(l.instances))
		for {
			select {
			case <-l.events: // sent before Release
			default:
				return
			}
		}
	}
	for res := range launched {
		if res.host != nil {
			l.provider.Terminate(res.host)
		}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); l.lost.Wait() }()
	for _, in := range l.instances {
		if in.host == nil {
			continue
		}
		wg.Add(1)
		go func(h fleet.Host) {
			defer wg.Done()
			l.provider.Terminate(h)
		}(in.host)
	}
	// Agents report Stopped while closing: keep the channel moving.
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for {
		select {
		case <-l.events:
		case <-done:
			l.log.Info("fleet stopped", "instances", len(l.instances))
			return
		}
	}
}

func (l *Loop) handleLaunch(res launchResult) {
	in := res.inst
	if res.err != nil {
		l.log.Error("instance launch failed", "instance", in.id, "type", in.typ.Name, "err", res.err)
		delete(l.instances, in.id)
		return
	}
	in.host = res.host
	l.log.Info("instance running", "instance", in.id, "type", in.typ.Name, "capacityProvider", in.cp, "promisedEEs", sum(in.promised))
}

// keepPromises starts the EEs promised on instances that now run, and
// releases the promises of versions no longer wanted.
func (l *Loop) keepPromises(byKey map[string]control.Workload) {
	for _, in := range l.instances {
		for key, p := range in.promised {
			w, ok := byKey[key]
			if !ok {
				l.release(in, key, p.n)
				continue
			}
			if in.host == nil {
				continue
			}
			for range p.n {
				l.startEE(w, in, p.need, true)
			}
			delete(in.promised, key)
		}
	}
}

// release takes back n of key's promises on in and returns how many it took.
func (l *Loop) release(in *instance, key string, n int) int {
	p := in.promised[key]
	n = min(n, p.n)
	if n <= 0 {
		return 0
	}
	if p.n -= n; p.n == 0 {
		delete(in.promised, key)
	} else {
		in.promised[key] = p
	}
	in.usedCPU -= n * p.need.MilliCPU
	in.usedMem -= n * p.need.MemoryMiB
	if in.versions[key] -= n; in.versions[key] <= 0 {
		delete(in.versions, key)
	}
	return n
}

// breakPromises takes back up to n of w's promised EEs, the cheapest EEs to
// give up when a version needs fewer, and returns how many it took.
func (l *Loop) breakPromises(w control.Workload, n int) int {
	ids := make([]string, 0, len(l.instances))
	for id, in := range l.instances {
		if in.promised[w.Key].n > 0 {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	taken := 0
	for _, id := range ids {
		if taken == n {
			break
		}
		taken += l.release(l.instances[id], w.Key, n-taken)
	}
	return taken
}

// promisedEEs counts key's EEs promised on launching instances.
func (l *Loop) promisedEEs(key string) int {
	n := 0
	for _, in := range l.instances {
		n += in.promised[key].n
	}
	return n
}

func sum(m map[string]promise) int {
	n := 0
	for _, p := range m {
		n += p.n
	}
	return n
}

func (l *Loop) handleEvent(ctx context.Context, ev fleet.Event) {
	rec := l.ees[ev.EE]
	if rec == nil {
		return
	}
	rec.state = ev.State
	switch ev.State {
	case agent.Ready:
		l.route(rec.key, ev.EE)
	case agent.Draining:
		l.unroute(rec.key, ev.EE)
	case agent.Stopped, agent.Failed:
		l.unroute(rec.key, ev.EE)
		l.forget(rec)
	}
	if ev.State != agent.Failed {
		return
	}
	l.failedAt[rec.key] = time.Now()
	fn, ver := splitKey(rec.key)
	for _, w := range l.ctl.Workloads() {
		if w.Key == rec.key && w.Config.State == control.StatePending {
			// An init failure while publishing fails the version, as Lambda does.
			l.log.Warn("version failed to initialize", "function", fn, "version", ver, "code", ev.Failure.Code, "reason", ev.Failure.Message)
			if err := l.ctl.SetVersionState(ctx, fn, ver, control.StateFailed, ev.Failure.Code, ev.Failure.Message); err != nil {
				l.log.Error("record version state", "err", err)
			}
		}
	}
}

func (l *Loop) forget(rec *eeRecord) {
	delete(l.ees, rec.ee)
	in := rec.inst
	in.usedCPU -= rec.cpu
	in.usedMem -= rec.mem
	if in.versions[rec.key]--; in.versions[rec.key] <= 0 {
		delete(in.versions, rec.key)
	}
}

func splitKey(key string) (string, int) {
	for i := len(key) - 1; i >= 0; i-- {
		if key[i] == ':' {
			n, _ := strconv.Atoi(key[i+1:])
			return key[:i], n
		}
	}
	return key, 0
}

// reconcile converges every version towards its desired EEs. With a
// non-zero sampleAt it first measures every version and lets its
// autoscaler decide.
func (l *Loop) reconcile(ctx context.Context, sampleAt time.Time) {
	if ctx.Err() != nil {
		return
	}
	l.replaceLost(time.Now())
	workloads := l.ctl.Workloads()
	sort.Slice(workloads, func(i, j int) bool { return workloads[i].Key < workloads[j].Key })
	wl := make(map[string]control.Workload, len(workloads))
	for _, w := range workloads {
		wl[w.Key] = w
	}
	l.keepPromises(wl)
	var round []placeReq
	byKey := map[string][]*eeRecord{}
	for _, rec := range l.ees {
		byKey[rec.key] = append(byKey[rec.key], rec)
	}
	wanted := map[string]bool{}
	var status []VersionStatus
	for _, w := range workloads {
		wanted[w.Key] = true
		recs := byKey[w.Key]
		var live, ready []*eeRecord
		for _, r := range recs {
			if r.state == agent.Draining {
				continue
			}
			live = append(live, r)
			if r.state == agent.Ready {
				ready = append(ready, r)
			}
		}
		d := Desire(Input{State: w.Config.State, MinEEs: w.MinEEs, MaxEEs: w.MaxEEs})
		m := l.meters[w.Key]
		if !sampleAt.IsZero() {
			m = l.measure(sampleAt, w, ready)
			if w.Config.State == control.StateActive {
				m.decision = m.scaler.Decide(sampleAt, len(live))
			}
		}
		if w.Config.State == control.StateActive && m != nil && m.decision.Why != "" {
			d = m.decision
		}
		promised := l.promisedEEs(w.Key)
		switch have := len(live) + promised; {
		case have < d.Desired && time.Since(l.failedAt[w.Key]) >= replaceBackoff:
			round = append(round, placeReq{w: w, count: d.Desired - have})
		case have > d.Desired:
			n := have - d.Desired
			k := l.breakPromises(w, n)
			if n > k {
				l.scaleIn(w.Key, live, n-k)
			}
		}
		l.advance(ctx, w, d, len(ready), len(recs))
		status = append(status, l.versionStatus(w, d, live, ready, m))
	}
	l.place(ctx, round)
	for key := range l.meters {
		if !wanted[key] {
			delete(l.meters, key)
		}
	}
	// Versions deleted (or whose capacity provider is gone) lose their EEs.
	for key, recs := range byKey {
		if !wanted[key] {
			l.stopExtra(recs, len(recs))
		}
	}
	l.terminateEmpty(time.Now())
	if !sampleAt.IsZero() {
		l.meterTime(sampleAt, workloads, byKey)
	}
	counts := map[string]int{}
	insts := make([]InstanceStatus, 0, len(l.instances))
	for _, in := range l.instances {
		counts[in.cp]++
		insts = append(insts, l.instanceStatus(in))
	}
	sort.Slice(insts, func(i, j int) bool { return insts[i].ID < insts[j].ID })
	l.mu.Lock()
	l.status = status
	l.instStat = insts
	l.instCount = counts
	l.mu.Unlock()
}

// advance moves a version through Pending → Active and Deactivating → Deactivated.
func (l *Loop) advance(ctx context.Context, w control.Workload, d Decision, ready, total int) {
	var state, code, reason string
	switch {
	case w.Config.State == control.StatePending && d.Desired > 0 && ready >= d.Desired:
		state = control.StateActive
	case w.Config.State == control.StateDeactivating && total == 0:
		state, reason = control.StateDeactivated, "The version is deactivated: its scaling config is min = max = 0."
	default:
		return
	}
	if err := l.ctl.SetVersionState(ctx, w.Function, w.Version, state, code, reason); err != nil {
		l.log.Error("record version state", "err", err)
		return
	}
	l.log.Info("version "+state, "function", w.Function, "version", w.Version, "ees", ready)
}

// replaceLost drops instances whose agent stopped heartbeating: their EEs
// leave the router at once (invokes go to the others) and the instance is
// terminated in the background; the reconcile that follows places
// replacements elsewhere.
func (l *Loop) replaceLost(now time.Time) {
	for id, in := range l.instances {
		if in.host == nil || now.Sub(in.host.LastHeartbeat()) < HeartbeatTimeout {
			continue
		}
		n := 0
		for _, rec := range l.ees {
			if rec.inst == in {
				l.unroute(rec.key, rec.ee)
				l.forget(rec)
				l.failedAt[rec.key] = time.Time{} // replace at once
				n++
			}
		}
		l.lostCount.Add(1)
		l.log.Warn("instance lost: no heartbeat", "instance", id, "type", in.typ.Name,
			"capacityProvider", in.cp, "since", in.host.LastHeartbeat(), "ees", n)
		delete(l.instances, id)
		l.lost.Add(1)
		go func(h fleet.Host) {
			defer l.lost.Done()
			l.provider.Terminate(h)
		}(in.host)
	}
}

// meterTime records the EE time of each LMI function and the instance
// time of each capacity provider since the last sample, for the bill.
func (l *Loop) meterTime(now time.Time, workloads []control.Workload, byKey map[string][]*eeRecord) {
	if l.Meter == nil {
		return
	}
	defer func() { l.lastMeter = now }()
	if l.lastMeter.IsZero() {
		return
	}
	dt := now.Sub(l.lastMeter).Seconds()
	for _, w := range workloads {
		ready := 0
		for _, r := range byKey[w.Key] {
			if r.state == agent.Ready {
				ready++
			}
		}
		if ready > 0 {
			l.Meter.AddEESeconds(now, w.Function, float64(ready)*dt)
		}
	}
	arch := map[string]string{}
	for _, cp := range l.ctl.CapacityProviders() {
		arch[cp.Name] = cp.Architecture
	}
	for _, in := range l.instances {
		l.Meter.AddInstanceSeconds(now, in.cp, arch[in.cp], in.typ.Name, dt)
	}
	l.Meter.Flush(now)
}

// terminateEmpty ends instances that have run no EE for the cooldown.
func (l *Loop) terminateEmpty(now time.Time) {
	for id, in := range l.instances {
		if in.host == nil {
			continue // still launching
		}
		if len(in.versions) > 0 {
			in.emptySince = time.Time{}
			continue
		}
		if in.emptySince.IsZero() {
			in.emptySince = now
		}
		cooldown := l.EmptyInstanceCooldown
		if cooldown <= 0 {
			cooldown = DefaultEmptyInstanceCooldown
		}
		if now.Sub(in.emptySince) < cooldown {
			continue
		}
		l.log.Info("terminating empty instance", "instance", id, "type", in.typ.Name, "capacityProvider", in.cp)
		l.provider.Terminate(in.host)
		delete(l.instances, id)
	}
}

// scaleIn drains n of a version's live EEs: first those not serving yet,
// then where placement.ScaleIn says, so instances empty out while the
// version keeps its spread.
func (l *Loop) scaleIn(key string, live []*eeRecord, n int) {
	var serving, starting []*eeRecord
	for _, r := range live {
		if r.state == agent.Ready {
			serving = append(serving, r)
		} else {
			starting = append(starting, r)
		}
	}
	k := min(n, len(starting))
	l.stopExtra(starting, k)
	n -= k
	if n == 0 {
		return
	}
	byInst := map[string][]*eeRecord{}
	var snapshot []placement.Instance
	for _, r := range serving {
		byInst[r.inst.id] = append(byInst[r.inst.id], r)
	}
	for id, rs := range byInst {
		in := rs[0].inst
		snapshot = append(snapshot, placement.Instance{ID: id, Type: in.typ.Name,
			FreeMilliCPU: in.typ.AllocatableMilliCPU() - in.usedCPU, FreeMemoryMiB: in.typ.AllocatableMemoryMiB() - in.usedMem,
			VersionEEs: len(rs)})
	}
	sort.Slice(snapshot, func(i, j int) bool { return snapshot[i].ID < snapshot[j].ID })
	var chosen []*eeRecord
	for _, id := range placement.ScaleIn(snapshot, n, SpreadTarget) {
		rs := byInst[id]
		chosen = append(chosen, rs[len(rs)-1])
		byInst[id] = rs[:len(rs)-1]
	}
	l.stopExtra(chosen, len(chosen))
	l.log.Info("scaling in", "version", key, "ees", len(chosen)+k)
}

// stopExtra drains n EEs, the least useful first (not yet ready, then newest).
func (l *Loop) stopExtra(recs []*eeRecord, n int) {
	sort.SliceStable(recs, func(i, j int) bool {
		return recs[i].state != agent.Ready && recs[j].state == agent.Ready
	})
	for _, r := range recs[:n] {
		if r.state == agent.Draining {
			continue
		}
		r.state = agent.Draining
		l.unroute(r.key, r.ee)
		if r.inst.host != nil {
			r.inst.host.Stop(r.ee)
		}
	}
}

// placeReq is one version's share of a round of placement.
type placeReq struct {
	w     control.Workload
	count int
}

// place plans every version that needs EEs in one round (placement.PlaceRound)
// and carries the plans out: EEs on running instances start now; EEs on
// launching instances, and on the instances the round launches, are
// promised their capacity and start once their instance runs. Every
// instance the round needs is launched at once, in parallel.
func (l *Loop) place(ctx context.Context, round []placeReq) {
	if len(round) == 0 {
		return
	}
	usedMilli := map[string]int{} // by capacity provider
	hosts := make([]placement.Host, 0, len(l.instances))
	for _, in := range l.instances {
		usedMilli[in.cp] += in.typ.VCPU * 1000
		h := placement.Host{
			ID: in.id, Type: in.typ.Name, CapacityProvider: in.cp,
			FreeMilliCPU:  in.typ.AllocatableMilliCPU() - in.usedCPU,
			FreeMemoryMiB: in.typ.AllocatableMemoryMiB() - in.usedMem,
			Launching:     in.host == nil,
			EEs:           in.versions,
		}
		hosts = append(hosts, h)
	}
	sort.Slice(hosts, func(i, j int) bool { return hosts[i].ID < hosts[j].ID })
	reqs := make([]placement.Request, len(round))
	cands := make([][]fleet.InstanceType, len(round))
	for i, r := range round {
		cp := r.w.CapacityProvider
		if arch := l.provider.Arch(); arch == "" || arch == cp.Architecture {
			cands[i] = fleet.MatchInstanceTypes(cp.Architecture, cp.AllowedTypes, cp.ExcludedTypes)
		}
		if o, ok := l.provider.(fleet.Offerer); ok {
			cands[i] = o.Offer(cands[i])
		}
		reqs[i] = placement.Request{
			Key: r.w.Key, CapacityProvider: cp.Name, Count: r.count, Candidates: cands[i],
			Need:           placement.Need{MilliCPU: r.w.Config.VCPUMilli(), MemoryMiB: r.w.Config.MemorySize},
			MaxNewMilliCPU: cp.Scaling.MaxVCPU*1000 - usedMilli[cp.Name],
		}
	}
	plans := placement.PlaceRound(hosts, reqs, SpreadTarget)
	newIDs := map[string]*instance{} // placeholder → instance launched
	for i, rp := range plans {
		w, need, plan := round[i].w, rp.Request.Need, rp.Plan
		for j, typeName := range plan.Launch {
			t, _ := fleet.LookupInstanceType(typeName)
			in := l.launch(ctx, w.CapacityProvider.Name, t)
			newIDs[rp.NewIDs[j]] = in
			l.promise(in, w.Key, need, plan.LaunchEEs[j])
		}
		for _, id := range plan.Assign {
			in := l.instances[id]
			if in == nil {
				in = newIDs[id]
			}
			if in.host == nil {
				l.promise(in, w.Key, need, 1)
				continue
			}
			l.startEE(w, in, need, false)
		}
		if len(plan.Launch) > 0 || plan.AssignLaunching > 0 || plan.Unplaced > 0 {
			l.log.Info("placing execution environments", "version", w.Key, "ees", rp.Request.Count, "plan", plan.Why)
		}
		if plan.Unplaced > 0 && w.Config.State == control.StatePending && len(plan.Launch) == 0 && len(plan.Assign) == 0 {
			cp := w.CapacityProvider
			reason := "No instance can hold an execution environment of " + need.String() + " on capacity provider " + cp.Name + ": " + plan.Why
			if _, ok := l.provider.(fleet.Offerer); ok && len(cands[i]) == 0 {
				reason = "No joined host is of an instance type that capacity provider " + cp.Name + " allows (" + cp.Architecture + ")."
			} else if len(cands[i]) == 0 {
				reason = "The " + l.provider.Name() + " instance provider launches " + l.provider.Arch() + " instances only; capacity provider " + cp.Name + " asks for " + cp.Architecture + "."
			}
			if err := l.ctl.SetVersionState(ctx, w.Function, w.Version, control.StateFailed, "InsufficientCapacity", reason); err != nil {
				l.log.Error("record version state", "err", err)
			}
		}
	}
}

// promise reserves n EEs of key on the launching instance in.
func (l *Loop) promise(in *instance, key string, need placement.Need, n int) {
	p := in.promised[key]
	p.n += n
	p.need = need
	in.promised[key] = p
	in.usedCPU += n * need.MilliCPU
	in.usedMem += n * need.MemoryMiB
	in.versions[key] += n
}

// startEE starts one EE of w on the running instance in; reserved says its
// capacity was already taken by a promise.
func (l *Loop) startEE(w control.Workload, in *instance, need placement.Need, reserved bool) {
	spec := eespec.For(&w.Config, w.Function, strconv.Itoa(w.Version), l.ctl.Region())
	ee := in.host.Start(spec)
	l.ees[ee] = &eeRecord{ee: ee, key: w.Key, inst: in, cpu: need.MilliCPU, mem: need.MemoryMiB, state: agent.Starting}
	if !reserved {
		in.usedCPU += need.MilliCPU
		in.usedMem += need.MemoryMiB
		in.versions[w.Key]++
	}
	l.log.Debug("starting execution environment", "ee", spec.ID, "version", w.Key, "instance", in.id)
}

func (l *Loop) launch(ctx context.Context, cp string, t fleet.InstanceType) *instance {
	in := &instance{id: "i-" + randomHex(17)[:17], cp: cp, typ: t, versions: map[string]int{}, promised: map[string]promise{}}
	l.instances[in.id] = in
	l.log.Info("launching instance", "instance", in.id, "type", t.Name, "capacityProvider", cp)
	l.launches.Add(1)
	go func() {
		defer l.launches.Done()
		h, err := l.provider.Launch(ctx, in.id, t, cp, l.notify)
		l.launched <- launchResult{inst: in, host: h, err: err}
	}()
	return in
}

// Status returns the last reconcile's view of every version.
func (l *Loop) Status() []VersionStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]VersionStatus(nil), l.status...)
}

// Instances returns the last reconcile's view of every instance.
func (l *Loop) Instances() []InstanceStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]InstanceStatus(nil), l.instStat...)
}

func (l *Loop) versionStatus(w control.Workload, d Decision, live, ready []*eeRecord, m *versionMeter) VersionStatus {
	st := VersionStatus{
		Key: w.Key, Function: w.Function, Version: w.Version, CapacityProvider: w.CapacityProvider.Name,
		State: w.Config.State, Desired: d.Desired, Live: len(live), Ready: len(ready), Why: d.Why,
		Limit: len(ready) * w.Config.MaxConcurrency(), ThrottlesMinute: map[string]int{},
	}
	for _, r := range ready {
		st.InFlight += r.ee.InFlight()
	}
	if m != nil {
		if alloc := float64(len(ready)) * float64(w.Config.VCPUMilli()) / 1000; alloc > 0 {
			st.CPUPercent = 100 * m.last.CPU / alloc
		}
		st.MemoryPercent = 100 * m.memUtil
		st.ThrottlesMinute = m.throttlesLastMinute()
	}
	return st
}

// InstanceCount returns how many instances (running or launching) the
// capacity provider has, as of the last reconcile.
func (l *Loop) InstanceCount(capacityProvider string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.instCount[capacityProvider]
}

func randomHex(n int) string {
	b := make([]byte, (n+1)/2)
	rand.Read(b) //nolint:errcheck
	return hex.EncodeToString(b)[:n]
}

func (l *Loop) route(key string, ee fleet.EE) {
	if !l.ExternalRoutes {
		l.router.Add(key, ee)
	}
}

func (l *Loop) unroute(key string, ee fleet.EE) {
	if !l.ExternalRoutes {
		l.router.Remove(key, ee)
	}
}

// adopt takes over the instances and EEs a previous leader left running.
func (l *Loop) adopt(ctx context.Context, a fleet.Adopter) error {
	adopted, err := a.Adopt(ctx, l.notify)
	if err != nil {
		return err
	}
	ees := 0
	for _, ad := range adopted {
		t, ok := fleet.LookupInstanceType(ad.Instance.Type)
		if !ok {
			l.log.Error("adopted instance of an unknown type", "instance", ad.Instance.ID, "type", ad.Instance.Type)
			continue
		}
		in := &instance{id: ad.Instance.ID, cp: ad.Instance.CapacityProvider, typ: t, host: ad.Host,
			versions: map[string]int{}, promised: map[string]promise{}}
		l.instances[in.id] = in
		for _, e := range ad.EEs {
			if e.State == agent.Stopped || e.State == agent.Failed {
				continue
			}
			key := e.Spec.FunctionName + ":" + e.Spec.Version
			rec := &eeRecord{ee: e.EE, key: key, inst: in, cpu: e.Spec.MilliCPU, mem: e.Spec.MemoryMB, state: e.State}
			l.ees[e.EE] = rec
			in.usedCPU += rec.cpu
			in.usedMem += rec.mem
			in.versions[key]++
			ees++
			if e.State == agent.Ready {
				l.route(key, e.EE)
			}
		}
	}
	if len(adopted) > 0 {
		l.log.Info("adopted the fleet", "instances", len(adopted), "ees", ees)
	}
	return nil
}

// LostInstances is how many instances this loop found lost (no
// heartbeat) and replaced.
func (l *Loop) LostInstances() uint64 { return l.lostCount.Load() }
