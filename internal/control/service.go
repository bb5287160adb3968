// Package control holds the rules of Lambda's resources: capacity providers,
// functions, versions, aliases and scaling configs. It validates and applies
// changes, keeps them durable in the store, and publishes an immutable
// snapshot of what is invocable for the invoke path to read without locks.
package control

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paddockhq/paddock/internal/awserr"
	"github.com/paddockhq/paddock/internal/store"
)

// Service is the control plane of one Paddock region and account.
type Service struct {
	store        *store.Store
	region       string
	account      string
	accountLimit int
	runtimes     Runtimes
	log          *slog.Logger

	mu  sync.Mutex // serializes changes; the maps below are read and written under it
	cps map[string]*CapacityProvider
	fns map[string]*fnState

	routes     atomic.Pointer[map[string]*fnRoutes]
	unreserved atomic.Int64 // account limit minus every reservation
	changed    chan struct{}
	settle     chan struct{} // creations and updates to finish (settle.go)

	policies map[string]*policyRecord // resource policies by function and qualifier (policy.go)

	layers map[string]*layerState // layers by name, with their versions (layer.go)

	asyncSettings atomic.Pointer[map[string]AsyncSettings] // what AsyncSettings reads (eventinvoke.go)

	functionURLs atomic.Pointer[map[string]FunctionURLConfig] // what FunctionURLByID reads, by URL id (functionurl.go)

	// Event source mappings (eventsource.go): by UUID, what
	// EventSourceMappings reads, and the channel MappingsChanged closes.
	esms       map[string]*MappingConfig
	mappings   atomic.Pointer[[]EventSourceMapping]
	mappingsMu sync.Mutex
	mappingsCh chan struct{}

	// A follower's progress through the leader's writes (follow.go).
	applied   atomic.Uint64
	appliedMu sync.Mutex
	appliedCh chan struct{} // closed when applied moves
	behind    chan struct{} // a waiter knows of a write not applied yet
}

type fnState struct {
	fn          Function
	versions    map[int]*Version
	aliases     map[string]*Alias
	provisioned map[string]*Provisioned       // by qualifier
	invoke      map[string]*EventInvokeConfig // asynchronous invocation configs by qualifier (eventinvoke.go); nil: none
	urls        map[string]*URLConfig         // function URL configs by qualifier, "" or an alias (functionurl.go); nil: none
}

func newFnState(fn Function) *fnState {
	return &fnState{fn: fn, versions: map[int]*Version{}, aliases: map[string]*Alias{}, provisioned: map[string]*Provisioned{}}
}

// Options configure a Service.
type Options struct {
	Region             string // default us-east-1
	Account            string // default 000000000000
	AccountConcurrency int    // default DefaultAccountConcurrency
	// Runtimes says which managed runtimes this Paddock runs (a
	// *runtimes.Host); nil runs custom runtimes only.
	Runtimes Runtimes
}

// Runtimes tells whether functions of a runtime can run: nil, or the
// error (its text the InvalidParameterValueException's) that refuses them.
type Runtimes interface {
	Available(runtime string) error
}

// Open loads every resource from the store.
func Open(ctx context.Context, st *store.Store, opts Options) (*Service, error) {
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.Account == "" {
		opts.Account = "000000000000"
	}
	if opts.AccountConcurrency == 0 {
		opts.AccountConcurrency = DefaultAccountConcurrency
	}
	s := &Service{
		store: st, region: opts.Region, account: opts.Account, accountLimit: opts.AccountConcurrency, runtimes: opts.Runtimes,
		log:     slog.Default().With("role", "control"),
		cps:     map[string]*CapacityProvider{},
		fns:     map[string]*fnState{},
		changed: make(chan struct{}, 1),
		settle:  make(chan struct{}, 1),
	}
	if err := s.load(ctx); err != nil {
		return nil, err
	}
	s.publishRoutes()
	return s, nil
}

