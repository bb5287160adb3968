// Package livestate is the live state of the fleet as it crosses machines:
// which hosts (instance agents) have joined, which EEs each one is asked to
// run, and what state each EE is in. Each record has one writer: an agent
// writes its host record and its EEs' states; the fleet leader writes the
// assignments. Everyone else watches. Watches are level-triggered: a
// process that restarts, or misses an update, reads the current values and
// converges.
//
// Heartbeats, with each EE's usage, are not records: they are plain NATS
// messages on BeatSubject (AppendBeat's compact encoding), sent every
// HeartbeatInterval, so a thousand agents beating cost the servers no disk
// writes.
package livestate

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Bucket names.
const (
	HostsBucket  = "paddock-hosts"  // key: host id → Host (written by the agent)
	AssignBucket = "paddock-assign" // key: host.ee → agent.Spec (written by the fleet leader)
	EEsBucket    = "paddock-ees"    // key: host.ee → EE (written by the agent)
	// key: instance id → Instance (written by the fleet leader when it
	// binds a host to a capacity provider, so that the next leader adopts
	// the fleet as it is instead of launching it again)
	InstancesBucket = "paddock-instances"
)

// BeatSubject prefixes every host's heartbeat subject: BeatSubject + host id.
const BeatSubject = "paddock.beat."

// HeartbeatInterval is how often an agent beats. A beat is a message and
// a flush (a PING the server answers after it took the message): each
// costs the servers a read and a write on the agent's connection, about
// 160 us of CPU (bench/beats.sh, at 1,000 agents), so beats are as rare as
// the fault budget allows. A dead host's EEs must run elsewhere within
// 10 s: the servers give up on a host after 3 intervals (6 s), the agent's
// lease (5 s) ends before that.
const HeartbeatInterval = 2 * time.Second

// Host is a joined instance agent as the servers see it.
type Host struct {
	ID        string `json:"id"`
	Provider  string `json:"provider"` // "static", "local", "ec2"
	Type      string `json:"type"`     // instance type, e.g. "m7i.xlarge"
	Arch      string `json:"arch"`     // "x86_64" or "arm64"
	VCPU      int    `json:"vcpu"`
	MemoryMiB int    `json:"memoryMiB"`
	HopURL    string `json:"hopURL"`   // where the invoke hop listens, "https://10.0.0.7:9402" (http:// without TLS)
	HopToken  string `json:"hopToken"` // the bearer token the hop requires
	// HopCertSHA256 is the hex SHA-256 of the hop's TLS certificate, which
	// routers pin (hop.NewEE); empty for an http:// hop.
	HopCertSHA256 string    `json:"hopCertSha256,omitempty"`
	Started       time.Time `json:"started"`
}

// Instance is a host bound to a capacity provider as an instance.
type Instance struct {
	ID               string    `json:"id"`
	Host             string    `json:"host"`
	CapacityProvider string    `json:"capacityProvider"`
	Type             string    `json:"type"`
	Launched         time.Time `json:"launched"`
}

// EE is one execution environment's state as its agent reports it.
type EE struct {
	Key            string `json:"key"` // the function version it serves, as the router names it ("fn:3")
	MaxConcurrency int    `json:"maxConcurrency"`
	State          string `json:"state"` // agent.State's name
	FailureCode    string `json:"failureCode,omitempty"`
	FailureMessage string `json:"failureMessage,omitempty"`
	InitDurationNs int64  `json:"initDurationNs,omitempty"`
}

// Beat is one heartbeat: the host is alive, and its EEs used this much.
type Beat struct {
	Host string             `json:"host"`
	EEs  map[string]EEUsage `json:"ees,omitempty"`
}

// EEUsage is an EE's consumption so far, as counters.
type EEUsage struct {
	CPUSeconds float64 `json:"cpu"`
	RSSBytes   int64   `json:"rss"`
	Completed  uint64  `json:"done"`
	InFlight   int     `json:"inFlight"`
}

// Key is the key of EE ee of host in the Assign and EEs buckets.
func Key(host, ee string) string { return host + "." + ee }

// SplitKey splits a Key.
func SplitKey(key string) (host, ee string, ok bool) {
	return strings.Cut(key, ".")
}

// ValidID reports whether id can be a host or EE id: one token of a NATS
// subject (letters, digits, '-' and '_').
func ValidID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// Buckets are the live-state buckets.
type Buckets struct {
	Hosts, Assign, EEs, Instances jetstream.KeyValue
}

// Creator makes a bucket with the engine's replica count (store.Store).
type Creator interface {
	KeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error)
}

// Create makes (or updates) the buckets; servers call it.
func Create(ctx context.Context, st Creator) (*Buckets, error) {
	var b Buckets
	for _, c := range []struct {
		kv   *jetstream.KeyValue
		name string
		desc string
	}{
		{&b.Hosts, HostsBucket, "Joined instance agents (written by each agent)"},
		{&b.Assign, AssignBucket, "EEs each host must run (written by the fleet leader)"},
		{&b.EEs, EEsBucket, "State of each EE (written by its agent)"},
		{&b.Instances, InstancesBucket, "Hosts bound to capacity providers (written by the fleet leader)"},
	} {
		kv, err := st.KeyValue(ctx, jetstream.KeyValueConfig{Bucket: c.name, Description: c.desc, History: 1, Storage: jetstream.FileStorage})
		if err != nil {
			return nil, err
		}
		*c.kv = kv
	}
	return &b, nil
}

// Bind opens buckets that a server created; agents call it.
func Bind(ctx context.Context, js jetstream.JetStream) (*Buckets, error) {
	var b Buckets
	var err error
	if b.Hosts, err = js.KeyValue(ctx, HostsBucket); err != nil {
		return nil, fmt.Errorf("bucket %s: %w", HostsBucket, err)
	}
	if b.Assign, err = js.KeyValue(ctx, AssignBucket); err != nil {
		return nil, fmt.Errorf("bucket %s: %w", AssignBucket, err)
	}
	if b.EEs, err = js.KeyValue(ctx, EEsBucket); err != nil {
		return nil, fmt.Errorf("bucket %s: %w", EEsBucket, err)
	}
	return &b, nil
}

// Put writes v as JSON at key.
func Put(ctx context.Context, kv jetstream.KeyValue, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if _, err := kv.Put(ctx, key, data); err != nil {
		return fmt.Errorf("put %s/%s: %w", kv.Bucket(), key, err)
	}
	return nil
}

// Delete removes key (a missing key is not an error).
func Delete(ctx context.Context, kv jetstream.KeyValue, key string) error {
	if err := kv.Purge(ctx, key); err != nil && err != jetstream.ErrKeyNotFound {
		return fmt.Errorf("delete %s/%s: %w", kv.Bucket(), key, err)
	}
	return nil
}
