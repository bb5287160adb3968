package platform

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/paddockhq/paddock/internal/lambdaapi"
)

// Each server announces itself in the lease bucket (its TTL forgets a
// server that died) so that status shows every server and the leader.

const serverKeyPrefix = "server."

// announceEvery keeps a server's presence record well inside leaseTTL.
const announceEvery = leaseTTL / 3

// announce keeps this server's presence record until ctx ends.
func (p *Platform) announce(ctx context.Context, node, url string) {
	started := time.Now().UTC()
	key := serverKeyPrefix + strings.ReplaceAll(node, ".", "_")
	t := time.NewTicker(announceEvery)
	defer t.Stop()
	for {
		rec, _ := json.Marshal(lambdaapi.ServerStatus{Node: node, URL: url, Started: started, Leader: p.leading.Load()})
		p.leases.Put(ctx, key, rec) //nolint:errcheck // the next round retries; status shows the server missing meanwhile
		select {
		case <-ctx.Done():
			gone, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			p.leases.Delete(gone, key) //nolint:errcheck // the TTL forgets it anyway
			cancel()
			return
		case <-t.C:
		}
	}
}

// Cluster is the status of the servers and the joined hosts, as this
// server sees them.
func (p *Platform) Cluster() lambdaapi.ClusterStatus {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c := lambdaapi.ClusterStatus{This: p.self, Servers: []lambdaapi.ServerStatus{}, Hosts: []lambdaapi.HostStatus{}}
	if p.leases == nil { // still starting
		return c
	}
	if e, err := p.leases.Get(ctx, leaderKey); err == nil {
		c.Leader = string(e.Value())
	}
	if p.leading.Load() {
		since := time.Unix(0, p.leadingSince.Load()).UTC()
		c.LeadingSince = &since
	}
	if w, err := p.leases.Watch(ctx, serverKeyPrefix+"*", jetstream.IgnoreDeletes()); err == nil {
		for e := range w.Updates() {
			if e == nil {
				break
			}
			var s lambdaapi.ServerStatus
			if json.Unmarshal(e.Value(), &s) == nil {
				s.Leader = s.URL == c.Leader
				c.Servers = append(c.Servers, s)
			}
		}
		w.Stop() //nolint:errcheck
	}
	sort.Slice(c.Servers, func(i, j int) bool { return c.Servers[i].Node < c.Servers[j].Node })
	now := time.Now()
	for _, h := range p.Static.Hosts() {
		c.Hosts = append(c.Hosts, lambdaapi.HostStatus{ID: h.ID, Type: h.Type, Arch: h.Arch, Provider: h.Provider,
			Address: h.HopURL, Instance: h.Instance, HeartbeatAgeSecs: now.Sub(h.LastBeat).Seconds(), EEs: h.EEs, Routed: h.Routed})
	}
	return c
}

// The cluster's metrics (metrics.Cluster).

// LeaderChanges is how many times this server took the lead or gave it up.
func (p *Platform) LeaderChanges() uint64 { return p.leaderChanges.Load() }

// LostInstances is how many instances the scaler replaced for want of
// heartbeats while this server led.
func (p *Platform) LostInstances() uint64 { return p.Scaler.LostInstances() }

// HopErrors counts invokes the hop to agents could not complete.
func (p *Platform) HopErrors() map[string]uint64 { return p.Static.HopErrors() }

// HostCounts is the joined hosts that beat and those gone silent.
func (p *Platform) HostCounts() (beating, silent int) { return p.Static.HostCounts() }

// setLeading records a change of this server's part in the election.
func (p *Platform) setLeading(on bool) {
	if on {
		p.leadingSince.Store(time.Now().UnixNano())
	}
	if p.leading.Swap(on) != on {
		p.leaderChanges.Add(1)
	}
}