func (s *Service) load(ctx context.Context) error {
	entries, err := s.store.Config.Snapshot(ctx, ">")
	if err != nil {
		return err
	}
	// Functions first: versions and aliases hang off them.
	sort.SliceStable(entries, func(i, j int) bool {
		return strings.HasPrefix(entries[i].Key, "fn.") && !strings.HasPrefix(entries[j].Key, "fn.")
	})
	for _, e := range entries {
		kind, rest, _ := strings.Cut(e.Key, ".")
		switch kind {
		case "cp":
			var cp CapacityProvider
			if err := json.Unmarshal(e.Value, &cp); err != nil {
				return fmt.Errorf("load %s: %w", e.Key, err)
			}
			s.cps[cp.Name] = &cp
		case "fn":
			var fn Function
			if err := json.Unmarshal(e.Value, &fn); err != nil {
				return fmt.Errorf("load %s: %w", e.Key, err)
			}
			s.fns[rest] = newFnState(fn)
		case "ver":
			var v Version
			if err := json.Unmarshal(e.Value, &v); err != nil {
				return fmt.Errorf("load %s: %w", e.Key, err)
			}
			if f := s.fns[v.Config.FunctionName]; f != nil {
				f.versions[v.Number] = &v
			}
		case "pc":
			var p Provisioned
			if err := json.Unmarshal(e.Value, &p); err != nil {
				return fmt.Errorf("load %s: %w", e.Key, err)
			}
			if f := s.fns[p.Function]; f != nil {
				p.Status = "IN_PROGRESS"
				f.provisioned[p.Qualifier] = &p
			}
		case "alias":
			var a Alias
			if err := json.Unmarshal(e.Value, &a); err != nil {
				return fmt.Errorf("load %s: %w", e.Key, err)
			}
			if f := s.fns[a.Function]; f != nil {
				f.aliases[a.Name] = &a
			}
		}
	}
	if err := s.loadTags(entries); err != nil { // tags.go: tag sets changed after create
		return fmt.Errorf("load tags: %w", err)
	}
	if err := s.loadPolicies(entries); err != nil { // policy.go
		return fmt.Errorf("load policies: %w", err)
	}
	if err := s.loadEventInvokeConfigs(entries); err != nil { // eventinvoke.go
		return fmt.Errorf("load event invoke configs: %w", err)
	}
	if err := s.loadFunctionURLConfigs(entries); err != nil { // functionurl.go
		return fmt.Errorf("load function URL configs: %w", err)
	}
	if err := s.loadEventSourceMappings(entries); err != nil { // eventsource.go
		return fmt.Errorf("load event source mappings: %w", err)
	}
	if err := s.loadLayers(entries); err != nil { // layer.go
		return fmt.Errorf("load layers: %w", err)
	}
	s.log.Info("loaded configuration", "capacityProviders", len(s.cps), "functions", len(s.fns))
	return nil
}

// Changed is signalled after every change that may need EEs started or stopped.
func (s *Service) Changed() <-chan struct{} { return s.changed }

func (s *Service) notify() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// RuntimeVersionARN names the runtime version a function runs, in AWS's
// shape (arn:aws:lambda:REGION::runtime:ID). Paddock has one version of
// each runtime, so the ID is a digest of the runtime's name.
func (s *Service) RuntimeVersionARN(runtime string) string {
	sum := sha256.Sum256([]byte("paddock:" + runtime))
	return "arn:aws:lambda:" + s.region + "::runtime:" + hex.EncodeToString(sum[:])
}

// Region and Account name where this Paddock runs, for ARNs.
func (s *Service) Region() string  { return s.region }
func (s *Service) Account() string { return s.account }

// FunctionARN returns the ARN of a function, qualified when qualifier is set.
func (s *Service) FunctionARN(name, qualifier string) string {
	arn := "arn:aws:lambda:" + s.region + ":" + s.account + ":function:" + name
	if qualifier != "" {
		arn += ":" + qualifier
	}
	return arn
}

func (s *Service) capacityProviderARN(name string) string {
	return "arn:aws:lambda:" + s.region + ":" + s.account + ":capacity-provider:" + name
}

// Persistence keys.
func cpKey(name string) string           { return "cp." + name }
func fnKey(name string) string           { return "fn." + name }
func verKey(name string, n int) string   { return "ver." + name + "." + strconv.Itoa(n) }
func aliasKey(name, alias string) string { return "alias." + name + "." + alias }

func (s *Service) put(ctx context.Context, key string, v any) error {
	if _, err := s.store.Config.Put(ctx, key, v); err != nil {
		s.log.Error("store write failed", "key", key, "err", err)
		return awserr.Service("could not store %s: %v", key, err)
	}
	return nil
}

func (s *Service) del(ctx context.Context, key string) error {
	if err := s.store.Config.Delete(ctx, key); err != nil {
		s.log.Error("store delete failed", "key", key, "err", err)
		return awserr.Service("could not delete %s: %v", key, err)
	}
	return nil
}

func now() time.Time { return time.Now().UTC() }

// Route is what the invoke path needs to know about one invocable version.
type Route struct {
	FunctionName string
	Version      string // the version that runs: a number, or $LATEST in default mode
	Key          string // router key of the version's EEs
	ARN          string // unqualified function ARN
	Timeout      time.Duration
	State        string
	ReasonCode   string
	Reason       string
	// OnDemand is Lambda's default mode: EEs start per request.
	OnDemand bool
	// Config is the version's configuration (immutable), to start EEs from.
	Config *Config
	// Reserved is the function's reserved concurrency; -1 when none.
	Reserved int
	// Overflow: an LMI function whose throttles spill to on-demand EEs
	// (tag paddock:overflow=on-demand).
	Overflow bool
}

// RouterKey names a version's EEs in the router.
func RouterKey(function string, version int) string {
	return function + ":" + strconv.Itoa(version)
}

type fnRoutes struct {
	lmi             bool
	latest          *Route // default mode's $LATEST
	latestState     string
	latestPublished int
	versions        map[int]*Route
	aliases         map[string]aliasRoute
}

type aliasRoute struct {
	version int
	weights []weightedVersion // additional versions with their weights
}

type weightedVersion struct {
	version int
	weight  float64
}

// publishRoutes rebuilds the invoke snapshot. Called under s.mu (or before
// the service is shared).
func (s *Service) publishRoutes() {
	m := make(map[string]*fnRoutes, len(s.fns))
	for name, f := range s.fns {
		r := &fnRoutes{
			lmi: f.fn.Latest.LMI != nil, latestState: f.fn.Latest.State,
			latestPublished: f.fn.LatestPublished,
			versions:        make(map[int]*Route, len(f.versions)),
			aliases:         make(map[string]aliasRoute, len(f.aliases)),
		}
		reserved := -1
		if f.fn.Reserved != nil {
			reserved = *f.fn.Reserved
		}
		overflow := f.fn.Tags[OverflowTag] == "on-demand"
		route := func(version string, c *Config) *Route {
			return &Route{
				FunctionName: name, Version: version, Key: name + ":" + version,
				ARN: s.FunctionARN(name, ""), Timeout: time.Duration(c.Timeout) * time.Second,
				State: c.State, ReasonCode: c.StateReasonCode, Reason: c.StateReason,
				OnDemand: c.LMI == nil, Config: c, Reserved: reserved, Overflow: overflow && c.LMI != nil,
			}
		}
		for n, v := range f.versions {
			c := v.Config
			r.versions[n] = route(strconv.Itoa(n), &c)
		}
		if !r.lmi {
			c := f.fn.Latest
			r.latest = route(Latest, &c)
			// $LATEST changes in place: key its warm EEs by revision so
			// new code or configuration never runs on old EEs.
			r.latest.Key = name + ":" + Latest + "@" + c.RevisionID
		}
		for an, a := range f.aliases {
			ar := aliasRoute{version: s.aliasTarget(f, a.Version)}
			for ver, w := range a.Weights {
				n, _ := strconv.Atoi(ver)
				ar.weights = append(ar.weights, weightedVersion{n, w})
			}
			r.aliases[an] = ar
		}
		m[name] = r
	}
	s.routes.Store(&m)
	s.unreserved.Store(int64(s.accountLimit - s.reservedTotal("")))
	s.publishAsyncSettings() // eventinvoke.go
	s.publishFunctionURLs()  // functionurl.go
}

// UnreservedConcurrency is what the functions without a reservation share.
func (s *Service) UnreservedConcurrency() int { return int(s.unreserved.Load()) }

// aliasTarget resolves an alias's FunctionVersion ($LATEST.PUBLISHED follows
// the latest publish).
func (s *Service) aliasTarget(f *fnState, version string) int {
	if version == LatestPublished {
		return f.fn.LatestPublished
	}
	n, _ := strconv.Atoi(version)
	return n
}

// Resolve finds the version an invoke of name (with qualifier) runs. It
// reads the immutable snapshot only: no lock, no store.
func (s *Service) Resolve(name, qualifier string) (*Route, error) {
	f := (*s.routes.Load())[name]
	if f == nil {
		return nil, awserr.NotFound("Function not found: %s", s.FunctionARN(name, qualifier))
	}
	var n int
	switch {
	case !f.lmi && (qualifier == "" || qualifier == Latest):
		return f.latest, nil
	case qualifier == "" || qualifier == LatestPublished:
		if f.latestPublished == 0 {
			return nil, awserr.NoPublishedVersion("The function %s has no published version. Publish a version before invoking a function that uses a capacity provider.", name)
		}
		n = f.latestPublished
	case qualifier == Latest:
		return nil, conflictState(StateActiveNonInvocable)
	case isVersion(qualifier):
		n, _ = strconv.Atoi(qualifier)
	default:
		a, ok := f.aliases[qualifier]
		if !ok {
			return nil, awserr.NotFound("Function not found: %s", s.FunctionARN(name, qualifier))
		}
		n = a.version
		if len(a.weights) > 0 {
			x := rand.Float64()
			for _, w := range a.weights {
				if x < w.weight {
					n = w.version
					break
				}
				x -= w.weight
			}
		}
	}
	r := f.versions[n]
	if r == nil {
		return nil, awserr.NotFound("Function not found: %s", s.FunctionARN(name, qualifier))
	}
	if r.State != StateActive {
		return r, conflictState(r.State)
	}
	return r, nil
}
